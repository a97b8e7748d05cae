"""The `strokepaint` command: a thin Typer layer over the library. Heavy imports (torch) happen
inside commands, so `strokepaint --help` stays fast."""

from __future__ import annotations

import contextlib
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
    from rich.markup import escape

    _err_console().print(f"[bold red]error:[/] {escape(message)}", markup=True)


def _interrupted(started: float, ckpt: Path, out: Path | None = None, what: str = "") -> None:
    """The message of a training run stopped by Ctrl-C or SIGTERM: what it wrote, if anything."""
    wrote = [f"{p}{what if p == out else ''}" for p in (out, ckpt) if p is not None and p.is_file() and p.stat().st_mtime >= started]
    if out is not None and len(wrote) == 1:
        _err(f"interrupted before the first update; wrote {ckpt} (nothing else): continue with --resume")
    elif wrote:
        _err(f"interrupted; wrote {' and '.join(wrote)}: continue with --resume")
    else:
        _err("interrupted before training began; nothing written")


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
    rows, refused = [], []
    for name, brush in reg.brushes.items():
        found = {kind: store.find(name, kind) for kind in store.KINDS}
        unusable = {kind: store.problem(f[0], brush, kind) for kind, f in found.items() if f}
        refused += [f"{name}'s {kind} is refused (painting with it stops with this error): {why}" for kind, why in unusable.items() if why]
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
                "renderer_problem": unusable.get("renderer"),
                "agent_problem": unusable.get("agent"),
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
        wraps = col == "parameters"  # (the names whole; the parameters wrap, never to nothing)
        table.add_column(col, no_wrap=not wraps, min_width=16 if wraps else None)
    for r in rows:
        table.add_row(
            r["name"],
            r["version"],
            r["package"],
            " ".join(r["params"]),
            *("[red]refused[/]" if r[k + "_problem"] else r[k + "_source"] or "[dim]none[/]" for k in store.KINDS),
        )
    console = Console()
    console.print(table)
    for problem in refused + reg.problems:
        console.print(f"[yellow]problem:[/] {escape(problem)}", soft_wrap=True)  # one line each, as warnings are


@app.command()
def export(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILES",
            help="The stroke file written by `strokepaint paint` (default: the newest *.strokes.json in this folder) "
            "and where to write: OUT.svg, OUT.png, OUT.pdf (the format from the name's ending).",
            show_default=False,
        ),
    ] = None,
    svg: Annotated[bool, typer.Option("--svg", help="Write an SVG (beside the stroke file unless an OUT.svg is named).")] = False,
    png: Annotated[
        bool, typer.Option("--png", help="Write a PNG, rendered from the SVG by cairosvg (beside it as NAME.WxH.png unless named).")
    ] = False,
    pdf: Annotated[bool, typer.Option("--pdf", help="Write a PDF, rendered from the SVG by cairosvg (beside it unless named).")] = False,
    scale: Annotated[float | None, typer.Option("--scale", help="Output size as a multiple of the painting's size.")] = None,
    width: Annotated[int | None, typer.Option("--width", help="Output width in pixels (height keeps the aspect ratio).")] = None,
) -> None:
    """Turn a stroke file into SVG, PNG or PDF at any size (SVG if no format is given)."""
    from strokepaint import export as ex
    from strokepaint import strokefile
    from strokepaint.fsutil import atomic_write, check_outputs

    if scale is not None and width is not None:
        raise UsageError("give --scale or --width, not both")
    if scale is not None and (problem := ex.scale_problem(scale)):
        raise UsageError(f"--scale {scale}: {problem}")
    if width is not None and not 1 <= width <= strokefile.MAX_SIDE:
        raise UsageError(f"--width {width}: must be from 1 to {strokefile.MAX_SIDE}")
    outputs = [f for f in files or [] if f.suffix.lower() in ex.FORMATS]
    inputs = [f for f in files or [] if f.suffix.lower() not in ex.FORMATS]
    for f in inputs:
        if f.suffix.lower() != ".json" and not f.exists():
            raise UsageError(f"{f}: export writes .svg, .png or .pdf; a stroke file is the .json that paint wrote")
    if len(inputs) > 1:
        raise UsageError(f"one stroke file at a time, not {len(inputs)} ({', '.join(map(str, inputs))}); outputs end in .svg, .png or .pdf")
    if outputs and not inputs:  # (`export photo.png` must not paint over a picture with the newest stroke file)
        raise UsageError(f"{outputs[0]}: an output, and no stroke file named; name it first: strokepaint export STROKES.json {outputs[0]}")
    strokes = inputs[0] if inputs else _newest_stroke_file()  # never one of the outputs: they end in .svg, .png or .pdf
    _warn_problems()
    sf = strokefile.load(strokes)
    w, h, s = ex.output_size(sf, scale, width)
    asked = {".svg": svg, ".png": png, ".pdf": pdf}
    if not (outputs or any(asked.values())):
        asked[".svg"] = True
    for suffix, flag in asked.items():
        if flag and not any(o.suffix.lower() == suffix for o in outputs):
            outputs.append(ex.beside(strokes, suffix, w, h))
    if w * h > ex.MAX_PNG_PIXELS and any(o.suffix.lower() == ".png" for o in outputs):  # (SVG and PDF stay vectors)
        raise UsageError(f"a PNG of {w}x{h} pixels is too large; lower --scale or --width")
    check_outputs(outputs)  # all of them before any is written
    doc = ex.to_svg(sf, s)
    content = {".svg": lambda: doc, ".png": lambda: ex.svg_to_png(doc, w, h), ".pdf": lambda: ex.svg_to_pdf(doc)}
    blobs = [(out, content[out.suffix.lower()]()) for out in outputs]  # every one made before the first is written
    written = [atomic_write(out, blob) for out, blob in blobs]
    for path in written:
        _err_console().print(f"wrote {path}")


