"""Exact rasterization of strokes at any resolution, shared by every brush.

A brush describes a stroke by a signed distance (pixels, < 0 inside) and an opacity at each
point; this module turns that into anti-aliased coverage and draws a stroke only where it can
cover: the canvas is cut into BLOCK x BLOCK blocks, a stroke visits the blocks inside its
bounding box, and blocks whose centre lies farther from the stroke than the block's
half-diagonal are skipped (valid because brushes return true distances, or lower bounds of
them, outside a stroke).

    rasterize(brush, g, W, H)            -> alpha maps [N, H, W]   (training data, tests)
    alpha_blocks(brush, g, W, H)         -> the same, only the blocks a stroke can reach (colour fit)
    render(brush, strokes, W, H, bg)     -> canvas [3, H, W]       (paintings at full size)
"""

from __future__ import annotations

import math

import torch

from strokepaint.brush import Brush, call
from strokepaint.compose import blank, composite
from strokepaint.sdf import BAND

Blocks = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # alpha_blocks: (stroke [M], block [M], alpha [M, BLOCK, BLOCK])
BLOCK = 8
SPLIT = 4  # cells per side of the next coarser cell, in the coarse-to-fine search for a stroke's blocks
PAIRS_PER_CHUNK = 16384  # (stroke, block) pairs evaluated per sdf call: bounds peak memory
CENTRES_PER_CHUNK = 65536  # the same for the coarse pass, one point (a block's centre) per pair


def coverage(sd: torch.Tensor) -> torch.Tensor:
    """Anti-aliasing: the fraction of a pixel inside an edge at signed distance sd (box filter)."""
    return (BAND - sd).clamp(0.0, 1.0)


