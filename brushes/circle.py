"""`circle`: a filled disk. 7 numbers: x y r a R G B."""

from __future__ import annotations

import torch

from strokepaint import sdf
from strokepaint.brush import Brush, Param, fmt, log_uniform, mix, opacity, uniform

MAX_RADIUS = 0.5


class Circle(Brush):
    name = "circle"
    version = "1.0"
    description = "filled circle"
    geometry = (
        Param("x", "x", "centre x"),
        Param("y", "y", "centre y"),
        Param("r", "size", "radius", 0.0, MAX_RADIUS),
        Param("a", "opacity", "opacity"),
    )

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        flat = torch.stack([uniform(n, gen), uniform(n, gen), uniform(n, gen, 0, MAX_RADIUS), uniform(n, gen)], 1)
        shaped = torch.stack([uniform(n, gen), uniform(n, gen), log_uniform(n, gen, 0.002, MAX_RADIUS), opacity(n, gen)], 1)
        return mix(flat, shaped, gen)

    def bounds(self, g: torch.Tensor) -> torch.Tensor:
        r = g[:, 2].clamp_min(0.5) + 1.0
        return torch.stack([g[:, 0] - r, g[:, 1] - r, g[:, 0] + r, g[:, 1] + r], 1)

    def sdf(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cx, cy, r, a = (g[:, i : i + 1] for i in range(4))
        # a disk smaller than a pixel: drawn at radius 0.5 with the opacity its area would give
        fade = (2.0 * r).clamp(0.0, 1.0) ** 2
        return sdf.circle(x, y, cx, cy, r.clamp_min(0.5)), (a * fade).expand_as(x)

    def svg(self, g: list[float], rgb: str, uid: str) -> str:
        x, y, r, a = g
        return f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(max(r, 0.5))}" fill="{rgb}" fill-opacity="{fmt(a * min(1.0, 2 * r) ** 2)}"/>'
