"""The final colour fit (engine.fit_colours) on real paintings: seconds, added memory, MSE gained.

    python benchmarks/colour_fit.py --image data/dev/chelsea.png --side 140 --strokes 2000 [--threads 2] [--dense N]

The picture is resized (shorter side) and centre-cropped to --side x --side px, painted
with the shipped agent's strokes without the fit (`PaintConfig(fit_colours=False)`, refinement
as the engine's default), then fitted once, timed. Prints the fit's seconds, the process's peak
memory before and after it (ru_maxrss, MB), and the exact painting's MSE before and after.
--dense N: solve directly (Cholesky) up to N strokes, by conjugate gradients beyond (default:
the engine's `FIT_DENSE`).
Runs against any checkout that has `engine.fit_colours(brush, strokes, target, background)`.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", type=Path, required=True)
    ap.add_argument("--side", type=int, required=True, help="px of the square painted")
    ap.add_argument("--strokes", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dense", type=int, help="strokes up to which the fit solves directly (default: the engine's)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from strokepaint import engine, images, raster
    from strokepaint.engine import PaintConfig, Tools, fit_colours, run
    from strokepaint.errors import UsageError

    if a.dense is not None:
        engine.FIT_DENSE = a.dense

    try:
        tools = Tools.load("bezier", "cpu")
        target = images.to_tensor(images.centre_crop(images.open_rgb(a.image), a.side))
        painting = run(target, tools.brush, tools.renderer, PaintConfig(strokes=a.strokes, fit_colours=False), tools.actor)
    except UsageError as e:
        raise SystemExit(f"error: {e}") from None
    before = peak_mb()
    start = time.perf_counter()
    fitted = fit_colours(tools.brush, painting.strokes, target, painting.background)
    seconds = time.perf_counter() - start
    after = peak_mb()

    def mse(strokes: torch.Tensor) -> float:
        return float(((raster.render(tools.brush, strokes, a.side, a.side, painting.background) - target) ** 2).mean())

    print(
        f"{a.image.name} {a.side}x{a.side}, {len(painting.strokes)} strokes: fit {seconds:.2f} s, "
        f"peak memory {before:.0f} -> {after:.0f} MB, MSE {mse(painting.strokes):.5f} -> {mse(fitted):.5f}"
    )


if __name__ == "__main__":
    main()