def _newest_stroke_file() -> Path:
    """The stroke file `export` takes when none is named: the newest *.strokes.json here."""
    from strokepaint.strokefile import SUFFIX

    found = [p for p in Path.cwd().glob(f"*{SUFFIX}") if p.is_file()]
    if not found:
        raise UsageError(
            "no stroke file named and no *.strokes.json in this folder: name one, e.g. strokepaint export photo.painted.strokes.json --svg"
        )
    newest = max(found, key=lambda p: p.stat().st_mtime)
    _err_console().print(f"exporting {newest.name} (the newest stroke file in this folder)")
    return Path(newest.name)


def _setup(device: str, threads: int | None = None):
    """Heavy commands: torch threads, allocator, device."""
    import torch

    from strokepaint import runtime

    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads {threads}: must be at least 1")
        torch.set_num_threads(threads)
    return runtime.device(device)


def _warn_ignored_on_resume(ctx: typer.Context, resume: bool, names: tuple[str, ...]) -> None:
    """With --resume the saved run's settings win: say which options given on the command line
    are ignored."""
    if not resume:
        return
    given = [
        max(p.opts, key=len)
        for p in ctx.command.params
        if p.name in names and (src := ctx.get_parameter_source(p.name)) is not None and src.name == "COMMANDLINE"
    ]
    if given:
        _err_console().print(
            f"[yellow]warning:[/] {', '.join(given)} {'is' if len(given) == 1 else 'are'} ignored with --resume: "
            "the run goes on with its saved settings",
            markup=True,
            highlight=False,
        )


def _weights_out(out: Path | None, brush: str, kind: str, reads: dict[str, Path | None] | None = None) -> Path:
    """Where train-brush / train-agent write: a .safetensors file (default: the user's data
    folder), checked now rather than after an hour of training: its folder writable, not a folder
    itself, not a file the run reads (`reads`: option -> path), not a file that holds anything
    but weights of this kind for this brush (a previous run's are replaced), and not among the
    weights shipped with strokepaint."""
    from strokepaint import store
    from strokepaint.fsutil import check_outputs, named

    out = named(out, ".safetensors") if out is not None else store.user_dir() / store.filename(brush, kind)
    check_outputs([out])  # not a folder, and its folder writable
    if out.resolve().parent == store.shipped_dir().resolve():
        raise UsageError(
            f"--out {out}: the weights shipped with strokepaint are not replaced; train into another file "
            f"(without --out: {store.user_dir()}, which paint reads first)"
        )
    if out.is_file():
        for option, path in (reads or {}).items():
            if path is not None and path.is_file() and out.samefile(path):
                raise UsageError(f"--out {out}: is also the {option} this run reads; give another name")
        meta = store.metadata_of(out)
        held = None if meta is None else str(meta.get("kind", "unknown"))
        if held != kind:
            what = f"{held} weights" if held in store.KINDS else "something other than weights"
            raise UsageError(f"--out {out}: holds {what}, not {kind} weights; give another name (or delete it)")
        other = meta.get("brush")
        if other is not None and other != brush:
            raise UsageError(f"--out {out}: holds the {other} brush's {kind}, not {brush}'s; give another name (or delete it)")
    return out


DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA if present, else CPU), cpu or cuda.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="CPU threads (default: all cores).")]


def _check_budget(minutes: float | None, count: int | None, flag: str) -> None:
    """A training run's budget: --minutes above 0 or a count (--steps/--updates) of at least 1, not both."""
    if minutes is not None and count is not None:
        raise UsageError(f"give --minutes or {flag}, not both")
    if minutes is not None and not minutes > 0:
        raise UsageError(f"--minutes {minutes}: must be above 0")
    if count is not None and count < 1:
        raise UsageError(f"{flag} {count}: must be at least 1")


PaintRendererOpt = Annotated[
    Path | None, typer.Option("--renderer", help="Renderer weights to paint through (default: the brush's, `strokepaint brushes`).")
]
PaintAgentOpt = Annotated[Path | None, typer.Option("--agent", help="Agent weights to paint with (default: the brush's).")]


