"""Exact-rasterizer speed: 1,000 random strokes composited onto a 1024x1024 canvas.

    python benchmarks/raster_speed.py [--brush bezier] [--strokes 1000] [--size 1024] [--threads 2]

Two workloads, both from the brush's own sampler (the strokes its neural renderer learns):
  tiled  - each stroke sampled on a 128-px tile and placed on a random tile of the canvas, as in a
           patch-wise painting (the issue's target: <= 2 s for bezier on 2 cores);
  whole  - strokes sampled on the whole canvas (most are hundreds of pixels long and wide).
Prints seconds per run (best of --repeat) for each.
"""

from __future__ import annotations

import argparse
import time

import torch

from strokepaint.plugins import get_brush
from strokepaint.raster import render


def tiled(brush, strokes: torch.Tensor, grid: int, gen: torch.Generator) -> torch.Tensor:
    n = len(strokes)
    tx = torch.randint(0, grid, (n,), generator=gen).float()
    ty = torch.randint(0, grid, (n,), generator=gen).float()
    out = strokes.clone()
    for i, p in enumerate(brush.params):
        if p.role == "x":
            out[:, i] = (tx + out[:, i]) / grid
        elif p.role == "y":
            out[:, i] = (ty + out[:, i]) / grid
        elif p.role == "size":
            out[:, i] = out[:, i] / grid
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brush", default="bezier")
    ap.add_argument("--strokes", type=int, default=1000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    brush = get_brush(args.brush)
    gen = torch.Generator().manual_seed(0)
    strokes = torch.cat([brush.sample(args.strokes, gen), torch.rand(args.strokes, 3, generator=gen)], 1)
    workloads = {"tiled": tiled(brush, strokes, max(1, args.size // 128), gen), "whole": strokes}
    for name, s in workloads.items():
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            render(brush, s, args.size, args.size)
            best = min(best, time.perf_counter() - t)
        print(f"{args.brush} {name:5s} {args.strokes} strokes @ {args.size}x{args.size}: {best:.2f} s ({args.threads} threads)")


if __name__ == "__main__":
    main()
