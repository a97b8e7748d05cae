"""`bezier`: the paper's quadratic Bézier stroke with a thickness and a transparency at each end.

13 numbers: x0 y0 x1 y1 x2 y2 r0 t0 r1 t1 R G B. The stroke is the union of disks centred on the
curve B(s) = (1-s)²P0 + 2s(1-s)P1 + s²P2 whose radius runs linearly from r0 to r1; its opacity
runs linearly from t0 to t1 along the chord P0 -> P2 (an SVG linear gradient, so the vector
export is exact). The curve is followed by a polyline fine enough to stay within 0.1 px.
"""

from __future__ import annotations

import math

import torch

from strokepaint import sdf
from strokepaint.brush import Brush, Param, fmt, log_uniform, mix, opacity, uniform

MAX_RADIUS = 0.25  # of the longer side: 32 px on a 128 px canvas


def _thin(r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Strokes thinner than a pixel: drawn one pixel wide with proportionally less opacity."""
    return r.clamp_min(0.5), (2.0 * r).clamp(0.0, 1.0)


TOLERANCE = 0.1  # px: how far the polyline may stray from the true curve


def segments(bend: torch.Tensor) -> torch.Tensor:
    """Polyline segments per stroke (a power of two, 2..64) that keep within TOLERANCE of the
    curve, which the polyline deviates from by bend / (4 M²), bend = |P0 - 2 P1 + P2| in px."""
    need = (bend.clamp_min(0.0) / (4 * TOLERANCE)).sqrt().clamp_min(1.0)
    return (2 ** need.log2().ceil()).clamp(2, 64).long()


class Bezier(Brush):
    name = "bezier"
    version = "1.0"
    description = "quadratic Bézier with thickness and transparency at both ends (the paper's stroke)"
    geometry = (
        Param("x0", "x", "start point x"),
        Param("y0", "y", "start point y"),
        Param("x1", "x", "control point x"),
        Param("y1", "y", "control point y"),
        Param("x2", "x", "end point x"),
        Param("y2", "y", "end point y"),
        Param("r0", "size", "radius at the start", 0.0, MAX_RADIUS),
        Param("t0", "opacity", "opacity at the start"),
        Param("r1", "size", "radius at the end", 0.0, MAX_RADIUS),
        Param("t1", "opacity", "opacity at the end"),
    )

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        flat = torch.stack(
            [uniform(n, gen) for _ in range(6)]
            + [uniform(n, gen, 0, MAX_RADIUS), uniform(n, gen), uniform(n, gen, 0, MAX_RADIUS), uniform(n, gen)],
            1,
        )
        # shaped: strokes of every length and thickness, mostly short and thin as painting needs
        start = torch.stack([uniform(n, gen), uniform(n, gen)], 1)
        reach = log_uniform(n, gen, 0.01, 0.8)[:, None]
        ctrl = (start + reach * (2 * torch.rand(n, 2, generator=gen) - 1)).clamp(0, 1)
        end = (start + reach * (2 * torch.rand(n, 2, generator=gen) - 1)).clamp(0, 1)
        r0 = log_uniform(n, gen, 0.002, MAX_RADIUS)
        r1 = (r0 * log_uniform(n, gen, 0.25, 4.0)).clamp(0, MAX_RADIUS)
        shaped = torch.stack(
            [start[:, 0], start[:, 1], ctrl[:, 0], ctrl[:, 1], end[:, 0], end[:, 1], r0, opacity(n, gen), r1, opacity(n, gen)], 1
        )
        return mix(flat, shaped, gen)

    def bounds(self, g: torch.Tensor) -> torch.Tensor:
        xs, ys = g[:, [0, 2, 4]], g[:, [1, 3, 5]]
        pad = _thin(torch.maximum(g[:, 6], g[:, 8]))[0] + 1.0
        return torch.stack([xs.amin(1) - pad, ys.amin(1) - pad, xs.amax(1) + pad, ys.amax(1) + pad], 1)

    def sdf(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m_each = segments((g[:, 0:2] - 2 * g[:, 2:4] + g[:, 4:6]).norm(dim=1))
        d = torch.empty_like(x)
        for m in m_each.unique().tolist():  # strokes grouped by how finely they need following
            rows = (m_each == m).nonzero()[:, 0]
            d[rows] = _polyline_distance(g[rows], x[rows], y[rows], m)
        return d, self.opacity(g, x, y)

    def opacity(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # opacity runs along the chord P0 -> P2, clamped at the ends (SVG gradient, spreadMethod pad)
        x0, y0, x2, y2, r0, t0, r1, t1 = (g[:, i : i + 1] for i in (0, 1, 4, 5, 6, 7, 8, 9))
        o0, o1 = t0 * _thin(r0)[1], t1 * _thin(r1)[1]
        cx, cy = x2 - x0, y2 - y0
        cc = cx * cx + cy * cy
        s = torch.where(cc > 1e-12, ((x - x0) * cx + (y - y0) * cy) / cc.clamp_min(1e-12), torch.ones_like(x))
        return o0 + (o1 - o0) * s.clamp(0.0, 1.0)

    def svg(self, g: list[float], rgb: str, uid: str) -> str:
        x0, y0, x1, y1, x2, y2, r0, t0, r1, t1 = g
        m = int(segments(torch.tensor(math.hypot(x0 - 2 * x1 + x2, y0 - 2 * y1 + y2))))
        rr0, f0 = (max(r0, 0.5), min(1.0, 2 * r0))
        rr1, f1 = (max(r1, 0.5), min(1.0, 2 * r1))
        pts = []
        for k in range(m + 1):
            s = k / m
            a, b, c = (1 - s) ** 2, 2 * s * (1 - s), s * s
            pts.append((a * x0 + b * x1 + c * x2, a * y0 + b * y1 + c * y2, rr0 + (rr1 - rr0) * s))
        # the union of disks = end disks + the hull quad of each segment + at each inner vertex the
        # joint between neighbouring quads (or a disk, where the arc beyond the joint, ~ r θ²/8
        # for a turn θ, is visible, or where a segment has no quad because one disk holds the other)
        quads = [_hull_quad(pts[k], pts[k + 1]) for k in range(m)]
        d = [_circle_path(*pts[0]), _circle_path(*pts[-1])]
        d += [_polygon(q) for q in quads if q]
        for k in range(1, m):
            (ax, ay, _), (bx, by, r), (cx, cy, _) = pts[k - 1], pts[k], pts[k + 1]
            turn = abs(math.atan2((bx - ax) * (cy - by) - (by - ay) * (cx - bx), (bx - ax) * (cx - bx) + (by - ay) * (cy - by)))
            before, after = quads[k - 1], quads[k]
            if before is None or after is None or r * turn * turn / 8 > 0.01:
                d.append(_circle_path(*pts[k]))
            else:  # the joint: convex hull of the two chords where the quads meet
                d.append(_polygon(_hull([before[1], before[2], after[3], after[0]])))
        path = " ".join(d)
        o0, o1 = t0 * f0, t1 * f1
        if (x2 - x0) ** 2 + (y2 - y0) ** 2 <= 1e-12 or abs(o0 - o1) < 1e-6:
            return f'<path d="{path}" fill="{rgb}" fill-opacity="{fmt(o1)}"/>'
        gid = f"g{uid}"
        stops = "".join(f'<stop offset="{k}" stop-color="{rgb}" stop-opacity="{o:.4f}"/>' for k, o in ((0, o0), (1, o1)))
        grad = (
            f'<linearGradient id="{gid}" gradientUnits="userSpaceOnUse" '
            f'x1="{fmt(x0)}" y1="{fmt(y0)}" x2="{fmt(x2)}" y2="{fmt(y2)}">{stops}</linearGradient>'
        )
        return f'<defs>{grad}</defs><path d="{path}" fill="url(#{gid})"/>'


def _polyline_distance(g: torch.Tensor, x: torch.Tensor, y: torch.Tensor, m: int) -> torch.Tensor:
    """Signed distance to the union of disks along an m-segment polyline of the curve: [N, P].

    Exact within the anti-aliasing band |sd| <= sdf.BAND, a lower bound beyond it outside the stroke
    (what the rasterizer reads). Each segment's tapered capsule is the union of its two end disks
    and the band between their outer tangents, so the union of capsules is the union of these
    parts, a disk shared by two segments counting once. Each row's points are usually one small
    block: judged at the row's centre (sd is 1-Lipschitz), only parts that can be nearest to some
    point of the row and can reach the band are evaluated, and each row evaluates only its own.
    """
    x0, y0, x1, y1, x2, y2, r0, _, r1, _ = (g[:, i : i + 1] for i in range(10))
    r0, r1 = _thin(r0)[0], _thin(r1)[0]
    s = torch.linspace(0.0, 1.0, m + 1, dtype=g.dtype, device=g.device)[None]  # [1, m+1]
    a, b, c = (1 - s) ** 2, 2 * s * (1 - s), s * s
    vx, vy, vr = a * x0 + b * x1 + c * x2, a * y0 + b * y1 + c * y2, r0 + (r1 - r0) * s  # [N, m+1]
    ax, ay, bx, by, ra, rb = vx[:, :-1], vy[:, :-1], vx[:, 1:], vy[:, 1:], vr[:, :-1], vr[:, 1:]  # each [N, m]
    cx, cy = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    dc = sdf.tapered_capsule(cx, cy, ax, ay, bx, by, ra, rb)  # [N, m] each segment's distance at the centre
    if x.shape[1] == 1:
        return dc.amin(1, keepdim=True)
    spread = torch.hypot(x - cx, y - cy).amax(1, keepdim=True)  # [N, 1]
    useful = dc <= dc.amin(1, keepdim=True) + 2 * spread + 1e-3
    far = dc - spread > sdf.BAND + 1e-3  # beyond the band at every point of the row: only a lower bound
    floor = torch.where(useful & far, dc, torch.full_like(dc, sdf.FAR)).amin(1, keepdim=True) - spread
    useful &= ~far
    ends = torch.zeros_like(vx, dtype=torch.bool)  # [N, m+1] disks at the ends of useful segments
    ends[:, :-1] |= useful
    ends[:, 1:] |= useful
    d = _nearest(floor.expand_as(x), x, y, ends, torch.stack([vx, vy, vr], 2), sdf.circle)
    return _nearest(d, x, y, useful, torch.stack([ax, ay, bx, by, ra, rb], 2), sdf.tangent_band)


def _nearest(d: torch.Tensor, x: torch.Tensor, y: torch.Tensor, used: torch.Tensor, parts: torch.Tensor, dist) -> torch.Tensor:
    """min(d, dist(x, y, *part)) over each row's used parts: d, x, y [N, P], used [N, K], parts [N, K, F].

    Rows are sorted by how many parts they use, so the j-th pass over the parts touches only the
    rows that have a j-th part (a prefix): no work is spent on padding."""
    count = used.sum(1)
    perm = count.argsort(descending=True, stable=True)
    rank = (~used[perm]).to(torch.uint8).argsort(dim=1, stable=True)  # [N, K] each row's used parts first
    count = count[perm]
    out, xs, ys = d[perm], x[perm], y[perm]
    for j in range(int(count[0]) if len(count) else 0):
        k = int((count > j).sum())
        q = parts[perm[:k], rank[:k, j], :, None]  # [k, F, 1] each row's j-th part
        torch.minimum(out[:k], dist(xs[:k], ys[:k], *q.unbind(1)), out=out[:k])
    res = torch.empty_like(out)
    res[perm] = out
    return res


def _circle_path(x: float, y: float, r: float) -> str:
    """A circle as a subpath drawn with negative shoelace area (same orientation as _hull_quad)."""
    return f"M{fmt(x - r)} {fmt(y)}A{fmt(r)} {fmt(r)} 0 1 0 {fmt(x + r)} {fmt(y)}A{fmt(r)} {fmt(r)} 0 1 0 {fmt(x - r)} {fmt(y)}Z"


def _hull_quad(a: tuple[float, float, float], b: tuple[float, float, float]) -> list[tuple[float, float]] | None:
    """Corners (a-side, b-side, b-side, a-side) of the quadrilateral between the outer tangents
    of two disks; None if one disk holds the other."""
    (ax, ay, ra), (bx, by, rb) = a, b
    h = math.hypot(bx - ax, by - ay)
    if h <= abs(ra - rb) + 1e-9:
        return None
    ux, uy = (bx - ax) / h, (by - ay) / h
    vx, vy = -uy, ux
    sn = (ra - rb) / h
    cs = math.sqrt(max(0.0, 1 - sn * sn))
    w1 = (sn * ux + cs * vx, sn * uy + cs * vy)
    w2 = (sn * ux - cs * vx, sn * uy - cs * vy)
    return [
        (ax + ra * w1[0], ay + ra * w1[1]),
        (bx + rb * w1[0], by + rb * w1[1]),
        (bx + rb * w2[0], by + rb * w2[1]),
        (ax + ra * w2[0], ay + ra * w2[1]),
    ]


def _hull(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Convex hull (monotone chain) of a few points."""
    pts = sorted(set(pts))
    if len(pts) < 3:
        return pts

    def half(seq):
        out: list[tuple[float, float]] = []
        for p in seq:
            while len(out) >= 2 and (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0]) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return half(pts) + half(pts[::-1])


def _polygon(pts: list[tuple[float, float]]) -> str:
    """A closed subpath with negative shoelace area, the orientation of _circle_path, so that
    under the nonzero rule every subpath adds to the union."""
    area = sum(pts[i][0] * pts[(i + 1) % len(pts)][1] - pts[(i + 1) % len(pts)][0] * pts[i][1] for i in range(len(pts)))
    if area > 0:
        pts = pts[::-1]
    return "M" + "L".join(f"{fmt(px)} {fmt(py)}" for px, py in pts) + "Z"