def _grid_pairs(bounds: torch.Tensor, width: int, height: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(stroke, row, column) of every size x size cell that a stroke's bounding box touches."""
    nx, ny = math.ceil(width / size), math.ceil(height / size)
    x0 = (bounds[:, 0] / size).floor().clamp(0, nx - 1)
    y0 = (bounds[:, 1] / size).floor().clamp(0, ny - 1)
    x1 = (bounds[:, 2] / size).floor().clamp(0, nx - 1)
    y1 = (bounds[:, 3] / size).floor().clamp(0, ny - 1)
    off = (bounds[:, 2] < 0) | (bounds[:, 3] < 0) | (bounds[:, 0] > width) | (bounds[:, 1] > height)
    cols = torch.arange(nx, dtype=bounds.dtype, device=bounds.device)
    rows = torch.arange(ny, dtype=bounds.dtype, device=bounds.device)
    inx = (cols[None] >= x0[:, None]) & (cols[None] <= x1[:, None])  # [N, nx]
    iny = (rows[None] >= y0[:, None]) & (rows[None] <= y1[:, None])  # [N, ny]
    return (iny[:, :, None] & inx[:, None, :] & ~off[:, None, None]).nonzero(as_tuple=True)


def _pairs(brush: Brush, gpx: torch.Tensor, width: int, height: int, block: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(stroke index, block index, block wholly inside) of every block a stroke may cover, sorted by stroke.

    Cells are classified by the distance at their centre: beyond the half-diagonal (+ AA margin)
    the stroke cannot reach the cell; below minus that, the cell is wholly inside (|sd| inside
    a union of shapes underestimates the depth, so this is safe). Classification runs coarse to
    fine (cells SPLIT times smaller at each level, down to blocks, children outside the stroke's
    bounding box dropped), so the fine tests run only near a stroke's edge.
    """
    nbx, nby = math.ceil(width / block), math.ceil(height / block)
    bounds = call(brush, "bounds", gpx)
    size = block
    while size < max(width, height):
        size *= SPLIT
    sid, cy, cx = _grid_pairs(bounds, width, height, size)
    kids = torch.arange(SPLIT)
    whole: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]] = []  # cells wholly inside
    while True:
        sd = _centre_sd(brush, gpx, sid, cy, cx, size)
        reach = size * math.sqrt(0.5) + 1.0
        inner = sd < -reach
        whole.append((sid[inner], cy[inner], cx[inner], size // block))
        edge = (sd <= reach) & ~inner
        sid, cy, cx = sid[edge], cy[edge], cx[edge]
        if size == block:
            break
        size //= SPLIT  # the children of every edge cell that the stroke's box touches
        cy = (cy[:, None] * SPLIT + kids).repeat_interleave(SPLIT, 1).reshape(-1)
        cx = (cx[:, None] * SPLIT + kids).repeat(1, SPLIT).reshape(-1)
        sid = sid.repeat_interleave(SPLIT * SPLIT)
        b = bounds[sid]
        on = (cy < math.ceil(height / size)) & (cx < math.ceil(width / size))
        on &= (b[:, 0] < (cx + 1) * size) & (b[:, 2] >= cx * size) & (b[:, 1] < (cy + 1) * size) & (b[:, 3] >= cy * size)
        sid, cy, cx = sid[on], cy[on], cx[on]
    parts = [(sid, cy * nbx + cx, torch.zeros(len(sid), dtype=torch.bool))]
    for s, y, x, k in whole:  # cells wholly inside -> their blocks (clipped to the canvas)
        off = torch.arange(k)
        by = (y[:, None] * k + off).repeat_interleave(k, 1).reshape(-1)
        bx = (x[:, None] * k + off).repeat(1, k).reshape(-1)
        s = s.repeat_interleave(k * k)
        on = (by < nby) & (bx < nbx)
        parts.append((s[on], (by * nbx + bx)[on], torch.ones(int(on.sum()), dtype=torch.bool)))
    sid, bid, inside = (torch.cat(t) for t in zip(*parts))
    order = torch.argsort(sid, stable=True)
    return sid[order], bid[order], inside[order]


def _centre_sd(brush: Brush, gpx: torch.Tensor, sid: torch.Tensor, by: torch.Tensor, bx: torch.Tensor, size: int) -> torch.Tensor:
    """Signed distance of stroke sid[i] at the centre of the size x size block (by[i], bx[i])."""
    out = torch.empty(len(sid), dtype=gpx.dtype, device=gpx.device)
    for s in range(0, len(sid), CENTRES_PER_CHUNK):
        e = s + CENTRES_PER_CHUNK
        cx = ((bx[s:e].to(gpx.dtype) + 0.5) * size)[:, None]
        cy = ((by[s:e].to(gpx.dtype) + 0.5) * size)[:, None]
        sd = call(brush, "sdf", gpx[sid[s:e]], cx, cy)[0]
        out[s:e] = sd[:, 0]
    return out


def _block_alpha(
    brush: Brush, gpx: torch.Tensor, sid: torch.Tensor, bid: torch.Tensor, inside: torch.Tensor, nbx: int, block: int
) -> torch.Tensor:
    """Alpha of stroke sid[i] over block bid[i]: [len(sid), BLOCK, BLOCK]. Blocks wholly inside
    the stroke need only its opacity; the distance is computed for the rest."""
    r = torch.arange(block, dtype=gpx.dtype, device=gpx.device) + 0.5
    ox = ((bid % nbx) * block).to(gpx.dtype)
    oy = ((bid // nbx) * block).to(gpx.dtype)
    x = (ox[:, None, None] + r[None, None, :]).expand(-1, block, block).reshape(len(sid), -1)
    y = (oy[:, None, None] + r[None, :, None]).expand(-1, block, block).reshape(len(sid), -1)
    alpha = torch.empty_like(x)
    edge = ~inside
    if edge.any():
        xe = x[edge]
        sd, op = call(brush, "sdf", gpx[sid[edge]], xe, y[edge])
        alpha[edge] = coverage(sd) * op
    if inside.any():
        xi = x[inside]
        op = call(brush, "opacity", gpx[sid[inside]], xi, y[inside])
        alpha[inside] = op
    return alpha.view(len(sid), block, block)


def _chunks(sid: torch.Tensor, size: int):
    """Slices of the sorted pair list, each ending at a stroke boundary where possible."""
    start = 0
    while start < len(sid):
        stop = min(start + size, len(sid))
        if stop < len(sid):
            # extend to the end of the last stroke so a chunk holds whole strokes
            last = sid[stop - 1]
            stop = int(torch.searchsorted(sid, last, right=True))
        yield start, stop
        start = stop


@torch.no_grad()
def alpha_blocks(brush: Brush, g: torch.Tensor, width: int, height: int, block: int = BLOCK, max_pairs: int | None = None) -> Blocks | None:
    """Alpha maps of strokes [N, G] (geometry, stored units) where they can be non-zero:
    (stroke [M], block [M], alpha [M, block, block]) for every (stroke, block) pair, sorted by
    stroke; blocks numbered row by row on the ceil(H / block) x ceil(W / block) grid. None if
    there are more than `max_pairs` pairs (memory: block^2 x 4 bytes each)."""
    g = g.float()
    gpx = brush.to_pixels(g, width, height)
    nbx = math.ceil(width / block)
    sid, bid, inside = _pairs(brush, gpx, width, height, block)
    if max_pairs is not None and len(sid) > max_pairs:
        return None
    alpha = torch.empty(len(sid), block, block, dtype=g.dtype, device=g.device)
    for s, e in _chunks(sid, PAIRS_PER_CHUNK):
        alpha[s:e] = _block_alpha(brush, gpx, sid[s:e], bid[s:e], inside[s:e], nbx, block)
    return sid, bid, alpha


@torch.no_grad()
def rasterize(brush: Brush, g: torch.Tensor, width: int, height: int, block: int = BLOCK) -> torch.Tensor:
    """Alpha maps (coverage x opacity) of strokes [N, G] (geometry, stored units): [N, H, W]."""
    n = g.shape[0]
    nbx, nby = math.ceil(width / block), math.ceil(height / block)
    sid, bid, alpha = alpha_blocks(brush, g, width, height, block)
    out = alpha.new_zeros(n * nby * nbx, block, block)
    out[sid * (nby * nbx) + bid] = alpha
    out = out.view(n, nby, nbx, block, block).permute(0, 1, 3, 2, 4).reshape(n, nby * block, nbx * block)
    return out[:, :height, :width]


@torch.no_grad()
def render(
    brush: Brush,
    strokes: torch.Tensor,
    width: int,
    height: int,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    block: int = BLOCK,
    canvas: torch.Tensor | None = None,
    alpha: Blocks | None = None,
) -> torch.Tensor:
    """Composite strokes [N, G + 3] (stored units) over a canvas: returns [3, H, W] in [0, 1].

    `canvas`, if given ([3, H, W]), is painted over instead of a blank background. `alpha`, if
    given, is `alpha_blocks` of these strokes' geometry at this size (not computed again).
    """
    strokes = strokes.float()
    g, rgb = strokes[:, : brush.n_geometry], strokes[:, brush.n_geometry :]
    gpx = brush.to_pixels(g, width, height)
    nbx, nby = math.ceil(width / block), math.ceil(height / block)
    if canvas is None:
        canvas = blank(background, height, width)
    padded = torch.zeros(3, nby * block, nbx * block, dtype=canvas.dtype, device=canvas.device)
    padded[:, :height, :width] = canvas
    # (a copy of padded, or a view of it: either is ours to paint on)
    blocks = padded.view(3, nby, block, nbx, block).permute(1, 3, 0, 2, 4).reshape(nby * nbx, 3, block, block)
    del padded
    if alpha is None:
        sid, bid, inside = _pairs(brush, gpx, width, height, block)
    else:
        sid, bid, known = alpha
    for s, e in _chunks(sid, PAIRS_PER_CHUNK):
        a_chunk = _block_alpha(brush, gpx, sid[s:e], bid[s:e], inside[s:e], nbx, block) if alpha is None else known[s:e]
        # strokes in order; each stroke's pairs are contiguous
        ids, counts = torch.unique_consecutive(sid[s:e], return_counts=True)
        offset = s
        for stroke, count in zip(ids.tolist(), counts.tolist()):
            rows = bid[offset : offset + count]
            a = a_chunk[offset - s : offset - s + count, None]
            blocks[rows] = composite(blocks[rows], a, rgb[stroke][None])
            offset += count
    out = blocks.clamp_(0.0, 1.0).view(nby, nbx, 3, block, block).permute(2, 0, 3, 1, 4).reshape(3, nby * block, nbx * block)
    return out[:, :height, :width]
