"""`rect`: a filled rotated rectangle. 9 numbers: x y w h angle a R G B.

An example third-party brush: installed as its own distribution, found by strokepaint through the
entry point group "strokepaint" (see this folder's pyproject.toml), registered by the hook below.
"""

from __future__ import annotations

import math

import torch

import strokepaint
from strokepaint.brush import Brush, Param, fmt, log_uniform, mix, opacity, uniform

MAX_HALF = 0.5  # half-sizes are fractions of the canvas' longer side


def box(x: torch.Tensor, y: torch.Tensor, cx, cy, hw, hh, cos, sin) -> torch.Tensor:
    """Exact signed distance (pixels, < 0 inside) from points [N, P] to rectangles centred at (cx, cy)
    with half-sizes (hw, hh) along the directions (cos, sin) and (-sin, cos); per-stroke values [N, 1]."""
    dx, dy = x - cx, y - cy
    u = (dx * cos + dy * sin).abs() - hw  # distance past the side edges, in the rectangle's own frame
    v = (dy * cos - dx * sin).abs() - hh
    outside = torch.hypot(u.clamp_min(0.0), v.clamp_min(0.0))
    inside = torch.maximum(u, v).clamp_max(0.0)
    return outside + inside


class Rect(Brush):
    name = "rect"
    version = "1.0"
    description = "filled rotated rectangle"
    geometry = (
        Param("x", "x", "centre x"),
        Param("y", "y", "centre y"),
        Param("w", "size", "half the width (along the angle)", 0.0, MAX_HALF),
        Param("h", "size", "half the height (across the angle)", 0.0, MAX_HALF),
        Param("angle", "value", "rotation, 0..1 for 0..180 degrees clockwise on screen"),
        Param("a", "opacity", "opacity"),
    )

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        flat = torch.stack([uniform(n, gen, p.low, p.high) for p in self.geometry], 1)  # the whole parameter box
        # shaped: big and small (long side), square to hair-thin (aspect), faint to opaque
        long = log_uniform(n, gen, 0.002, MAX_HALF)
        short = long * log_uniform(n, gen, 0.01, 1.0)
        swap = uniform(n, gen) < 0.5
        w, h = torch.where(swap, short, long), torch.where(swap, long, short)
        shaped = torch.stack([uniform(n, gen), uniform(n, gen), w, h, uniform(n, gen), opacity(n, gen)], 1)
        return mix(flat, shaped, gen)

    @staticmethod
    def _drawn(g: torch.Tensor):
        """Centre, drawn half-sizes, cos, sin and opacity [N, 1] of strokes in pixels. A side under
        one pixel is drawn one pixel wide with proportionally less opacity (the area it would cover)."""
        cx, cy, w, h, t, a = (g[:, i : i + 1] for i in range(6))
        fade = (2.0 * w).clamp(0.0, 1.0) * (2.0 * h).clamp(0.0, 1.0)
        angle = t * math.pi
        return cx, cy, w.clamp_min(0.5), h.clamp_min(0.5), angle.cos(), angle.sin(), a * fade

    def bounds(self, g: torch.Tensor) -> torch.Tensor:
        cx, cy, w, h, cos, sin, _ = (v[:, 0] for v in self._drawn(g))
        ex = w * cos.abs() + h * sin.abs() + 1.0
        ey = w * sin.abs() + h * cos.abs() + 1.0
        return torch.stack([cx - ex, cy - ey, cx + ex, cy + ey], 1)

    def sdf(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cx, cy, w, h, cos, sin, a = self._drawn(g)
        return box(x, y, cx, cy, w, h, cos, sin), a.expand_as(x)

    def opacity(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._drawn(g)[6].expand_as(x)

    def svg(self, g: list[float], rgb: str, uid: str) -> str:
        x, y, w, h, t, a = g
        fade = min(1.0, 2 * w) * min(1.0, 2 * h)
        w, h = max(w, 0.5), max(h, 0.5)
        # SVG's rotate() turns +x towards +y (clockwise on screen), as the sdf's (cos, sin) frame does
        return (
            f'<rect x="{fmt(-w)}" y="{fmt(-h)}" width="{fmt(2 * w)}" height="{fmt(2 * h)}" '
            f'transform="translate({fmt(x)} {fmt(y)}) rotate({fmt(t * 180.0)})" fill="{rgb}" fill-opacity="{fmt(a * fade)}"/>'
        )


@strokepaint.hookimpl
def register_brushes(register):
    register(Rect())