def _tools(brush: str, dev, method: str, renderer: Path | None, agent: Path | None):
    """The brush, its renderer and agent for paint and eval (`--renderer`, `--agent` or the ones in use)."""
    from strokepaint import engine

    if agent is not None and method == "optimize":
        raise UsageError("--agent with --method optimize: the optimisation lays the strokes, no agent is used")
    return engine.Tools.load(brush, str(dev), renderer_path=renderer, agent_path=agent, use_agent=method != "optimize")


def _apply_sets(obj, pairs: list[str], also: set[str] = frozenset()):
    """`key=value` strings onto a dataclass (values parsed as JSON, else kept as strings), each of
    the type of the setting it replaces and not negative where that is not; then the config's own
    checks (`__post_init__`). Any problem is a one-line UsageError naming the setting; an unknown
    key's lists the valid ones (this config's and `also`, the other config's of the command)."""
    from dataclasses import fields

    from strokepaint.runtime import recheck

    names = {f.name for f in fields(obj)}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in names:
            raise UsageError(f"--set {pair}: expected key=value with key one of {', '.join(sorted(names | set(also)))}")
        setattr(obj, key, _typed(key, value, getattr(obj, key)))
    recheck(obj, "--set")  # the config's own checks: a one-line error
    return obj


def _typed(key: str, value: str, current):
    """One `--set key=value`'s value as the type of the setting's current value."""
    import json
    import math

    if isinstance(current, str):
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    want = "true or false" if isinstance(current, bool) else "a whole number" if isinstance(current, int) else "a number"
    if isinstance(current, tuple):
        if not isinstance(parsed, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in parsed):
            raise UsageError(f"--set {key}={value}: {key} takes a list of whole numbers above 0, e.g. {key}={json.dumps(list(current))}")
        return tuple(parsed)
    ok = (
        isinstance(parsed, bool)
        if isinstance(current, bool)
        else isinstance(parsed, int) and not isinstance(parsed, bool)
        if isinstance(current, int)
        else isinstance(parsed, (int, float)) and not isinstance(parsed, bool) and math.isfinite(parsed)
    )
    if not ok:
        raise UsageError(f"--set {key}={value}: {key} takes {want} (now {json.dumps(current)})")
    if not isinstance(current, bool) and parsed < 0 <= current:
        raise UsageError(f"--set {key}={value}: {key} cannot be negative")
    return parsed if isinstance(current, (bool, int)) else float(parsed)


