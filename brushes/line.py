"""`line`: a straight stroke with round ends. 9 numbers: x0 y0 x1 y1 r a R G B."""

from __future__ import annotations

import torch

from strokepaint import sdf
from strokepaint.brush import Brush, Param, fmt, log_uniform, mix, opacity, uniform

MAX_RADIUS = 0.25


class Line(Brush):
    name = "line"
    version = "1.0"
    description = "straight stroke with round ends"
    geometry = (
        Param("x0", "x", "start x"),
        Param("y0", "y", "start y"),
        Param("x1", "x", "end x"),
        Param("y1", "y", "end y"),
        Param("r", "size", "half the stroke width", 0.0, MAX_RADIUS),
        Param("a", "opacity", "opacity"),
    )

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        flat = torch.stack([uniform(n, gen) for _ in range(4)] + [uniform(n, gen, 0, MAX_RADIUS), uniform(n, gen)], 1)
        start = torch.rand(n, 2, generator=gen)
        length = log_uniform(n, gen, 0.005, 0.8)[:, None]
        angle = uniform(n, gen, 0, 6.283185307179586)
        end = (start + length * torch.stack([angle.cos(), angle.sin()], 1)).clamp(0, 1)
        shaped = torch.cat([start, end, log_uniform(n, gen, 0.002, MAX_RADIUS)[:, None], opacity(n, gen)[:, None]], 1)
        return mix(flat, shaped, gen)

    def bounds(self, g: torch.Tensor) -> torch.Tensor:
        r = g[:, 4].clamp_min(0.5) + 1.0
        return torch.stack(
            [
                torch.minimum(g[:, 0], g[:, 2]) - r,
                torch.minimum(g[:, 1], g[:, 3]) - r,
                torch.maximum(g[:, 0], g[:, 2]) + r,
                torch.maximum(g[:, 1], g[:, 3]) + r,
            ],
            1,
        )

    def sdf(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x0, y0, x1, y1, r, a = (g[:, i : i + 1] for i in range(6))
        width = r.clamp_min(0.5)  # thinner than a pixel: one pixel wide, proportionally fainter
        return sdf.tapered_capsule(x, y, x0, y0, x1, y1, width, width), (a * (2.0 * r).clamp(0.0, 1.0)).expand_as(x)

    def svg(self, g: list[float], rgb: str, uid: str) -> str:
        x0, y0, x1, y1, r, a = g
        return (
            f'<line x1="{fmt(x0)}" y1="{fmt(y0)}" x2="{fmt(x1)}" y2="{fmt(y1)}" stroke="{rgb}" '
            f'stroke-width="{fmt(2 * max(r, 0.5))}" stroke-linecap="round" stroke-opacity="{fmt(a * min(1.0, 2 * r))}"/>'
        )
