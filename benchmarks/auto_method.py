"""The `--method auto` policy's evidence: optimize against agent on the same pictures.

    python benchmarks/auto_method.py --side 1280 --strokes 4000 [--photos A.jpg B.jpg ...] [--brush bezier] [--threads 2]

Each photo (default: four MATE nature backgrounds) is resized to `--side` px on its longer side
and painted with both methods (default settings otherwise, through `engine.run`); the script prints
the full-size MSE and seconds (painting + exact rendering) per photo and on average, and what
`auto` would choose for that size and stroke count.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from PIL import Image

MATE = Path("/usr/share/backgrounds/mate/nature")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, required=True, help="longer side, px")
    ap.add_argument("--strokes", type=int, required=True)
    ap.add_argument("--photos", type=Path, nargs="*", default=[MATE / f"{n}.jpg" for n in ("Aqua", "Storm", "LadyBird", "Dune")])
    ap.add_argument("--brush", default="bezier", help="the brush to paint with (default bezier)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from strokepaint import images
    from strokepaint.engine import PaintConfig, Tools, choose_method, run
    from strokepaint.errors import UsageError

    try:
        pictures = [images.open_rgb(p) for p in a.photos]
        tools = Tools.load(a.brush, "cpu")
    except UsageError as e:
        raise SystemExit(f"error: {e}") from None
    totals: dict[str, list[float]] = {"optimize": [0.0, 0.0], "agent": [0.0, 0.0]}
    size = None
    for path, im in zip(a.photos, pictures):
        s = a.side / max(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
        target = images.to_tensor(im)
        size = im.size
        line = f"{path.name:20s} {im.width}x{im.height}"
        for method in totals:
            t0 = time.perf_counter()
            p = run(target, tools.brush, tools.renderer, PaintConfig(strokes=a.strokes, method=method), tools.actor)
            mse = float(((p.image() - target) ** 2).mean())
            seconds = time.perf_counter() - t0
            totals[method][0] += mse
            totals[method][1] += seconds
            line += f"  {method}: mse {mse:.6f} {seconds:6.2f} s"
        print(line, flush=True)
    n = len(a.photos)
    print("mean" + "".join(f"  {m}: mse {v[0] / n:.6f} {v[1] / n:.2f} s" for m, v in totals.items()))
    w, h = size
    print(f"auto chooses: {choose_method(PaintConfig(strokes=a.strokes), tools.actor, w, h)}")


if __name__ == "__main__":
    main()
