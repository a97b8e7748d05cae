"""Signed-distance primitives for brush authors (pixels; negative inside; exact outside).

All take point coordinates x, y of shape [N, P] and per-stroke values of shape [N, 1].
"""

from __future__ import annotations

import torch

BAND = 0.5  # px: anti-aliasing reads a signed distance only for |sd| <= BAND (raster.coverage)


def circle(x: torch.Tensor, y: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.hypot(x - cx, y - cy) - r


def tapered_capsule(
    x: torch.Tensor,
    y: torch.Tensor,
    ax: torch.Tensor,
    ay: torch.Tensor,
    bx: torch.Tensor,
    by: torch.Tensor,
    ra: torch.Tensor,
    rb: torch.Tensor,
) -> torch.Tensor:
    """Convex hull of the disks (a, ra) and (b, rb). Constant radius gives a round-capped line.

    The hull is the union of the two disks and the band between their outer tangents (after
    Inigo Quilez's sdUnevenCapsule); where one disk holds the other, it is the larger disk.
    """
    return torch.minimum(torch.minimum(circle(x, y, ax, ay, ra), circle(x, y, bx, by, rb)), tangent_band(x, y, ax, ay, bx, by, ra, rb))


FAR = 1e4  # px: what tangent_band reports where it does not apply (finite: rasterizer checks)


def tangent_band(
    x: torch.Tensor,
    y: torch.Tensor,
    ax: torch.Tensor,
    ay: torch.Tensor,
    bx: torch.Tensor,
    by: torch.Tensor,
    ra: torch.Tensor,
    rb: torch.Tensor,
) -> torch.Tensor:
    """Signed distance to the outer tangents of the disks (a, ra) and (b, rb), where a point
    projects between the tangent points; FAR elsewhere and where one disk holds the other.
    With the two disks, the parts of a tapered capsule (the nearest part gives its distance)."""
    dx, dy = bx - ax, by - ay
    length = torch.hypot(dx, dy)
    nested = (ra - rb).abs() >= (1.0 - 1e-6) * length  # no tangents (also a segment of length 0)
    length = length.clamp_min(1e-12)
    ux, uy = dx / length, dy / length
    sin = ((ra - rb) / length).clamp(-1.0, 1.0)  # slope of the tangents against the axis
    cos = (1.0 - sin * sin).sqrt()
    px, py = x - ax, y - ay
    along = px * ux + py * uy
    across = (px * uy - py * ux).abs()
    k = cos * along - sin * across  # where the point projects on a tangent, 0 at a's tangent point
    off = (k < 0) | (k > cos * length) | nested
    return (cos * across + sin * along - ra).masked_fill(off, FAR)


def triangle(
    x: torch.Tensor,
    y: torch.Tensor,
    x0: torch.Tensor,
    y0: torch.Tensor,
    x1: torch.Tensor,
    y1: torch.Tensor,
    x2: torch.Tensor,
    y2: torch.Tensor,
) -> torch.Tensor:
    """Exact signed distance to a triangle of either orientation (after Inigo Quilez's sdTriangle)."""
    e = [(x1 - x0, y1 - y0), (x2 - x1, y2 - y1), (x0 - x2, y0 - y2)]
    v = [(x - x0, y - y0), (x - x1, y - y1), (x - x2, y - y2)]
    s = torch.sign(e[0][0] * e[2][1] - e[0][1] * e[2][0])
    best_d = None
    best_s = None
    for (ex, ey), (vx, vy) in zip(e, v):
        ee = (ex * ex + ey * ey).clamp_min(1e-12)
        t = ((vx * ex + vy * ey) / ee).clamp(0.0, 1.0)
        qx, qy = vx - ex * t, vy - ey * t
        d = qx * qx + qy * qy
        side = s * (vx * ey - vy * ex)
        best_d = d if best_d is None else torch.minimum(best_d, d)
        best_s = side if best_s is None else torch.minimum(best_s, side)
    dist = torch.sqrt(best_d)
    return torch.where(best_s > 0, -dist, dist)  # a degenerate (flat) triangle has no inside
