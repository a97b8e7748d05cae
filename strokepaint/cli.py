"""The `strokepaint` command: a thin Typer layer over the library. Heavy imports (torch) happen
inside commands, so `strokepaint --help` stays fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from strokepaint import __version__
from strokepaint.errors import StrokepaintError, UsageError

app = typer.Typer(
    name="strokepaint",
    help="Turn pictures into paintings made of brush strokes, and get the strokes back as data and vector art.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


def _err(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {message}", markup=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"strokepaint {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug


def _warn_problems() -> None:
    from strokepaint.plugins import registry

    for problem in registry().problems:
        _err_console().print(f"[yellow]warning:[/] {problem}", markup=True)


def _err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@app.command()
def brushes(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List installed brushes: parameters, providing package, trained renderer and agent."""
    import json

    from strokepaint import store
    from strokepaint.plugins import registry

    reg = registry()
    rows = []
    for name, brush in reg.brushes.items():
        found = {kind: store.find(name, kind) for kind in store.KINDS}
        rows.append(
            {
                "name": name,
                "version": brush.version,
                "package": reg.packages[name],
                "description": brush.description,
                "params": [p.name for p in brush.params],
                "renderer": str(found["renderer"][0]) if found["renderer"] else None,
                "agent": str(found["agent"][0]) if found["agent"] else None,
                "renderer_source": found["renderer"][1] if found["renderer"] else None,
                "agent_source": found["agent"][1] if found["agent"] else None,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        _warn_problems()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="strokepaint brushes")
    for col in ("brush", "version", "package", "parameters", "renderer", "agent"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["version"],
            r["package"],
            " ".join(r["params"]),
            r["renderer_source"] or "[dim]none[/]",
            r["agent_source"] or "[dim]none[/]",
        )
    console = Console()
    console.print(table)
    for problem in reg.problems:
        console.print(f"[yellow]problem:[/] {problem}")


@app.command()
def export(
    strokes: Annotated[Path, typer.Argument(help="Stroke file (JSON) written by `strokepaint paint`.", show_default=False)],
    svg: Annotated[Path | None, typer.Option("--svg", help="Write an SVG here.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a PNG here (rendered from the SVG by cairosvg).")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write a PDF here (rendered from the SVG by cairosvg).")] = None,
    scale: Annotated[float | None, typer.Option("--scale", help="Output size as a multiple of the painting's size.")] = None,
    width: Annotated[int | None, typer.Option("--width", help="Output width in pixels (height keeps the aspect ratio).")] = None,
) -> None:
    """Turn a stroke file into SVG, PNG or PDF at any size."""
    from strokepaint import export as ex
    from strokepaint import strokefile
    from strokepaint.fsutil import atomic_write, check_output

    if not (svg or png or pdf):
        raise UsageError("nothing to write: give --svg, --png and/or --pdf")
    if scale is not None and width is not None:
        raise UsageError("give --scale or --width, not both")
    if scale is not None and not 0 < scale <= 64:
        raise UsageError(f"--scale {scale}: must be above 0 and at most 64")
    if width is not None and not 1 <= width <= 65536:
        raise UsageError(f"--width {width}: must be from 1 to 65536")
    for out in (svg, png, pdf):
        if out is not None:
            check_output(out, strokes)
    _warn_problems()
    sf = strokefile.load(strokes)
    w, h, s = ex.output_size(sf, scale, width)
    if w * h > 400_000_000:
        raise UsageError(f"output of {w}x{h} pixels is too large; lower --scale or --width")
    doc = ex.to_svg(sf, s)
    written = []
    if svg:
        written.append(atomic_write(svg, doc))
    if png:
        written.append(atomic_write(png, ex.svg_to_png(doc, w, h)))
    if pdf:
        written.append(atomic_write(pdf, ex.svg_to_pdf(doc)))
    for path in written:
        _err_console().print(f"wrote {path}")


def main() -> None:
    """Entry point: click reports its own usage errors (exit 2); ours are one line on stderr."""
    try:
        app()
    except StrokepaintError as e:
        if _state["debug"]:
            raise
        _err(str(e))
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - anything unexpected: one line unless --debug
        if _state["debug"]:
            raise
        _err(f"{type(e).__name__}: {e} (run with --debug for the traceback)")
        sys.exit(1)