@app.command("train-brush")
def train_brush(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Brush to train a neural renderer for (see `strokepaint brushes`).", show_default=False)
    ],
    minutes: Annotated[float | None, typer.Option("--minutes", help="Training time budget (default 60).")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Train this many steps instead of a time budget (reproducible).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the renderer (default: your strokepaint data folder).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint next to --out.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed and --steps give the same weights.")] = 0,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Advanced: override a model or training setting, key=value.")] = None,
) -> None:
    """Train a brush's neural renderer on its exact rasterizer (any registered brush)."""
    import json
    import time
    from dataclasses import fields

    from strokepaint.plugins import get_brush

    _check_budget(minutes, steps, "--steps")
    _warn_ignored_on_resume(ctx, resume, ("seed", "overrides"))
    if minutes is None and steps is None and not resume:  # (resumed: the saved run's budget)
        minutes = 60.0
    brush = get_brush(name)
    _warn_problems()
    dev = _setup(device, threads)
    from strokepaint.renderer import RendererConfig
    from strokepaint.store import checkpoint_path
    from strokepaint.train_renderer import TrainConfig, check_memory, train

    model_cfg, train_cfg = RendererConfig(**brush.renderer_overrides), TrainConfig()
    model_keys = {f.name for f in fields(RendererConfig)}
    sets = overrides or []
    _apply_sets(model_cfg, [kv for kv in sets if kv.partition("=")[0] in model_keys])
    _apply_sets(train_cfg, [kv for kv in sets if kv.partition("=")[0] not in model_keys], also=model_keys)
    check_memory(model_cfg, train_cfg)  # (train does too; here before the progress bar)
    out = _weights_out(out, brush.name, "renderer")
    rank0 = int(os.environ.get("RANK", "0")) == 0
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [
        TextColumn(f"[bold]{brush.name}[/]"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    console = _err_console()
    # the bar starts when training does (train's first call, once its checks are done): an error before is one line
    bar = Progress(*columns, console=console, disable=not rank0, transient=False)
    with contextlib.ExitStack() as stack:
        task = bar.add_task("train", total=steps, stats="", count="")
        logged = {"step": 0}

        def progress(step: int, total: int | None, info: dict) -> None:
            if not bar.live.is_started:
                stack.enter_context(bar)
            stats = "rasterizing the first strokes" if "loss" not in info else f"loss {info['loss']:.5f}"
            if "rel_l2" in info:
                stats += f"  val rel_l2 {info['rel_l2']:.4f}"
            bar.update(task, completed=step, total=total, stats=stats, count=f"{step}/{total} steps" if total else f"{step} steps")
            if not console.is_terminal and rank0 and step - logged["step"] >= train_cfg.val_every:
                console.print(f"step {step}/{total or '?'}  {stats}", highlight=False)  # a log line when not on a terminal
                logged["step"] = step

        started = time.time()
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
                _interrupted(started, checkpoint_path(out))
            sys.exit(130)
    if rank0 and meta:
        fid = json.loads(meta["fidelity"])
        _err_console().print(
            f"wrote {out}: rel_l2 {fid['rel_l2']:.4f}, mse {fid['mse']:.6f} on {fid.get('strokes', train_cfg.eval_strokes):,} strokes, "
            f"{meta['steps']} steps in {float(meta['train_seconds']) / 60:.1f} min"
        )
        _now_in_use(out, brush, "renderer")


def _now_in_use(out: Path, brush, kind: str, data: Path | None = None) -> None:
    """After training into the user's data folder: say that paint now uses these weights instead
    of the shipped ones, and warn if they measure worse: a renderer by its fidelity (rel_l2, as
    measured after training), an agent by painting up to 8 photos of `data` at 128x128 with 200
    strokes, alone, as `strokepaint eval` does."""
    from strokepaint import store

    if out.resolve() != (store.user_dir() / store.filename(brush.name, kind)).resolve():
        return
    shipped = store.shipped_dir() / store.filename(brush.name, kind)
    note = f"`strokepaint paint --brush {brush.name}` now uses it"
    worse = None
    if shipped.is_file():
        note += f" instead of the shipped {kind} (delete {out} to go back)"
        worse = _worse_renderer(out, shipped) if kind == "renderer" else _worse_agent(out, shipped, brush, data)
    if worse:
        _err_console().print(f"[yellow]warning:[/] {worse}; {note}", markup=True, highlight=False)
    else:
        _err_console().print(note, highlight=False)


def _worse_renderer(out: Path, shipped: Path) -> str | None:
    import json

    from strokepaint import store

    ours, theirs = (json.loads(store.load_weights(p, "renderer")[1].get("fidelity", "{}")).get("rel_l2") for p in (out, shipped))
    if ours is not None and theirs is not None and ours > theirs:
        return f"it renders less faithfully than the shipped renderer (rel_l2 {ours:.4f} against {theirs:.4f})"
    return None


def _worse_agent(out: Path, shipped: Path, brush, data: Path | None) -> str | None:
    from strokepaint import engine, images

    pictures = []
    for f in images.find(data) if data is not None else []:
        try:
            pictures.append(images.to_tensor(images.eval_picture(f)))
        except UsageError:
            continue
        if len(pictures) == 8:
            break
    if not pictures:
        return None
    mse = []
    for path in (out, shipped):  # the agent alone, as `strokepaint eval --method agent --refine 0 --no-colour-fit`
        tools = engine.Tools.load(brush.name, "cpu", agent_path=path)
        alone = [engine.measure(p, 200, tools, method="agent", refine=0, fit_colours=False)[0] for p in pictures]
        mse.append(sum(alone) / len(alone))
    if mse[0] > mse[1]:
        where = f"{len(pictures)} of the photos at {images.EVAL_SIDE} px, 200 strokes"
        return f"it paints worse than the shipped agent (MSE {mse[0]:.5f} against {mse[1]:.5f} on {where})"
    return None


@app.command("train-agent")
def train_agent(
    ctx: typer.Context,
    brush_name: Annotated[str, typer.Option("--brush", help="Brush to train a painting agent for.")] = "bezier",
    data: Annotated[Path | None, typer.Option("--data", help="Folder of training photos (searched recursively).")] = None,
    strokes: Annotated[int, typer.Option("--strokes", help="Strokes per training episode (actions x bundle of 5).")] = 50,
    minutes: Annotated[float | None, typer.Option("--minutes", help="Training time budget of this run (default 60).")] = None,
    updates: Annotated[int | None, typer.Option("--updates", help="Train this many updates instead of minutes (reproducible).")] = None,
    reward: Annotated[str, typer.Option("--reward", help="wgan (the paper's), l2 (its ablation) or log (relative error drop).")] = "log",
    colours: Annotated[
        str, typer.Option("--colours", help="fit (each stroke's best colour where it lands) or actor (the actor's own, the paper's).")
    ] = "fit",
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the agent (default: your strokepaint data folder).")] = None,
    renderer: Annotated[Path | None, typer.Option("--renderer", help="Renderer weights to train through (default: the brush's).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint next to --out.")] = False,
    init: Annotated[
        Path | None,
        typer.Option("--init", help="Start the actor from this agent's weights (critic and discriminator start afresh)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Advanced: override an agent/training setting, key=value.")] = None,
) -> None:
    """Train a painting agent (model-based DDPG through the brush's neural renderer) on photos."""
    import time
    from dataclasses import fields

    from strokepaint import store
    from strokepaint.plugins import get_brush

    if data is None:
        raise UsageError("--data: give a folder of training photos (see README: Training data)")
    if not data.is_dir():
        raise UsageError(f"--data {data}: not a folder")
    _check_budget(minutes, updates, "--updates")
    if init is not None and resume:
        raise UsageError("give --init or --resume, not both: a resumed run continues from its checkpoint")
    if init is not None and not init.is_file():
        raise UsageError(f"--init {init}: {'is a folder, not an agent file' if init.is_dir() else 'no such agent file'}")
    from strokepaint.train_agent import REWARDS

    if reward not in REWARDS:
        raise UsageError(f"--reward {reward}: choose {', '.join(REWARDS)}")
    from strokepaint.agent import COLOURS

    if colours not in COLOURS:
        raise UsageError(f"--colours {colours}: choose {' or '.join(COLOURS)}")
    _warn_ignored_on_resume(ctx, resume, ("strokes", "reward", "colours", "seed", "overrides"))
    if minutes is None and updates is None:
        minutes = 60.0
    brush = get_brush(brush_name)
    _warn_problems()
    dev = _setup(device, threads)
    from strokepaint import renderer as rnd
    from strokepaint.agent import AgentConfig
    from strokepaint.train_agent import FROM_INIT, AgentTraining, check_memory, train

    sets = overrides or []
    agent_keys = {f.name for f in fields(AgentConfig)} - {"params", "roles"}  # (those two come from the brush)
    agent_sets = [kv for kv in sets if kv.partition("=")[0] in agent_keys]
    if any(kv.partition("=")[0] == "steps" for kv in agent_sets):
        raise UsageError("--set steps: give the episode's length with --strokes (steps = strokes / bundle)")
    network = [kv for kv in agent_sets if kv.partition("=")[0] in FROM_INIT]
    if init is not None and network:
        _err_console().print(
            f"[yellow]warning:[/] --set {' '.join(network)} ignored with --init: the networks are the starting agent's",
            markup=True,
            highlight=False,
        )
    bundle = _apply_sets(AgentConfig(steps=max(1, strokes // AgentConfig.bundle)), agent_sets).bundle
    if strokes < bundle or strokes % bundle:
        raise UsageError(f"--strokes {strokes}: must be a positive multiple of the bundle size {bundle}")
    cfg = _apply_sets(AgentConfig(steps=strokes // bundle, colours=colours), agent_sets)  # tile settings follow the episode
    tc = _apply_sets(AgentTraining(reward=reward), [kv for kv in sets if kv.partition("=")[0] not in agent_keys], also=agent_keys)
    check_memory(cfg, tc)  # (train does too; here before loading anything)
    model, _, _ = rnd.load(brush, renderer)
    out = _weights_out(out, brush.name, "agent", {"--renderer": renderer, "--init": init})
    rank0 = int(os.environ.get("RANK", "0")) == 0
    from rich import markup
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = _err_console()
    columns = [
        TextColumn(f"[bold]{brush.name} agent[/]"),
        BarColumn(),
        TextColumn("{task.completed} updates"),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, disable=not rank0 or not console.is_terminal) as bar:
        task = bar.add_task("train", total=updates, stats="filling the replay buffer")
        logged = {"update": 0}

        def progress(done: int, total: int | None, info: dict) -> None:
            stats = f"reward {info.get('reward', 0):.4f}"
            if "val_mse" in info:
                stats += f"  val mse {info['val_mse']:.5f}"
                parts = [f"{k[4:]} {v:.5f}" for k, v in info.items() if k.startswith("val_") and k != "val_mse"]
                stats += f" ({', '.join(parts)})"
                bar.update(task, stats=stats)
            bar.update(task, completed=done, total=total)
            if not console.is_terminal and ("val_mse" in info or done - logged["update"] >= tc.validate_every):
                console.print(f"update {done}/{total or '?'}  {stats}", highlight=False)
                logged["update"] = done

        started = time.time()
        try:
            meta = train(
                brush,
                model,
                data,
                out,
                updates=updates,
                minutes=minutes,
                seed=seed,
                resume=resume,
                cfg=cfg,
                tc=tc,
                device=dev,
                progress=progress,
                init=init,
                warn=lambda line: console.print(f"[yellow]warning:[/] {markup.escape(line)}", markup=True, highlight=False),
            )
        except KeyboardInterrupt:
            if rank0:
                _interrupted(started, store.checkpoint_path(out), out, " (the best validated actor so far)")
                if out.is_file() and out.stat().st_mtime >= started:
                    from strokepaint.train_agent import write_log

                    write_log(out, store.load_weights(out, "agent")[1])
                    _now_in_use(out, brush, "agent", data)
            sys.exit(130)
    if rank0 and meta:
        from strokepaint.train_agent import write_log

        log, curve = write_log(out, meta)
        console.print(
            f"wrote {out}: the actor of update {meta['actor_update']}"
            f"{'' if meta['actor_source'] == 'actor' else ' (its ' + meta['actor_source'] + ')'}"
            f" (best validation mse {meta['val_mse']}) "
            f"after {meta['updates']} update{'' if meta['updates'] == '1' else 's'}, "
            f"{float(meta['train_seconds']) / 60:.1f} min of training{_init_minutes(meta)}; log {log}, learning curve {curve}"
        )
        _now_in_use(out, brush, "agent", data)


def _init_minutes(meta: dict[str, str]) -> str:
    """`train-agent --init`: the minutes its starting agents had trained, to add to this run's."""
    from strokepaint.train_agent import init_chain

    if "init" not in meta:
        return ""
    files, seconds = init_chain(meta)
    if not files:
        return " (started from another agent)"
    which = "the agent it started from" if len(files) == 1 else "the agents it started from"
    return f" (+ {seconds / 60:.1f} min of {which}: {' <- '.join(files)})"


PAINTED = ".painted.png"  # the name ending of paint's default output, beside its picture


def _inputs(paths: list[Path], skip: list[Path]) -> list[tuple[Path, Path]]:
    """Pictures named on the command line, folders expanded (recursively, sorted), each with its
    folder relative to the folder named (so --out-dir keeps the layout). Each picture once; inside
    a folder, earlier paintings (*.painted.png, a picture with its stroke file beside it, anything
    under the output folders `skip`) are left out."""
    from strokepaint import images
    from strokepaint.strokefile import SUFFIX

    out: dict[Path, tuple[Path, Path]] = {}
    skip = [d.resolve() for d in skip]
    left_out = 0
    for p in paths:
        if p.is_dir():
            found = images.find(p)
            if not found:
                raise UsageError(f"{p}: no images in this folder")
            top = p.resolve()
            # (an output folder that is the folder named, or holds it, hides nothing)
            inner = [d for d in skip if d != top and d.is_relative_to(top)]
            for f in found:
                painted = f.suffix.lower() == ".png" and f.with_name(f.stem + SUFFIX).is_file()  # (paint writes PNGs)
                if f.name.endswith(PAINTED) or painted or any(f.resolve().is_relative_to(d) for d in inner):
                    left_out += 1
                else:
                    out.setdefault(f.resolve(), (f, f.parent.relative_to(p)))
        else:
            out.setdefault(p.resolve(), (p, Path()))
    if left_out:
        plural = "s" * (left_out > 1)
        _err_console().print(
            f"left out {left_out} earlier painting{plural} found in the folders (*{PAINTED}, NAME.png beside NAME{SUFFIX}, output folders)"
        )
    if not out:
        raise UsageError(f"{', '.join(map(str, paths))}: only earlier paintings here, nothing to paint")
    return list(out.values())


def _paint_outputs(
    src: Path, rel: Path, stem: str, out: Path | None, out_dir: Path | None, many: bool, svg: Path | None, gif: Path | None
) -> dict[str, Path]:
    """Where one painting goes: png, strokes (next to the png), and svg/gif if asked (folders,
    keeping the input folders' layout, when painting several), named after `stem`."""
    from strokepaint.fsutil import named
    from strokepaint.strokefile import SUFFIX

    if out is not None:
        png = out
    elif out_dir is not None:
        png = out_dir / rel / f"{stem}.png"
    else:
        png = src.with_name(f"{stem}{PAINTED}")
    paths = {"png": named(png, ".png"), "strokes": png.with_name(png.stem + SUFFIX)}
    for key, where, suffix in (("svg", svg, ".svg"), ("gif", gif, ".gif")):
        if where is None:
            continue
        option = "--svg" if key == "svg" else "--animate"
        paths[key] = named(where / rel / f"{stem}{suffix}" if many else where, suffix, f"{option} writes {suffix[1:].upper()}")
    return paths


def _check_plans(plans: list[tuple[Path, dict[str, Path]]], sources: list[Path]) -> None:
    """Before painting: no output is an input or another output, and every one can be written."""
    from strokepaint.fsutil import check_outputs

    inputs = {src.resolve() for src in sources}
    seen: dict[Path, Path] = {}
    for src, paths in plans:
        for p in paths.values():
            key = p.resolve()
            if key in inputs:
                raise UsageError(f"{p}: output path is the input file; choose another name")
            if key in seen:
                which = f"{seen[key]} and {src}" if seen[key] != src else f"two outputs of {src}"
                raise UsageError(f"{which} would both be written to {p}; give different output names or folders")
            seen[key] = src
    check_outputs(p for _, paths in plans for p in paths.values())


@app.command()
def paint(
    images_: Annotated[list[Path], typer.Argument(metavar="IMAGE", help="Pictures or folders of pictures to paint.", show_default=False)],
    strokes: Annotated[int, typer.Option("--strokes", "-n", help="Strokes in the finished painting.")] = 400,
    brush: Annotated[str, typer.Option("--brush", help="Brush to paint with (`strokepaint brushes`).")] = "bezier",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output PNG (one picture); default: IMAGE.painted.png beside it.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Folder for the outputs (created if missing): NAME.png + NAME.strokes.json.")
    ] = None,
    svg: Annotated[Path | None, typer.Option("--svg", help="Also write SVG here (a folder when painting several pictures).")] = None,
    animate: Annotated[
        Path | None, typer.Option("--animate", help="Also write a GIF of the painting process here (a folder for several).")
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="auto (as the brush's agent says, measured against optimize: the bezier agent on every picture), "
            "optimize (strokes seeded where the error is) or agent (the brush's agent lays them).",
        ),
    ] = "auto",
    refine: Annotated[
        int, typer.Option("--refine", help="Gradient steps per pass through the neural renderer (-1: the method's default).")
    ] = -1,
    grid: Annotated[
        int, typer.Option("--grid", help="Tiles of the finest pass along the shorter side (0: from the size and strokes).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same input, options and seed give the same files.")] = 0,
    colour_fit: Annotated[
        bool, typer.Option("--colour-fit/--no-colour-fit", help="Finally fit the colours to the exact painting (least squares).")
    ] = True,
    renderer: PaintRendererOpt = None,
    agent: PaintAgentOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
) -> None:
    """Paint pictures with brush strokes: PNG at the picture's size, a stroke file beside it, SVG and GIF on request."""
    from collections import Counter

    from rich.console import Console

    from strokepaint import engine, store

    engine.check_options(strokes, method, refine, grid)  # before any picture or model is loaded
    if out is not None and out_dir is not None:
        raise UsageError("give -o/--out or --out-dir, not both")
    found = _inputs(images_, skip=[d for d in (out_dir, svg, animate) if d is not None and d.is_dir()])
    sources = [src for src, _ in found]
    many = len(found) > 1
    if many and out is not None:
        raise UsageError(f"-o/--out names one file but {len(sources)} pictures were given; use --out-dir")
    stems = Counter((src.parent.resolve(), src.stem) for src, _ in found)  # photo.jpg beside photo.png: each named in full
    names = [src.stem if stems[src.parent.resolve(), src.stem] == 1 else src.name for src, _ in found]
    plans = [(src, _paint_outputs(src, rel, name, out, out_dir, many, svg, animate)) for (src, rel), name in zip(found, names)]
    _check_plans(plans, sources)
    dev = _setup(device, threads)
    _warn_problems()
    err = _err_console()
    tools = _tools(brush, dev, method, renderer, agent)
    if tools.actor is None and method == "agent":
        raise UsageError(f"{store.missing(tools.brush.name, 'agent')}, or use --method optimize")
    if store.find(tools.brush.name, "agent", agent) is None:
        err.print(f"brush {brush!r} has no trained agent: painting by optimisation alone (gradient descent through its neural renderer)")
    failed, code = 0, 0
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    live = sys.stderr.isatty()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=Console(stderr=True), disable=not live
    ) as bar:
        for i, (src, paths) in enumerate(plans):
            task = bar.add_task(f"{src.name} ({i + 1}/{len(plans)})", total=1.0)

            def report(what: str, done: int, total: int, task=task, src=src) -> None:
                bar.update(task, completed=done / max(total, 1), description=f"{src.name}: {what}")

            try:
                painting = engine.paint(
                    src, strokes, tools=tools, method=method, refine=refine, grid=grid, seed=seed, fit_colours=colour_fit, progress=report
                )
                written = painting.save(paths["png"], paths["strokes"], paths.get("svg"), paths.get("gif"))
            except StrokepaintError as e:
                if _state["debug"]:
                    raise
                bar.remove_task(task)
                _err(str(e))
                failed, code = failed + 1, max(code, e.exit_code)
                continue
            bar.remove_task(task)
            err.print(
                f"{src}: {len(painting.strokes)} {brush} strokes ({painting.method}, passes {'+'.join(map(str, painting.passes))}) "
                f"in {painting.seconds:.1f} s -> " + ", ".join(str(p) for p in written)
            )
    if failed:
        if len(plans) > 1:  # one picture: its own error line says it all
            _err(f"{failed} of {len(plans)} pictures failed")
        raise typer.Exit(code)


@app.command("eval")
def eval_(
    folder: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="Folder of pictures (each resized to 128x128, shorter side, centre crop).", show_default=False),
    ],
    brush: Annotated[str, typer.Option("--brush", help="Brush to paint with.")] = "bezier",
    strokes: Annotated[str, typer.Option("--strokes", help="Stroke counts, comma-separated.")] = "50,100,200",
    method: Annotated[
        str, typer.Option("--method", help="auto, optimize or agent, as for paint (agent --refine 0 --no-colour-fit: the agent alone).")
    ] = "auto",
    refine: Annotated[
        int, typer.Option("--refine", help="Gradient steps per pass (-1: the method's default; 0 with agent: the agent alone).")
    ] = -1,
    grid: Annotated[int, typer.Option("--grid", help="Tiles of the finest pass along the shorter side (0: automatic).")] = 0,
    colour_fit: Annotated[
        bool, typer.Option("--colour-fit/--no-colour-fit", help="Finally fit the colours to the exact painting (least squares).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    renderer: PaintRendererOpt = None,
    agent: PaintAgentOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
) -> None:
    """Paint every picture in a folder at 128x128 and report MSE, PSNR and seconds per picture."""
    import json
    import math

    from strokepaint import engine, images

    def psnr(mse: float) -> float:
        return round(10 * math.log10(1 / max(mse, 1e-12)), 2)

    try:
        counts = [int(s) for s in strokes.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--strokes {strokes!r}: give whole numbers separated by commas, e.g. 50,100,200") from None
    if not counts or any(not 1 <= c <= 10_000 for c in counts):
        raise UsageError(f"--strokes {strokes!r}: each count from 1 to 10000")
    files = images.find(folder)
    if not files:
        raise UsageError(f"{folder}: no images in this folder")
    dev = _setup(device, threads)
    tools = _tools(brush, dev, method, renderer, agent)
    rows, used, failed = [], set(), []
    exact: dict[int, list[float]] = {n: [] for n in counts}  # unrounded MSEs per stroke count, for the means
    for f in files:
        try:
            img = images.eval_picture(f)
        except UsageError as e:
            _err(str(e))
            failed.append({"name": f.name, "error": str(e)})
            continue
        target = images.to_tensor(img)
        for n in counts:
            mse, seconds, used_method = engine.measure(target, n, tools, method=method, refine=refine, grid=grid, fit_colours=colour_fit)
            used.add(used_method)
            row = {
                "name": f.name,
                "strokes": n,
                "mse": round(mse, 6),
                "psnr": psnr(mse),
                "seconds": round(seconds, 3),
            }
            rows.append(row)
            exact[n].append(mse)
            if not as_json:
                typer.echo(f"{f.name:24s} {n:5d} strokes  mse {mse:.5f}  psnr {row['psnr']:6.2f} dB  {seconds:6.2f} s")
    if not rows:
        raise UsageError(f"{folder}: no readable images")
    mean = {}
    for n in counts:
        mse = sum(exact[n]) / len(exact[n])
        seconds = sum(r["seconds"] for r in rows if r["strokes"] == n) / len(exact[n])
        # the PSNR of the mean MSE, not the mean of the PSNRs: one flawless picture (120 dB) would lift that by tens of dB
        mean[str(n)] = {"mse": round(mse, 6), "psnr": psnr(mse), "seconds": round(seconds, 6)}
    method_used = "+".join(sorted(used))  # what `auto` chose
    if as_json:
        doc = {"brush": brush, "method": method_used, "refine": refine, "colour_fit": colour_fit, "images": rows, "mean": mean}
        typer.echo(json.dumps(doc | ({"failed": failed} if failed else {})))
    else:
        for n, m in mean.items():
            typer.echo(
                f"{'mean':24s} {int(n):5d} strokes  mse {m['mse']:.5f}  psnr {m['psnr']:6.2f} dB  {m['seconds']:6.2f} s  ({method_used})"
            )
    if failed:  # the means leave them out; the exit code says so
        _err(f"{len(failed)} of {len(files)} pictures could not be read; the means are over the other {len(files) - len(failed)}")
        raise typer.Exit(1)


@app.command("eval-brush")
def eval_brush(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Brush whose renderer to measure.", show_default=False)],
    renderer: Annotated[Path | None, typer.Option("--renderer", help="Renderer weights to use instead of the one found.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    strokes: Annotated[
        int | None, typer.Option("--strokes", help="Size of the fixed stroke set (default: the set training measures, 2000).")
    ] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
) -> None:
    """Fidelity of a brush's neural renderer against its rasterizer, and its speed."""
    import json

    from strokepaint.plugins import get_brush

    if strokes is not None and not 1 <= strokes <= 100_000:
        raise UsageError(f"--strokes {strokes}: must be from 1 to 100000")
    brush = get_brush(name)
    dev = _setup(device, threads)
    from strokepaint import renderer as rnd
    from strokepaint.train_renderer import EVAL_STROKES, SPEED_BATCH, eval_set, fidelity, throughput

    strokes = strokes or EVAL_STROKES

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
        f"over {strokes} strokes at {model.cfg.canvas}x{model.cfg.canvas}; {speed:,.0f} strokes/s at batch {SPEED_BATCH}"
    )


def main() -> None:
    """Entry point: every error is one line on stderr (exit 2 for bad usage or input, 1 for a
    failure while running); `--debug` adds the traceback, not another exit code."""
    try:
        code = app(standalone_mode=False)
    except StrokepaintError as e:
        _debug_traceback()
        if isinstance(e, UsageError) and os.environ.get("RANK", "0") != "0":  # under torchrun: bad input once, from rank 0
            sys.exit(e.exit_code)
        _err(str(e))
        code = e.exit_code
    except (KeyboardInterrupt, typer.Abort):
        _err("interrupted")
        code = 130
    except Exception as e:  # noqa: BLE001 - anything unexpected: one line unless --debug
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # click's (Typer's) usage errors
            ctx = getattr(e, "ctx", None)
            if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:  # `strokepaint` or a command alone: its help
                typer.echo(ctx.get_help())
                sys.exit(0)
            _debug_traceback()
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            _err(" ".join(e.format_message().split()) + where)
            code = e.exit_code
        else:
            _debug_traceback()
            _err(f"{type(e).__name__}: {e}" + ("" if _state["debug"] else " (for the traceback: strokepaint --debug COMMAND ...)"))
            code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _debug_traceback() -> None:
    if _state["debug"]:
        import traceback

        traceback.print_exc()
