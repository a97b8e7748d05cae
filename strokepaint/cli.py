"""The `strokepaint` command: a thin Typer layer over the library. Heavy imports (torch) happen
inside commands, so `strokepaint --help` stays fast."""

from __future__ import annotations

import os
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
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", markup=True)


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
    from rich.markup import escape

    from strokepaint.plugins import registry

    for problem in registry().problems:
        _err_console().print(f"[yellow]warning:[/] {escape(problem)}", markup=True)


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
    from rich.markup import escape
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
        console.print(f"[yellow]problem:[/] {escape(problem)}")


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


def _setup(device: str, threads: int | None = None):
    """Heavy commands: torch threads, allocator, device."""
    import torch

    from strokepaint import runtime

    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads {threads}: must be at least 1")
        torch.set_num_threads(threads)
    return runtime.device(device)


DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA if present, else CPU), cpu or cuda.")]


@app.command("train-brush")
def train_brush(
    name: Annotated[str, typer.Argument(help="Brush to train a neural renderer for (see `strokepaint brushes`).", show_default=False)],
    minutes: Annotated[float | None, typer.Option("--minutes", help="Training time budget (default 60).")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Train this many steps instead of a time budget (reproducible).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the renderer (default: your strokepaint data folder).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint next to --out.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed and --steps give the same weights.")] = 0,
    device: DeviceOpt = "auto",
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads (default: all cores).")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Advanced: override a model or training setting, key=value.")] = None,
) -> None:
    """Train a brush's neural renderer on its exact rasterizer (any registered brush)."""
    import json
    from dataclasses import fields

    from strokepaint import store
    from strokepaint.fsutil import atomic_write
    from strokepaint.plugins import get_brush

    if minutes is not None and steps is not None:
        raise UsageError("give --minutes or --steps, not both")
    if minutes is not None and not minutes > 0:
        raise UsageError(f"--minutes {minutes}: must be above 0")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps {steps}: must be at least 1")
    if minutes is None and steps is None:
        minutes = 60.0
    brush = get_brush(name)
    _warn_problems()
    dev = _setup(device, threads)
    from strokepaint.renderer import RendererConfig
    from strokepaint.train_renderer import TrainConfig, apply_overrides, checkpoint_path, train

    model_cfg, train_cfg = RendererConfig(**brush.renderer_overrides), TrainConfig()
    model_keys = {f.name for f in fields(RendererConfig)}
    sets = overrides or []
    try:
        apply_overrides(model_cfg, [kv for kv in sets if kv.partition("=")[0] in model_keys])
    except (TypeError, ValueError) as e:
        raise UsageError(f"--set: {e}") from None
    apply_overrides(train_cfg, [kv for kv in sets if kv.partition("=")[0] not in model_keys])
    out = Path(out) if out else store.user_dir() / store.filename(brush.name, "renderer")
    atomic_write(out.with_name(out.name + ".probe"), b"")  # fail now, not after an hour, if unwritable
    out.with_name(out.name + ".probe").unlink()
    rank0 = int(os.environ.get("RANK", "0")) == 0
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [
        TextColumn(f"[bold]{brush.name}[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    console = _err_console()
    with Progress(*columns, console=console, disable=not rank0, transient=False) as bar:
        task = bar.add_task("train", total=steps, stats="rasterizing the first strokes")
        logged = {"step": 0}

        def progress(step: int, total: int | None, info: dict) -> None:
            stats = f"loss {info['loss']:.5f}"
            if "rel_l2" in info:
                stats += f"  val rel_l2 {info['rel_l2']:.4f}"
            bar.update(task, completed=step, total=total, stats=stats)
            if not console.is_terminal and rank0 and step - logged["step"] >= train_cfg.val_every:
                console.print(f"step {step}/{total or '?'}  {stats}", highlight=False)  # a log line when not on a terminal
                logged["step"] = step

        try:
            meta = train(
                brush,
                out,
                steps=steps,
                minutes=minutes,
                seed=seed,
                resume=resume,
                model_cfg=model_cfg,
                train_cfg=train_cfg,
                device=dev,
                progress=progress,
            )
        except KeyboardInterrupt:
            if rank0:
                _err(f"interrupted; checkpoint saved at {checkpoint_path(out)}: continue with --resume")
            sys.exit(130)
    if rank0 and meta:
        fid = json.loads(meta["fidelity"])
        _err_console().print(
            f"wrote {out}: rel_l2 {fid['rel_l2']:.4f}, mse {fid['mse']:.6f} on 2,000 strokes, "
            f"{meta['steps']} steps in {float(meta['train_seconds']) / 60:.1f} min"
        )


@app.command("eval-brush")
def eval_brush(
    name: Annotated[str, typer.Argument(help="Brush whose renderer to measure.", show_default=False)],
    renderer: Annotated[Path | None, typer.Option("--renderer", help="Renderer weights to use instead of the one found.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    strokes: Annotated[int, typer.Option("--strokes", help="Size of the fixed stroke set.")] = 2000,
    device: DeviceOpt = "auto",
) -> None:
    """Fidelity of a brush's neural renderer against its rasterizer, and its speed."""
    import json

    from strokepaint.plugins import get_brush

    if not 1 <= strokes <= 100_000:
        raise UsageError(f"--strokes {strokes}: must be from 1 to 100000")
    brush = get_brush(name)
    dev = _setup(device)
    from strokepaint import renderer as rnd
    from strokepaint.train_renderer import eval_set, fidelity, throughput

    model, meta, where = rnd.load(brush, renderer)
    model = model.to(dev)
    g, maps = eval_set(brush, model.cfg.canvas, strokes)
    fid = fidelity(model, g.to(dev), maps.to(dev))
    speed = throughput(model, g.to(dev))
    result = {
        "brush": name,
        "strokes": strokes,
        "mse": fid["mse"],
        "rel_l2": fid["rel_l2"],
        "strokes_per_s": round(speed, 1),
        "renderer": str(rnd.store.find(name, "renderer", renderer)[0]),
        "source": where,
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    from rich.console import Console

    Console().print(
        f"[bold]{name}[/] renderer ({where}): rel_l2 {fid['rel_l2']:.4f}, mse {fid['mse']:.6f} "
        f"over {strokes} strokes at {model.cfg.canvas}x{model.cfg.canvas}; {speed:,.0f} strokes/s at batch 64"
    )


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
