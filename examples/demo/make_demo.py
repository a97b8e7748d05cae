"""Writes demo.json: a small landscape drawn by hand-placed `bezier` strokes (a stroke file to try
`strokepaint export` on before any painting of your own). Run: python examples/demo/make_demo.py"""

import random
from pathlib import Path

from strokepaint.plugins import get_brush
from strokepaint.strokefile import StrokeFile

rng = random.Random(7)
strokes = []


def stroke(x0, y0, x1, y1, x2, y2, r0, t0, r1, t1, rgb):
    strokes.append([x0, y0, x1, y1, x2, y2, r0, t0, r1, t1, *rgb])


for i in range(14):  # sky: wide horizontal strokes, lighter towards the horizon
    y = 0.03 + i * 0.04
    c = 0.35 + i * 0.04
    stroke(-0.0, y, 0.5, y + rng.uniform(-0.02, 0.02), 1.0, y, 0.05, 0.9, 0.05, 0.9, (c * 0.8, c * 0.9, min(1, c + 0.35)))
stroke(0.7, 0.22, 0.71, 0.22, 0.72, 0.22, 0.07, 1.0, 0.07, 1.0, (1.0, 0.85, 0.4))  # sun
for i in range(3):  # hills
    y = 0.55 + i * 0.08
    g = 0.45 - i * 0.1
    stroke(-0.1 if i % 2 else 0.0, y + 0.05, 0.4 + 0.2 * i, y - 0.12, 1.0, y + 0.04, 0.12, 1.0, 0.12, 1.0, (0.2, g, 0.15))
stroke(0.0, 0.95, 0.5, 0.9, 1.0, 0.95, 0.12, 1.0, 0.12, 1.0, (0.12, 0.28, 0.1))  # ground
for _ in range(120):  # grass
    x, y = rng.uniform(0, 1), rng.uniform(0.8, 1.0)
    h = rng.uniform(0.03, 0.08)
    stroke(
        x,
        y,
        x + rng.uniform(-0.02, 0.02),
        y - h / 2,
        x + rng.uniform(-0.03, 0.03),
        y - h,
        0.004,
        1.0,
        0.001,
        0.6,
        (0.1 + rng.uniform(0, 0.1), 0.3 + rng.uniform(0, 0.3), 0.1),
    )
clip = [[min(max(v, 0.0), 1.0) for v in s] for s in strokes]
brush = get_brush("bezier")
out = StrokeFile(640, 400, "bezier", brush.version, clip, (1.0, 1.0, 1.0)).save(Path(__file__).with_name("demo.json"))
print(f"wrote {out} ({len(clip)} strokes)")
