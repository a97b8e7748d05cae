"""One refinement step's cost: N strokes drawn by the neural renderer on one R x R canvas,
composited, squared error, gradient to the strokes (what engine._refine does per step, minus Adam).

    python benchmarks/refine_step.py [--brush bezier] [--strokes 200] [--sides 64 96 128] [--threads 2] [--repeat 10]

Strokes from the brush's own sampler (sizes shrunk to a third, as on a painted tile), random
colours and target; prints milliseconds per step (mean of --repeat after 3 warm-up steps) per side.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brush", default="bezier")
    ap.add_argument("--strokes", type=int, default=200)
    ap.add_argument("--sides", type=int, nargs="+", default=[64, 96, 128])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from strokepaint.compose import composite
    from strokepaint.engine import Tools
    from strokepaint.errors import UsageError

    try:
        tools = Tools.load(a.brush, "cpu", use_agent=False)
    except UsageError as e:
        raise SystemExit(f"error: {e}") from None
    brush, renderer = tools.brush, tools.renderer
    gen = torch.Generator().manual_seed(0)
    geo = brush.sample(a.strokes, gen)
    for i, p in enumerate(brush.geometry):
        if p.role == "size":
            geo[:, i] /= 3
    low = torch.tensor([p.low for p in brush.params])
    span = torch.tensor([p.high - p.low for p in brush.params])
    strokes = torch.cat([geo, torch.rand(a.strokes, 3, generator=gen)], 1)
    z0 = torch.logit(((strokes - low) / span).clamp(0.01, 0.99))
    ng = brush.n_geometry
    for side in a.sides:
        target = torch.rand(1, 3, side, side, generator=gen)
        canvas = torch.ones(1, 3, side, side)

        def step(side: int = side, canvas: torch.Tensor = canvas, target: torch.Tensor = target) -> None:
            z = z0.clone().requires_grad_(True)
            s = low + torch.sigmoid(z) * span
            alpha = renderer(s[:, :ng], canvas=side)[None]
            loss = ((composite(canvas, alpha, s[None, :, ng:]) - target) ** 2).mean()
            loss.backward()

        for _ in range(3):
            step()
        start = time.perf_counter()
        for _ in range(a.repeat):
            step()
        print(f"{a.brush}, {a.strokes} strokes on {side}x{side}: {(time.perf_counter() - start) / a.repeat * 1000:.1f} ms per step")


if __name__ == "__main__":
    main()
