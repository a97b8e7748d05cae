"""The `--method auto` policy's evidence: optimize against agent on the same pictures.

    python benchmarks/auto_method.py --side 1280 --strokes 4000 [--photos A.jpg B.jpg ...] [--brush bezier] [--agent A] [--write]
    python benchmarks/auto_method.py --images data/dev data/tune --strokes 200 [--brush bezier] [--agent A] [--write]

Each photo (default: four MATE nature backgrounds) is resized to `--side` px on its longer side,
or, with --images, every picture in the folders is centre-cropped to 128x128 (the dev-split
convention), and painted with both methods (default settings otherwise, through `engine.run`);
the script prints the full-size MSE and seconds (painting + exact rendering) per picture and on
average, and what `auto` would choose for that size and stroke count.

--write records this point (size, strokes, both means) in the agent's metadata (`auto_measured`,
a list kept across runs; atomically) and sets its `auto_steps` from every point recorded: 0 (the
agent's strokes on every picture) if they had the lower mean MSE at each, else the default rule
(AgentConfig.auto_steps). Run it at the sizes and stroke counts you paint at (the shipped agents:
128 px at 10 to 1,000 strokes, 512 px at 400, 1280 px at 4,000).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from PIL import Image

MATE = Path("/usr/share/backgrounds/mate/nature")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, help="longer side of the photos, px")
    ap.add_argument("--images", type=Path, nargs="+", help="folders of pictures, painted at 128x128 (instead of --side/--photos)")
    ap.add_argument("--strokes", type=int, required=True)
    ap.add_argument("--photos", type=Path, nargs="*", default=[MATE / f"{n}.jpg" for n in ("Aqua", "Storm", "LadyBird", "Dune")])
    ap.add_argument("--brush", default="bezier", help="the brush to paint with (default bezier)")
    ap.add_argument("--agent", type=Path, help="agent weights instead of the installed agent")
    ap.add_argument("--write", action="store_true", help="record the point in --agent's metadata and set its auto_steps")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if (a.side is None) == (a.images is None):
        ap.error("give --side (photos) or --images (128-px pictures)")
    if a.write and a.agent is None:
        ap.error("--write needs --agent (the file to write into)")
    torch.set_num_threads(a.threads)
    from strokepaint import images
    from strokepaint.engine import PaintConfig, Tools, choose_method, run
    from strokepaint.errors import UsageError

    try:
        tools = Tools.load(a.brush, "cpu", agent_path=a.agent)
        if tools.actor is None:
            raise UsageError(f"brush {a.brush!r} has no agent to compare")
        if a.images:
            named = [(f.name, images.eval_picture(f)) for folder in a.images for f in images.find(folder)]
        else:
            named = []
            for p in a.photos:
                im = images.open_rgb(p)
                s = a.side / max(im.size)
                named.append((p.name, im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)))
    except UsageError as e:
        raise SystemExit(f"error: {e}") from None
    if not named:
        raise SystemExit("error: no pictures")
    totals: dict[str, list[float]] = {"optimize": [0.0, 0.0], "agent": [0.0, 0.0]}
    for name, im in named:
        target = images.to_tensor(im)
        line = f"{name:20s} {im.width}x{im.height}"
        for method in totals:
            t0 = time.perf_counter()
            p = run(target, tools.brush, tools.renderer, PaintConfig(strokes=a.strokes, method=method), tools.actor)
            mse = float(((p.image() - target) ** 2).mean())
            seconds = time.perf_counter() - t0
            totals[method][0] += mse
            totals[method][1] += seconds
            line += f"  {method}: mse {mse:.6f} {seconds:6.2f} s"
        print(line, flush=True)
    n = len(named)
    print("mean" + "".join(f"  {m}: mse {v[0] / n:.6f} {v[1] / n:.2f} s" for m, v in totals.items()))
    w, h = named[-1][1].size
    print(f"auto chooses: {choose_method(PaintConfig(strokes=a.strokes), tools.actor, w, h)}")
    if a.write:
        point = {
            "pictures": ",".join(str(f) for f in a.images) if a.images else f"{n} photos at {a.side} px",
            "side": 128 if a.images else a.side,
            "strokes": a.strokes,
            "agent": round(totals["agent"][0] / n, 6),
            "optimize": round(totals["optimize"][0] / n, 6),
        }
        steps = record(a.agent, point)
        tools.actor.cfg.auto_steps = steps
        now = choose_method(PaintConfig(strokes=a.strokes), tools.actor, w, h)
        print(f"wrote the point into {a.agent}; its auto_steps is now {steps} (auto now chooses: {now})")


def record(path: Path, point: dict) -> int:
    """Add `point` to the agent's `auto_measured` list and set its `auto_steps` from all points."""
    from strokepaint import store
    from strokepaint.agent import AgentConfig, update_settings

    _, meta = store.load_weights(path, "agent")
    try:
        points = json.loads(meta.get("auto_measured", "[]"))
    except ValueError:
        points = []
    points = [p for p in (points if isinstance(points, list) else [points]) if isinstance(p, dict)]  # (earlier agents: one note)
    points = [p for p in points if not (p.get("side") == point["side"] and p.get("strokes") == point["strokes"])] + [point]
    measured = [p for p in points if "agent" in p and "optimize" in p]
    steps = 0 if all(p["agent"] < p["optimize"] for p in measured) else AgentConfig.auto_steps
    update_settings(path, {"auto_steps": steps}, auto_measured=json.dumps(points))
    return steps


if __name__ == "__main__":
    main()
