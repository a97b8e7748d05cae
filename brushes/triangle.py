"""`triangle`: a filled triangle. 10 numbers: x0 y0 x1 y1 x2 y2 a R G B."""

from __future__ import annotations

import torch

from strokepaint import sdf
from strokepaint.brush import Brush, Param, fmt, log_uniform, mix, opacity, uniform


class Triangle(Brush):
    name = "triangle"
    version = "1.0"
    description = "filled triangle"
    geometry = (
        Param("x0", "x", "first corner x"),
        Param("y0", "y", "first corner y"),
        Param("x1", "x", "second corner x"),
        Param("y1", "y", "second corner y"),
        Param("x2", "x", "third corner x"),
        Param("y2", "y", "third corner y"),
        Param("a", "opacity", "opacity"),
    )

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        flat = torch.stack([uniform(n, gen) for _ in range(7)], 1)
        centre = torch.rand(n, 1, 2, generator=gen)
        size = log_uniform(n, gen, 0.01, 0.8)[:, None, None]
        corners = (centre + size * (2 * torch.rand(n, 3, 2, generator=gen) - 1)).clamp(0, 1)
        shaped = torch.cat([corners.reshape(n, 6), opacity(n, gen)[:, None]], 1)
        return mix(flat, shaped, gen)

    def bounds(self, g: torch.Tensor) -> torch.Tensor:
        xs, ys = g[:, [0, 2, 4]], g[:, [1, 3, 5]]
        return torch.stack([xs.amin(1) - 1, ys.amin(1) - 1, xs.amax(1) + 1, ys.amax(1) + 1], 1)

    def sdf(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = [g[:, i : i + 1] for i in range(7)]
        return sdf.triangle(x, y, *c[:6]), c[6].expand_as(x)

    def svg(self, g: list[float], rgb: str, uid: str) -> str:
        pts = " ".join(f"{fmt(g[i])},{fmt(g[i + 1])}" for i in (0, 2, 4))
        return f'<polygon points="{pts}" fill="{rgb}" fill-opacity="{fmt(g[6])}"/>'
