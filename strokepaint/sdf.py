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

    After Inigo Quilez's sdUnevenCapsule. Where one disk holds the other (|ra - rb| >= |b - a|)
    the hull is the larger disk, drawn as a capsule of negligible length (1e-3 px).
    """
    h = (bx - ax) ** 2 + (by - ay) ** 2
    nested = h <= (ra - rb) ** 2 + 1e-6  # per segment: cheap, decided before touching pixels
    if bool(nested.any()):
        a_big = ra >= rb
        cx_ = torch.where(a_big, ax, bx)
        cy_ = torch.where(a_big, ay, by)
        cr = torch.maximum(ra, rb)
        ax, ay, ra = torch.where(nested, cx_, ax), torch.where(nested, cy_, ay), torch.where(nested, cr, ra)
        bx, by, rb = torch.where(nested, cx_ + 1e-3, bx), torch.where(nested, cy_, by), torch.where(nested, cr, rb)
        h = (bx - ax) ** 2 + (by - ay) ** 2
    dx, dy = bx - ax, by - ay
    b = ra - rb
    c = torch.sqrt(h - b * b)
    px, py = x - ax, y - ay
    qx = (px * dy - py * dx).abs() / h
    qy = (px * dx + py * dy) / h
    k = c * qy - b * qx
    n = qx * qx + qy * qy
    d_a = torch.sqrt(h * n) - ra
    d_b = torch.sqrt((h * (n + 1.0 - 2.0 * qy)).clamp_min(0.0)) - rb
    d_mid = c * qx + b * qy - ra
    return torch.where(k < 0, d_a, torch.where(k > c, d_b, d_mid))


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
