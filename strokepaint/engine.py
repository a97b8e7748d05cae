"""The painting engine: a picture -> strokes, coarse to fine on square tiles -> exact pixels.

    picture [3, H, W]
      passes        pass 0: square tiles of side min(W, H) covering the picture (one for a square);
                    each later pass halves the tile side, down to ~128 px of the picture (finer for
                    small pictures given many strokes, and for the agent; `grid` sets the finest pass)
      budget        a pass's strokes go to its tiles in proportion to their remaining error
      per pass      every tile is seen through a *window*: the tile grown by a margin on each side,
                    resampled to `resolution` px. The tiles are painted in four phases (the four
                    parities of column and row: no two tiles of a phase touch), each phase's
                    windows as one batch, each phase seeing what the earlier ones painted:
                      seed      the agent paints the tile (bundles of k strokes, each in its best
                                colour where it lands unless the agent says otherwise), or strokes are
                                placed where the error is largest, in its colour (`auto` chooses,
                                as the agent says: `choose_method`)
                      refine    Adam on the strokes' logits through the neural renderer, against the
                                target over the whole window: a stroke that spills over a tile border
                                is judged where it lands (no seams)
                    then the strokes move to picture units and the exact rasterizer draws them
                    onto the working canvas (the picture at the finest windows' scale) before
                    the next phase
      pixels        the brush's exact rasterizer at the output size (PNG, SVG, re-export agree)

Strokes are kept in painting order: pass by pass, phase by phase, tile by tile, stroke by stroke.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from strokepaint import images, raster
from strokepaint.brush import Brush, call
from strokepaint.compose import blank, composite, uncovered
from strokepaint.errors import UsageError
from strokepaint.fsutil import atomic_write, named
from strokepaint.strokefile import quantized

if TYPE_CHECKING:
    from strokepaint.agent import Actor
    from strokepaint.renderer import NeuralRenderer
    from strokepaint.strokefile import StrokeFile

TILE = 128  # px of the picture: the finest tiles of a large picture (the paper's patch size)
MAX_STROKES = 100_000
PHASES_MIN_TILES = 16  # a pass of the agent's strokes (refined or not) is painted in phases only above this many tiles, or if they overlap
FIT_MAX_PAIRS = 2_000_000  # colours are fitted at the end if the strokes reach at most this many 8x8 blocks (alpha maps: 256 bytes each)
FIT_MAX_ENTRIES = 16_000_000  # ... and their products within the squares (sum of strokes^2 per square) are at most this many (~0.4 GB)
# strokes up to which the fit's equations are solved directly (Cholesky, N x N doubles), beyond by
# conjugate gradients (docs/engine.md, speed-ups: 4,000 strokes on 851x851, the same MSE, the fit
# 1.93 -> 1.72 s and its added memory 130 -> 2 MB against 6,000)
FIT_DENSE = 2000
FIT_BLOCK = 32  # px: the colour fit sums its normal equations over squares of this side (a multiple of raster.BLOCK)
FIT_CHUNK = 1_000_000  # numbers per batch of squares in the colour fit (8 MB)
GROUP = 1536  # strokes refined at once (bounds memory: ~0.5 MB of saved activations per stroke)
AGENT_CHUNK = 256  # tiles the agent paints at once (bounds memory: ~1 MB per tile)
METHODS = ("auto", "optimize", "agent")
AUTO_PIXELS = 2_000_000  # `auto`: an agent with auto_steps > 0 may lay the strokes on pictures up to this size (choose_method)
Progress = Callable[[str, float, int], None]  # (what, passes done (fractional), passes)


@dataclass
class PaintConfig:
    """How a picture is painted. Defaults chosen by measurement (README: quality and speed)."""

    strokes: int = 400  # strokes in the finished painting
    method: str = "auto"  # optimize (seeds from the error map) | agent (seeds from the agent); both then refine | auto: `choose_method`
    refine: int = -1  # gradient steps per pass; -1: the method's default (`iterations`)
    step_budget: int = 28_000  # at most this many stroke-steps (strokes x steps) in all passes
    agent_step_budget: int = 12_000  # the same from the agent's strokes: they need fewer, and the agent takes time too
    # px of a tile's window in the neural renderer: a window of fewer working-canvas px is drawn at
    # its own size (no finer than the picture it is compared with), but at least `min_resolution`
    # (docs/engine.md, step 2: 128 px, 1,000 strokes, MSE -9 % in 20 % less time against always 80)
    resolution: int = 80
    min_resolution: int = 16
    margin: float = 0.125  # window = tile grown by this fraction of its side on every side
    lr: float = 0.1  # Adam on the strokes' logits
    grid: int = 0  # tiles of the finest pass along the shorter side; 0: from the size and budget
    # a pass's tiles in 1, 2 or 4 phases, each seeing the earlier ones' strokes (docs/engine.md, step 2: 4
    # phases instead of 1, 1280x851 photo 4,000 strokes MSE -15 %, dev + 8 photos 200 strokes -6 %)
    phases: int = 4
    fit_colours: bool = True  # finally, the best colours for the exact rasterizer
    # optimize: at these fractions of a pass's steps, strokes that barely show are seeded anew where
    # the error is (dev + 8 more photos, 200 strokes: mean MSE 0.00274 -> 0.00259 at the same time)
    reseed: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    reseed_below: float = 0.1  # "barely shows": visible area below this fraction of the tile's mean
    seed: int = 0
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def iterations(self, method: str, budgets: list[int]) -> list[int]:
        """Gradient steps of each pass (its `budgets` strokes). A step costs in proportion to its
        strokes, so a pass of many strokes gets fewer: base x min(1, 200 / strokes), at least 20;
        and all together at most `step_budget` stroke-steps (base 120), from the agent's strokes
        `agent_step_budget` (base 40), so a big painting stays within the time target (README,
        quality and speed)."""
        if self.refine >= 0:
            return [self.refine] * len(budgets)
        base, cap = (40, self.agent_step_budget) if method == "agent" else (120, self.step_budget)
        steps = [max(20, base * min(1.0, 200 / max(b, 1))) for b in budgets]
        scale = min(1.0, cap / max(1.0, sum(n * b for n, b in zip(steps, budgets))))
        return [max(1, round(n * scale)) for n in steps]


def _whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_options(strokes: int, method: str, refine: int, grid: int) -> None:
    """Painting options a user gives (CLI or API): a one-line UsageError for any out of range."""
    for name, value in (("strokes", strokes), ("refine", refine), ("grid", grid)):
        if not _whole(value):
            raise UsageError(f"{name}={value!r}: give a whole number")
    if not 1 <= strokes <= MAX_STROKES:
        raise UsageError(f"--strokes {strokes}: choose from 1 to {MAX_STROKES:,}")
    if not isinstance(method, str) or method not in METHODS:
        raise UsageError(f"--method {method}: choose auto, optimize or agent")
    if not -1 <= refine <= 10_000:
        raise UsageError(f"--refine {refine}: choose from 0 to 10000 gradient steps per pass (-1: the default)")
    if not 0 <= grid <= 256:
        raise UsageError(f"--grid {grid}: choose from 1 to 256 tiles along the shorter side (0: automatic)")


@dataclass
class Tile:
    x: float  # left edge, px of the picture
    y: float  # top edge
    side: float  # px


# ---- where the strokes go ----------------------------------------------------------------------
def tiles_for(width: int, height: int, side: float) -> list[Tile]:
    """Square tiles of `side` covering the picture, spread evenly (overlapping where they must);
    a tile wider than the picture is centred on it (a thin strip's tiles reach beyond its edges)."""
    side = min(side, max(width, height))

    def starts(length: int) -> list[float]:
        n = max(1, math.ceil(length / side - 1e-6))
        return [(length - side) / 2] if n == 1 else [i * (length - side) / (n - 1) for i in range(n)]

    return [Tile(x, y, side) for y in starts(height) for x in starts(width)]


def plan(width: int, height: int, strokes: int, bundle: int = 5, grid: int = 0, per_tile: int = 100) -> tuple[list[list[Tile]], list[int]]:
    """Passes of tiles, coarse to fine, and the strokes of each pass (multiples of `bundle`).

    Tiles halve until they are ~TILE px of the picture and, for small pictures, until a finest tile
    gets no more than ~`per_tile` strokes (never below 16 px). A pass gets a share of the budget in
    proportion to the square root of its tile count: fine passes add detail, coarse ones lay the
    ground.
    """
    short = min(width, height)
    sides = [float(short)]
    # the coarsest pass has no more tiles than bundles to give them: a thin strip (2000x3 px) would
    # otherwise be cut into hundreds of 3-px tiles, the strokes going to the first few
    while len(tiles_for(width, height, sides[0])) > max(1, strokes // bundle):
        sides[0] *= 2
    if grid:
        while sides[-1] / 2 > short / grid * 1.01:
            sides.append(sides[-1] / 2)
        if grid > 1:
            sides.append(short / grid)
    else:
        while (
            sides[-1] / 2 >= 16
            and (sides[-1] > TILE * 1.01 or strokes / len(tiles_for(width, height, sides[-1])) > per_tile)
            and len(tiles_for(width, height, sides[-1] / 2)) <= max(1, strokes // 4)
        ):
            sides.append(sides[-1] / 2)
    passes = [tiles_for(width, height, s) for s in sides]
    weights = [math.sqrt(len(p)) for p in passes]
    total = sum(weights)
    budgets, left = [], strokes
    for w in weights[:-1]:
        b = min(left, max(bundle, round(strokes * w / total / bundle) * bundle))
        budgets.append(b)
        left -= b
    budgets.append(left)
    keep = [i for i, b in enumerate(budgets) if b > 0]
    return [passes[i] for i in keep], [budgets[i] for i in keep]


def share(budget: int, errors: torch.Tensor, cap: int | None = None) -> list[int]:
    """Split `budget` strokes over tiles in proportion to their errors (largest remainders), at
    most `cap` per tile (what a capped tile cannot take goes to the others)."""
    n = len(errors)
    w = errors.double().clamp_min(0) + 1e-12
    out = torch.zeros(n, dtype=torch.long)
    cap = budget if cap is None else max(cap, -(-budget // n))
    left = budget
    while left > 0:
        free = out < cap
        exact = torch.where(free, w, torch.zeros_like(w))
        exact = exact / exact.sum() * left
        add = torch.minimum(exact.floor().long(), cap - out)
        rest = left - int(add.sum())
        if rest and int(add.sum()) == 0:  # hand out the remainders, largest first
            order = torch.argsort(-(exact - exact.floor()), stable=True)
            for i in order.tolist():
                if rest == 0:
                    break
                if free[i] and out[i] + add[i] < cap:
                    add[i] += 1
                    rest -= 1
        out += add
        left = budget - int(out.sum())
    return out.tolist()


# ---- windows -------------------------------------------------------------------------------------
@dataclass
class Windows:
    """The windows of a pass: boxes in picture px, and the picture's extent inside each (window units)."""

    x0: torch.Tensor  # [n] left, px
    y0: torch.Tensor  # [n] top
    side: torch.Tensor  # [n] px
    lo: torch.Tensor  # [n, 2] x, y of the picture's top-left corner, window units (clamped to 0..1)
    hi: torch.Tensor  # [n, 2] bottom-right

    @classmethod
    def around(cls, tiles: list[Tile], margin: float, width: int, height: int) -> Windows:
        x0 = torch.tensor([t.x - t.side * margin for t in tiles], dtype=torch.float64)
        y0 = torch.tensor([t.y - t.side * margin for t in tiles], dtype=torch.float64)
        side = torch.tensor([t.side * (1 + 2 * margin) for t in tiles], dtype=torch.float64)
        lo = torch.stack([-x0 / side, -y0 / side], 1).clamp(0, 1)
        hi = torch.stack([(width - x0) / side, (height - y0) / side], 1).clamp(0, 1)
        return cls(x0, y0, side, lo.float(), hi.float())

    def select(self, idx: torch.Tensor) -> Windows:
        return Windows(self.x0[idx], self.y0[idx], self.side[idx], self.lo[idx], self.hi[idx])

    def crop(self, picture: torch.Tensor, r: int) -> torch.Tensor:
        """The windows of a picture [3, H, W] at r x r: [n, 3, r, r] (area-averaged; outside: the
        border repeated, masked out of every loss by `inside`)."""
        out, pooled = [], {1: picture}
        for x0, y0, side in zip(self.x0.tolist(), self.y0.tolist(), self.side.tolist()):
            k = max(1, int(side / r))  # shrink by whole pixels first: an area average, no aliasing
            if k not in pooled:
                pooled[k] = torch.nn.functional.avg_pool2d(picture[None], k, k, ceil_mode=True)[0]
            small = pooled[k]
            _, sh, sw = small.shape
            c = (torch.arange(r, dtype=torch.float64) + 0.5) * (side / r)
            gx = ((x0 + c) / k / sw * 2 - 1).float()
            gy = ((y0 + c) / k / sh * 2 - 1).float()
            grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None]
            out.append(torch.nn.functional.grid_sample(small[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0])
        return torch.stack(out).clamp(0, 1)

    def inside(self, r: int) -> torch.Tensor:
        """[n, 1, r, r]: 1 where a window pixel lies on the picture."""
        c = (torch.arange(r, dtype=torch.float32) + 0.5) / r
        inx = (c >= self.lo[:, :1]) & (c <= self.hi[:, :1])  # [n, r]
        iny = (c >= self.lo[:, 1:]) & (c <= self.hi[:, 1:])
        return (iny[:, :, None] & inx[:, None, :]).float()[:, None]


def from_logits(z: torch.Tensor, low: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """The optimiser's logits -> strokes: each number squeezed into [low, low + span]."""
    return low + torch.sigmoid(z) * span


def to_logits(s: torch.Tensor, low: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """Strokes -> logits (from_logits' inverse), kept finite at the ends of the range."""
    return torch.logit(((s - low) / span).clamp(1e-4, 1 - 1e-4))


class Units:
    """Strokes between window units (logits for the optimiser) and picture units."""

    def __init__(self, brush: Brush, win: Windows, width: int, height: int):
        params = brush.params
        n, p = len(win.side), len(params)
        longest = max(width, height)
        low, high = (t.repeat(n, 1) for t in brush.ranges())
        self.xs, self.ys, self.sizes = brush.where("x"), brush.where("y"), brush.where("size")
        low[:, self.xs], high[:, self.xs] = win.lo[:, :1], win.hi[:, :1]  # strokes stay on the picture
        low[:, self.ys], high[:, self.ys] = win.lo[:, 1:], win.hi[:, 1:]
        high[:, self.sizes] = high[:, self.sizes] * (longest / win.side.float()).clamp(max=1)[:, None]
        self.low, self.span = low[:, None], (high - low).clamp_min(1e-6)[:, None]  # [n, 1, P]
        self.win, self.width, self.height, self.longest, self.p = win, width, height, longest, p

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits [n, m, P] -> strokes in window units."""
        return from_logits(z, self.low, self.span)

    def encode(self, s: torch.Tensor) -> torch.Tensor:
        return to_logits(s, self.low, self.span)

    def to_picture(self, s: torch.Tensor) -> torch.Tensor:
        """Strokes [n, m, P] in window units -> picture units (float64 for the mapping)."""
        w = self.win
        out = s.double().clone()
        out[..., self.xs] = (w.x0[:, None, None] + s[..., self.xs].double() * w.side[:, None, None]) / self.width
        out[..., self.ys] = (w.y0[:, None, None] + s[..., self.ys].double() * w.side[:, None, None]) / self.height
        out[..., self.sizes] = s[..., self.sizes].double() * w.side[:, None, None] / self.longest
        return out.float()


# ---- seeding -------------------------------------------------------------------------------------
def seed_strokes(
    brush: Brush, target: torch.Tensor, canvas: torch.Tensor, inside: torch.Tensor, m: int, counts: list[int], gen: torch.Generator
) -> torch.Tensor:
    """m strokes per window [n, m, P] in window units, for optimisation from scratch: the brush's
    own sampler for the shape, shrunk to a size that suits the tile's count and centred on
    pixels drawn in proportion to the error there, in the target's colour at that point."""
    n, _, r, _ = target.shape
    err = ((canvas - target) ** 2).sum(1, keepdim=True) * inside  # [n, 1, r, r]
    err = err.flatten(1) + 1e-8 * inside.flatten(1)
    idx = torch.multinomial(err, m, replacement=True, generator=gen)  # [n, m]
    cy, cx = (idx // r).float(), (idx % r).float()
    colour = target.flatten(2).gather(2, idx[:, None].expand(n, 3, m)).transpose(1, 2)  # [n, m, 3]
    g = call(brush, "sample", n * m, gen).view(n, m, -1)
    xs, ys, sizes = brush.where("x"), brush.where("y"), brush.where("size")
    shrink = torch.tensor([min(0.5, 1.2 / math.sqrt(max(c, 1))) for c in counts])[:, None, None]
    if xs:
        g[..., xs] = ((cx[..., None] + 0.5) / r + (g[..., xs] - g[..., xs].mean(-1, keepdim=True)) * shrink).clamp(0, 1)
    if ys:
        g[..., ys] = ((cy[..., None] + 0.5) / r + (g[..., ys] - g[..., ys].mean(-1, keepdim=True)) * shrink).clamp(0, 1)
    if sizes:  # the sampler's sizes, shrunk with the count, but never much below what covers the window
        floor = torch.tensor([0.15 / math.sqrt(max(c, 1)) for c in counts])[:, None, None]
        high = brush.ranges(geometry_only=True)[1][sizes]
        g[..., sizes] = torch.minimum(torch.maximum(g[..., sizes] * shrink, floor), high)
    g[..., brush.where("opacity")] = 0.9  # opaque enough to matter, with room to fade
    return torch.cat([g, colour], -1)


def agent_strokes(
    actor: Actor,
    renderer: NeuralRenderer,
    brush: Brush,
    target: torch.Tensor,
    canvas: torch.Tensor,
    counts: list[int],
    margin: float,
    first_step: int = 0,
) -> torch.Tensor:
    """The agent paints each tile (the window minus its margin) at its own resolution: [n, m, P]
    strokes in window units, m = max(counts) (bundles of k until a tile's count is laid; the
    strokes past it are padding)."""
    from strokepaint.agent import act

    r = target.shape[-1]
    cut = round(r * margin / (1 + 2 * margin))
    ra = actor.cfg.resolution

    def inner(x: torch.Tensor) -> torch.Tensor:
        x = x[..., cut : r - cut, cut : r - cut]
        return torch.nn.functional.interpolate(x, size=(ra, ra), mode="bilinear", antialias=True, align_corners=False)

    m, k = max(counts), actor.cfg.bundle
    steps = [-(-c // k) for c in counts]  # (a tile's actions: 2.6x fewer than max(counts) for all, big photo)
    parts = []
    with torch.no_grad():  # tiles in chunks: memory stays bounded however many tiles a pass has
        for i in range(0, len(target), AGENT_CHUNK):
            tg, cv = inner(target[i : i + AGENT_CHUNK]), inner(canvas[i : i + AGENT_CHUNK])
            s = act(actor, renderer, brush, tg, steps[i : i + AGENT_CHUNK], canvas=cv, first_step=first_step)[1]
            parts.append(torch.nn.functional.pad(s, (0, 0, 0, -(-m // k) * k - s.shape[1]), value=0.5))
    s = torch.cat(parts)[:, :m].clone()
    scale = (r - 2 * cut) / r
    off = cut / r
    xy, sizes = brush.where("x") + brush.where("y"), brush.where("size")
    s[..., xy] = off + s[..., xy] * scale
    s[..., sizes] = s[..., sizes] * scale
    return s


# ---- the painting ----------------------------------------------------------------------------------
@dataclass
class Painting:
    """A finished painting: strokes in picture units, painting order; pixels from the exact rasterizer."""

    brush: Brush
    width: int
    height: int
    strokes: torch.Tensor  # [N, P]
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    passes: list[int] = field(default_factory=list)  # strokes laid by each pass, coarse to fine
    method: str = "optimize"
    seconds: float = 0.0  # painting time (strokes), without the final rendering
    _image: torch.Tensor | None = field(default=None, repr=False)
    # (strokes, raster.alpha_blocks of their geometry), kept from the colour fit: used if the strokes are still those
    _alpha: tuple | None = field(default=None, repr=False)

    def stroke_file(self) -> StrokeFile:
        from strokepaint.strokefile import StrokeFile

        return StrokeFile(self.width, self.height, self.brush.name, self.brush.version, self.strokes.tolist(), self.background)

    def image(self) -> torch.Tensor:
        """[3, H, W] in [0, 1], drawn by the brush's rasterizer (cached)."""
        if self._image is None:
            kept, alpha = self._alpha or (None, None)
            if kept is None or not torch.equal(kept, self.strokes):
                alpha = None
            self._image = raster.render(self.brush, self.strokes, self.width, self.height, self.background, alpha=alpha)
            self._alpha = None  # (memory)
        return self._image

    def png(self) -> bytes:
        return _png_bytes(self.image())

    def svg(self, scale: float = 1.0) -> str:
        from strokepaint.export import to_svg

        return to_svg(self.stroke_file(), scale)

    def frames(self, count: int = 40, longest: int = 480) -> list[torch.Tensor]:
        """The painting as it grows, `count` frames at most `longest` px: [3, h, w] each, the
        first the blank canvas, the last the finished painting."""
        s = min(1.0, longest / max(self.width, self.height))
        w, h = max(1, round(self.width * s)), max(1, round(self.height * s))
        canvas = blank(self.background, h, w)
        out = [canvas]
        n = len(self.strokes)
        count = max(1, min(count, n))
        edges = [round(n * (i + 1) / count) for i in range(count)]
        start = 0
        for e in edges:
            if e > start:
                canvas = raster.render(self.brush, self.strokes[start:e], w, h, canvas=canvas)
                out.append(canvas)
            start = e
        return out

    def gif(self, count: int = 40, longest: int = 480, hold_ms: int = 2000) -> bytes:
        import io

        frames = [_pil(f) for f in self.frames(count, longest)]
        durations = [80] * (len(frames) - 1) + [hold_ms]
        buf = io.BytesIO()
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=False)
        return buf.getvalue()

    # -- files (atomic) --
    def save(self, png=None, strokes=None, svg=None, gif=None) -> list[Path]:
        """Several files at once, as `paint` writes them: every one made (and checked) before the
        first is written, the stroke file first; each atomically. Returns the paths written."""
        asked = [
            (path, suffix, make)
            for path, suffix, make in (
                (strokes, ".json", lambda: self.stroke_file().checked_json(strokes)),
                (png, ".png", self.png),
                (svg, ".svg", self.svg),
                (gif, ".gif", self.gif),
            )
            if path is not None
        ]
        for path, suffix, _ in asked:  # (each its own ending: no two of them can be one file)
            named(path, suffix)
        blobs = [(path, make()) for path, _, make in asked]
        return [atomic_write(path, blob) for path, blob in blobs]

    def save_png(self, path) -> None:
        atomic_write(named(path, ".png"), self.png())

    def save_svg(self, path, scale: float = 1.0) -> None:
        from strokepaint.export import scale_problem

        if problem := scale_problem(scale):
            raise UsageError(f"scale={scale!r}: {problem}")
        atomic_write(named(path, ".svg"), self.svg(scale))

    def save_strokes(self, path) -> None:
        self.stroke_file().save(named(path, ".json"))

    def save_gif(self, path, count: int = 40) -> None:
        atomic_write(named(path, ".gif"), self.gif(count))


def _pil(img: torch.Tensor):
    from PIL import Image

    a = (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(a, "RGB")


def _png_bytes(img: torch.Tensor) -> bytes:
    import io

    buf = io.BytesIO()  # zlib level 4 instead of 6: the 1280x851 painting 0.21 -> 0.09 s, 629 -> 665 KB
    _pil(img).save(buf, format="PNG", compress_level=4)
    return buf.getvalue()


# ---- the engine ---------------------------------------------------------------------------------------
def run(
    target: torch.Tensor,
    brush: Brush,
    renderer: NeuralRenderer,
    cfg: PaintConfig,
    actor: Actor | None = None,
    progress: Progress | None = None,
) -> Painting:
    """Paint a picture [3, H, W] in [0, 1] with `cfg.strokes` strokes."""
    check_options(cfg.strokes, cfg.method, cfg.refine, cfg.grid)
    if cfg.method == "agent" and actor is None:
        from strokepaint import store

        raise UsageError(f"{store.missing(brush.name, 'agent')}, or paint with method 'optimize'")
    start = time.perf_counter()
    target = target.float()
    _, height, width = target.shape
    method = choose_method(cfg, actor, width, height)
    passes, budgets = plan_for(cfg, actor if method == "agent" else None, width, height)
    r = cfg.resolution
    # the working canvas: the picture at the scale of the finest windows (never above the picture's)
    work = min(1.0, r / (1 + 2 * cfg.margin) / passes[-1][0].side)
    ww, wh = max(1, round(width * work)), max(1, round(height * work))
    small = target if (ww, wh) == (width, height) else torch.nn.functional.interpolate(target[None], size=(wh, ww), mode="area")[0]
    canvas = blank(cfg.background, wh, ww)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    done: list[torch.Tensor] = []
    schedule = cfg.iterations(method, budgets)
    # the exact alpha maps of the strokes drawn on the working canvas, kept for the colour fit
    # when the working canvas is the picture (then the fit need not draw them again); at most
    # FIT_MAX_PAIRS blocks in all, the fit's own bound (beyond it there is no fit)
    reuse = cfg.fit_colours and (ww, wh) == (width, height)
    kept: list[tuple[int, raster.Blocks]] | None = [] if reuse else None  # None once over the bound

    def keep(s: torch.Tensor) -> raster.Blocks | None:
        nonlocal kept
        if kept is None or not len(s):
            return None
        room = FIT_MAX_PAIRS - sum(len(b[0]) for _, b in kept)
        a = raster.alpha_blocks(brush, s[:, : brush.n_geometry], width, height, max_pairs=room)
        if a is None:
            kept = None
        else:
            kept.append((len(s), a))
        return a

    def lay(s: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        return raster.render(brush, s, ww, wh, canvas=canvas, alpha=keep(s))

    for pi, (tiles, budget) in enumerate(zip(passes, budgets)):
        if progress:
            progress(f"pass {pi + 1}/{len(passes)}: {len(tiles)} tile{'s' * (len(tiles) > 1)}, {budget} strokes", pi, len(passes))
        # windows in working-canvas px (the same boxes scaled)
        win = Windows.around(tiles, cfg.margin, width, height)
        win_w = Windows(win.x0 * ww / width, win.y0 * wh / height, win.side * ww / width, win.lo, win.hi)
        rp = min(r, max(cfg.min_resolution, math.ceil(float(win_w.side.max()))))  # (PaintConfig.resolution)
        tgt, cv, inside = win_w.crop(small, rp), win_w.crop(canvas, rp), win.inside(rp)
        errors = (((cv - tgt) ** 2) * inside).sum((1, 2, 3)) * (win.side.float() ** 2) / inside.sum((1, 2, 3)).clamp_min(1)
        counts = share(budget, errors, cap=-(-3 * budget // len(tiles)))  # at most 3x the mean: batches stay dense
        laid, painted = [], 0  # strokes of each phase; tiles painted in the earlier phases
        # phases pay where `optimize`'s strokes are refined over their windows; the agent's strokes,
        # refined or not, gain from them only on passes of many tiles or of tiles that overlap (docs/engine.md, step 2)
        few = len(tiles) <= PHASES_MIN_TILES and not _overlapping(tiles)
        for idx in phases(tiles, 1 if few and not (schedule[pi] and method == "optimize") else cfg.phases):
            sel = torch.tensor(idx)
            if laid and laid[-1].numel():  # a later phase sees what the earlier ones painted (spilled) on its tiles
                canvas = lay(laid[-1], canvas)
                cv[sel] = win_w.select(sel).crop(canvas, rp)  # (only its own windows: the others are done)

            def report(frac: float, pi=pi, start=painted, k=len(idx), n=len(tiles)) -> None:
                if progress:
                    progress(f"pass {pi + 1}/{len(passes)}: refining", pi + (start + frac * k) / n, len(passes))

            laid.append(
                _paint_tiles(
                    brush,
                    renderer,
                    actor,
                    cfg,
                    method,
                    win.select(sel),
                    tgt[sel],
                    cv[sel],
                    inside[sel],
                    counts=[counts[i] for i in idx],
                    iterations=schedule[pi],
                    first_step=0 if pi == 0 else (actor.cfg.later_step if actor else 0),
                    gen=gen,
                    report=report,
                    width=width,
                    height=height,
                )
            )
            painted += len(idx)
        chosen = torch.cat(laid)
        if pi < len(passes) - 1:  # the working canvas feeds the next pass only
            canvas = lay(laid[-1], canvas)
        done.append(chosen)
    strokes = torch.cat(done) if done else torch.zeros(0, brush.n_params)
    alpha = None  # the strokes' exact alpha maps, kept from the colour fit for the final pixels
    if cfg.fit_colours and len(strokes):
        if progress:
            progress("fitting the colours", len(passes), len(passes))
        keep(laid[-1])  # (the last phase's: not drawn on the working canvas)
        if kept is not None:  # those drawn on the working canvas, and the last phase's
            alpha = _joined(kept)
        elif not reuse:
            alpha = raster.alpha_blocks(brush, strokes[:, : brush.n_geometry], width, height, max_pairs=FIT_MAX_PAIRS)
        if alpha is not None:
            strokes = quantized(fit_colours(brush, strokes, target, cfg.background, alpha))
    if progress:
        progress("done", len(passes), len(passes))
    seconds = time.perf_counter() - start
    kept = None if alpha is None else (strokes.clone(), alpha)
    return Painting(brush, width, height, strokes, cfg.background, [len(d) for d in done], method, seconds, _alpha=kept)


def _joined(parts: list[tuple[int, raster.Blocks]]) -> raster.Blocks:
    """`raster.alpha_blocks` of consecutive runs of (count) strokes -> those of all of them
    (stroke indices moved past the runs before)."""
    starts = [0]
    for n, _ in parts:
        starts.append(starts[-1] + n)
    return (
        torch.cat([b[0] + s for (_, b), s in zip(parts, starts)]),
        torch.cat([b[1] for _, b in parts]),
        torch.cat([b[2] for _, b in parts]),
    )


def _overlapping(tiles: list[Tile]) -> bool:
    """Whether neighbouring tiles of a pass overlap (a side of the picture is not a whole number of tiles)."""
    for starts in ({t.x for t in tiles}, {t.y for t in tiles}):
        s = sorted(starts)
        if any(b - a < tiles[0].side - 1e-6 for a, b in zip(s, s[1:])):
            return True
    return False


def phases(tiles: list[Tile], k: int) -> list[list[int]]:
    """A pass's tiles in `k` phases (1, 2 or 4): with 4, the tiles of each parity of (column, row)
    together, so no two tiles of a phase share a border and each later phase sees what the
    earlier ones painted next to (and over) its tiles. Tile order is kept within a phase."""
    xs = sorted({t.x for t in tiles})
    ys = sorted({t.y for t in tiles})
    if k <= 1 or len(tiles) == 1:
        return [list(range(len(tiles)))]
    key = [(xs.index(t.x) % 2) + (2 * (ys.index(t.y) % 2) if k >= 4 else 0) for t in tiles]
    return [g for g in ([i for i, c in enumerate(key) if c == want] for want in range(4 if k >= 4 else 2)) if g]


def _paint_tiles(
    brush, renderer, actor, cfg, method, win, tgt, cv, inside, counts, iterations, first_step, gen, report, width, height
) -> torch.Tensor:
    """Strokes for a batch of windows ([n, 3, r, r] target and canvas crops), `counts` per tile:
    seeded (agent or error map), refined, in picture units, tile by tile."""
    m = max(counts)
    if m == 0:
        return torch.zeros(0, brush.n_params)
    units = Units(brush, win, width, height)
    if method == "agent":  # a later pass's tiles start early in the agent's episode (docs/agent.md: how the agent paints a picture)
        s = agent_strokes(actor, renderer, brush, tgt, cv, counts, cfg.margin, first_step=first_step)
    else:
        s = seed_strokes(brush, tgt, cv, inside, m, counts, gen)
    live = (torch.arange(m)[None] < torch.tensor(counts)[:, None]).float()  # [n, m]
    z = units.encode(s)
    if iterations:  # tiles are independent: refine them in groups of at most GROUP strokes (memory),
        # tiles with similar counts together (a group pads to its largest count: the padding
        # costs compositing time, 3x the live strokes on a big photo's finest pass when unsorted)
        finished, reseeding = 0, bool(cfg.reseed) and method == "optimize"
        for idx in _groups(counts, GROUP):
            k, mg = len(idx), counts[idx[0]]
            sel = torch.tensor(idx)
            z[sel, :mg] = _refine(
                z[sel, :mg],
                units.low[sel],
                units.span[sel],
                renderer,
                brush.n_geometry,
                tgt[sel],
                cv[sel],
                inside[sel],
                live[sel, :mg],
                iterations,
                cfg.lr,
                lambda it, before=finished, k=k: report((before * iterations + it * k) / (len(counts) * iterations)),
                reseed=(brush, [counts[i] for i in idx], gen, cfg.reseed, cfg.reseed_below) if reseeding else None,
            )
            finished += k
    with torch.no_grad():
        pic = units.to_picture(units.decode(z))
    lo, hi = brush.ranges()
    pic = quantized(torch.maximum(torch.minimum(pic, hi), lo))
    return pic[live.bool()]  # tile by tile, in order


def plan_for(cfg: PaintConfig, actor: Actor | None, width: int, height: int) -> tuple[list[list[Tile]], list[int]]:
    """The passes and their strokes, for the agent's strokes (`actor`) or the optimisation's (None).
    The agent's finest tiles get `tile_steps` of its actions: it paints small tiles best, and how
    small is measured per agent (benchmarks/agent_tiles.py; docs/agent.md: how the agent paints a picture)."""
    if actor is None:
        return plan(width, height, cfg.strokes, 1, cfg.grid, 100)
    bundle = actor.cfg.bundle if cfg.strokes >= actor.cfg.bundle else 1
    return plan(width, height, cfg.strokes, bundle, cfg.grid, actor.cfg.tile_steps * actor.cfg.bundle)


def choose_method(cfg: PaintConfig, actor: Actor | None, width: int, height: int) -> str:
    """`auto`: as the agent's `auto_steps` says, measured per agent against `optimize` (docs/engine.md, step 3);
    `optimize` without an agent. 0: the agent's strokes, always (the shipped bezier, circle and
    triangle agents: better wherever measured, 10 to 2,000 strokes on 128 px and 400 to 20,000 from
    512 px to 12 MP, faster up to a few thousand strokes; benchmarks/auto_method.py --write).
    N: the agent's only on pictures up to AUTO_PIXELS (measured at 3 MP, with an earlier agent and
    no colour fit at that size: its broad strokes cost more to draw than they gained), when the
    refinement can give each stroke fewer than N steps and its finest tiles are more than a quarter
    of its resolution of the picture (16 px: the engine's floor, where 128-px pictures end); the
    line agent, 30."""
    if cfg.method != "auto":
        return cfg.method
    if actor is None:
        return "optimize"
    if actor.cfg.auto_steps == 0:
        return "agent"
    if width * height > AUTO_PIXELS:
        return "optimize"
    steps = cfg.refine if cfg.refine >= 0 else cfg.step_budget / cfg.strokes
    if steps >= actor.cfg.auto_steps:
        return "optimize"
    passes, _ = plan_for(cfg, actor, width, height)
    return "agent" if passes[-1][0].side > actor.cfg.resolution / 4 else "optimize"


def fit_colours(brush: Brush, strokes: torch.Tensor, target: torch.Tensor, background, alpha=None) -> torch.Tensor:
    """The colours that minimise the squared error of the *exact* painting, the shapes fixed.

    The painting is linear in the colours: canvas = bg * prod_j (1 - a_j) + sum_i c_i w_i with
    w_i = a_i * prod_{j > i} (1 - a_j), so the best colours solve a least-squares problem
    (ridge-regularised towards the current colours, clamped to [0, 1]; kept only if better).
    This removes most of the neural renderer's error on colour, measured at 0.0007 MSE.
    Its normal equations are sparse (`_normal_equations`): solved directly up to FIT_DENSE
    strokes, by conjugate gradients beyond. `alpha`: the strokes' `raster.alpha_blocks`, if known.
    """
    n, g = len(strokes), brush.n_geometry
    _, h, w = target.shape
    if alpha is None:
        alpha = raster.alpha_blocks(brush, strokes[:, :g], w, h)
    sums = _normal_equations(n, alpha, target, background)
    if sums is None:  # no stroke on the picture, or too many overlaps to sum (docs/engine.md, step 6)
        return strokes
    gram, rhs = sums
    old = strokes[:, g:].double()  # [N, 3]
    diag = torch.zeros(n, dtype=torch.float64).index_add_(0, gram.indices()[0], gram.values() * (gram.indices()[0] == gram.indices()[1]))
    lam = 1e-4 * float(diag.mean()) + 1e-12
    with warnings.catch_warnings():  # torch calls its CSR format beta; its products are ~25x faster than COO's here
        warnings.simplefilter("ignore")
        gram = gram.to_sparse_csr()
    if n <= FIT_DENSE:  # a direct solve: exact, and faster than iterating on a small, dense, ill-conditioned system
        dense = gram.to_dense()
        dense.diagonal().add_(lam)
        factor, bad = torch.linalg.cholesky_ex(dense)
        del dense  # (memory: N x N doubles each)
        if bad:
            return strokes
        new = torch.linalg.solve_triangular(factor.mT, torch.linalg.solve_triangular(factor, rhs + lam * old, upper=False), upper=True)
        del factor
    else:
        new = _solve_spd(lambda x: gram @ x + lam * x, diag + lam, rhs + lam * old)
    new = new.clamp(0, 1)

    def err(c: torch.Tensor) -> float:  # sum_px |c^T w - rest|^2 up to a constant: c^T G c - 2 c^T rhs
        return float((c * (gram @ c)).sum() - 2 * (c * rhs).sum())

    if err(new) >= err(old):
        return strokes
    out = strokes.clone()
    out[:, g:] = new.float()
    return out


def _normal_equations(n: int, alpha, target: torch.Tensor, background) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The colour fit's G = sum_px w_i w_j (sparse [N, N]) and B = sum_px w_i (target - background
    left uncovered) ([N, 3]) for N strokes whose `raster.alpha_blocks` are `alpha`; None if no
    stroke reaches the picture or G would have over FIT_MAX_ENTRIES entries before summing.

    A stroke covers a small part of a painting: the sums run over squares of FIT_BLOCK px, each with
    only the strokes that reach it (in painting order, so what later strokes leave of each is a
    product along the square's own list); squares with similar counts are batched (a batch pads to
    its largest). Memory and time grow with the strokes' overlaps, not with strokes x pixels
    (docs/engine.md: how a picture is painted, step 6).
    """
    sid, bid, alpha = alpha
    _, h, w = target.shape
    b, f = raster.BLOCK, FIT_BLOCK // raster.BLOCK  # px per raster block side; raster blocks per square side
    px, nbx = FIT_BLOCK * FIT_BLOCK, math.ceil(w / b)
    nfx, nfy = math.ceil(w / FIT_BLOCK), math.ceil(h / FIT_BLOCK)
    # a square's pixels, raster block by raster block (the order of alpha_blocks' maps): offsets from its corner
    sy, sx, y, x = torch.meshgrid(*(torch.arange(f), torch.arange(f), torch.arange(b), torch.arange(b)), indexing="ij")
    off_y, off_x = (sy * b + y).reshape(-1), (sx * b + x).reshape(-1)
    by, bx = bid // nbx, bid % nbx
    square = (by // f) * nfx + bx // f
    sub = (by % f) * f + bx % f  # the raster block within its square
    keys, slot_of_pair = torch.unique(square * n + sid, return_inverse=True)  # (square, stroke) slots, painting order
    sq_of_slot, stroke_of_slot = keys // n, keys % n
    per_square = torch.bincount(sq_of_slot, minlength=nfy * nfx)
    if len(keys) == 0 or int((per_square * per_square).sum()) > FIT_MAX_ENTRIES:
        return None
    rank = torch.arange(len(keys)) - (per_square.cumsum(0) - per_square)[sq_of_slot]  # order within its square
    # squares with strokes, the most strokes first; pairs and slots sorted the same way, so a batch's are contiguous
    order = torch.argsort(per_square, descending=True, stable=True)[: int((per_square > 0).sum())]
    place = torch.empty_like(per_square).scatter_(0, order, torch.arange(len(per_square)))
    pair_place, pairs = torch.sort(place[square], stable=True)
    slot_place, slots = torch.sort(place[sq_of_slot], stable=True)
    bg = torch.tensor(background, dtype=torch.float64)[:, None]
    rows, cols, vals = [], [], []  # G's entries: strokes that share a square
    rhs = torch.zeros(n + 1, 3, dtype=torch.float64)  # row n: the padding
    s0 = 0
    while s0 < len(order):
        k = int(per_square[order[s0]])
        s1 = min(len(order), s0 + max(1, FIT_CHUNK // (k * px)))
        p = pairs[torch.searchsorted(pair_place, s0) : torch.searchsorted(pair_place, s1)]
        q = slots[torch.searchsorted(slot_place, s0) : torch.searchsorted(slot_place, s1)]
        sq = order[s0:s1]
        yy, xx = (sq // nfx)[:, None] * FIT_BLOCK + off_y, (sq % nfx)[:, None] * FIT_BLOCK + off_x  # [squares, px]
        inside = ((yy < h) & (xx < w)).double()[:, None]  # pixels on the picture
        tgt = target[:, yy.clamp(max=h - 1), xx.clamp(max=w - 1)].transpose(0, 1).double()  # [squares, 3, px]
        a = torch.zeros(s1 - s0, k, f * f, b * b, dtype=torch.float64)
        a[place[square[p]] - s0, rank[slot_of_pair[p]], sub[p]] = alpha[p].reshape(-1, b * b).double()
        a = a.view(s1 - s0, k, px) * inside
        keep = uncovered(a, 1)  # [squares, k + 1, px]
        wts = a * keep[:, 1:]
        rest = (tgt - bg * keep[:, :1]) * inside
        ids = torch.full((s1 - s0, k), n, dtype=torch.long)
        ids[place[sq_of_slot[q]] - s0, rank[q]] = stroke_of_slot[q]
        i, j = ids[:, :, None].expand(-1, k, k), ids[:, None, :].expand(-1, k, k)
        real = (i < n) & (j < n)
        rows.append(i[real])
        cols.append(j[real])
        vals.append((wts @ wts.transpose(1, 2))[real])
        rhs.index_put_((ids,), wts @ rest.transpose(1, 2), accumulate=True)
        s0 = s1
    index = torch.stack([torch.cat(rows), torch.cat(cols)])
    return torch.sparse_coo_tensor(index, torch.cat(vals), (n, n), check_invariants=False).coalesce(), rhs[:n]


def _solve_spd(matvec: Callable[[torch.Tensor], torch.Tensor], diag: torch.Tensor, b: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
    """x with A x = b for a symmetric positive definite A given as `matvec`, by conjugate gradients
    preconditioned with A's diagonal; the columns of b [N, C] solved together, to a residual of
    `tol` x |b|. (The colour fit's A is sparse: 1 % of the 4,000 x 4,000 entries on a 1280x851
    photo, solved to 1e-10 in 146 iterations, 45 ms, against 240 ms for a dense Cholesky.)"""
    x = torch.zeros_like(b)
    r = b.clone()
    z = r / diag[:, None]
    p = z.clone()
    rz = (r * z).sum(0)
    goal = tol * b.norm(dim=0)
    for _ in range(1000):  # (measured: 43 to 146 iterations on paintings; an ill-conditioned system may stall)
        if bool((r.norm(dim=0) <= goal).all()):
            break
        q = matvec(p)
        step = rz / (p * q).sum(0).clamp_min(1e-300)
        x += step * p
        r -= step * q
        z = r / diag[:, None]
        rz, before = (r * z).sum(0), rz
        p = z + (rz / before.clamp_min(1e-300)) * p
    return x


def _groups(counts: list[int], size: int) -> list[list[int]]:
    """Tiles (indices) in groups of at most `size` strokes after padding to the group's largest
    count, largest counts first; tiles with no strokes are left out."""
    order = sorted((i for i, c in enumerate(counts) if c > 0), key=lambda i: -counts[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and (len(groups[-1]) + 1) * counts[groups[-1][0]] <= size:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _refine(z, low, span, renderer, ng, tgt, cv, inside, live, iterations, lr, report, reseed=None) -> torch.Tensor:
    """Adam on the logits z [n, m, P] (strokes = low + sigmoid(z) * span), the step size falling on
    a cosine to lr/10: minimise the squared error over each window's picture area. (Adam written
    out: torch.optim's first step imports torch._dynamo, over a second of start-up.) `reseed`:
    (brush, counts, generator, fractions of the steps, threshold), see `_reseed`."""
    n, m, p = z.shape
    r = tgt.shape[-1]
    area = inside.sum((1, 2, 3)).clamp_min(1)
    used = live.flatten().nonzero()[:, 0]  # only live strokes are rendered (tiles pad to the largest count)
    blank_alpha = z.new_zeros(n * m, r, r)
    m1, m2 = torch.zeros_like(z), torch.zeros_like(z)
    b1, b2, eps = 0.9, 0.999, 1e-8
    at = {round(f * iterations) for f in reseed[3]} if reseed else set()
    for it in range(iterations):
        z.requires_grad_(True)
        s = from_logits(z, low, span)
        drawn = renderer(s[..., :ng].reshape(n * m, -1)[used], canvas=r)
        alpha = (drawn if len(used) == n * m else blank_alpha.index_copy(0, used, drawn)).view(n, m, r, r)
        out = composite(cv, alpha, s[..., ng:])
        loss = ((((out - tgt) ** 2) * inside).sum((1, 2, 3)) / area).sum()
        (grad,) = torch.autograd.grad(loss, z)
        with torch.no_grad():
            step_lr = lr * (0.1 + 0.45 * (1 + math.cos(math.pi * it / iterations)))
            m1.mul_(b1).add_(grad, alpha=1 - b1)
            m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            z = z.detach() - step_lr * (m1 / (1 - b1 ** (it + 1))) / ((m2 / (1 - b2 ** (it + 1))).sqrt() + eps)
            if it in at:
                z, m1, m2 = _reseed(z, m1, m2, low, span, alpha.detach(), out.detach(), tgt, inside, live, reseed)
        if it % 10 == 0:
            report(it)
    return z.detach()


def _reseed(z, m1, m2, low, span, alpha, canvas, tgt, inside, live, reseed):
    """Strokes that barely show (visible area below `frac` of the tile's mean: covered by later
    strokes, transparent or off the picture) are seeded anew where the error of the current canvas
    is, and moved to the top of their tile's order; their Adam momentum is cleared."""
    brush, counts, gen, _, frac = reseed
    n, m, _ = z.shape
    vis = (alpha * uncovered(alpha, 1)[:, 1:] * inside).sum((2, 3))  # [n, m] visible area
    mean = (vis * live).sum(1, keepdim=True) / live.sum(1, keepdim=True).clamp_min(1)
    dead = (vis < frac * mean) & live.bool()
    if not dead.any():
        return z, m1, m2
    fresh = seed_strokes(brush, tgt, canvas, inside, m, counts, gen)
    zf = to_logits(fresh, low, span)
    z = torch.where(dead[..., None], zf, z)
    m1 = torch.where(dead[..., None], torch.zeros_like(m1), m1)
    key = dead.float() + 2 * (1 - live)  # alive in order, then the new ones, then the padding
    order = torch.sort(key, dim=1, stable=True).indices[..., None].expand_as(z)
    return z.gather(1, order), m1.gather(1, order), m2.gather(1, order)


# ---- the Python API ------------------------------------------------------------------------------------
@dataclass
class Tools:
    """What painting with a brush needs, loaded once: the brush, its renderer, its agent if any."""

    brush: Brush
    renderer: NeuralRenderer
    actor: Actor | None
    device: torch.device

    @classmethod
    def load(
        cls, brush: str | Brush = "bezier", device: str = "auto", renderer_path=None, agent_path=None, use_agent: bool = True
    ) -> Tools:
        from strokepaint import agent as agent_mod
        from strokepaint import runtime, store
        from strokepaint.plugins import get_brush
        from strokepaint.renderer import load as load_renderer

        b = get_brush(brush) if isinstance(brush, str) else brush
        dev = runtime.device(device)
        has_agent = store.find(b.name, "agent", agent_path) is not None
        ren = load_renderer(b, renderer_path)[0].to(dev)  # (the agent paints through it too)
        for p in ren.parameters():
            p.requires_grad_(False)
        actor = agent_mod.load(b, agent_path)[0].to(dev) if (has_agent and use_agent) else None
        return cls(b, ren, actor, dev)


def paint(
    image,
    strokes: int = 400,
    brush: str | Brush = "bezier",
    method: str = "auto",
    refine: int = -1,
    grid: int = 0,
    seed: int = 0,
    device: str = "auto",
    fit_colours: bool = True,
    tools: Tools | None = None,
    progress: Progress | None = None,
) -> Painting:
    """Paint a picture: a file path, a PIL image, a numpy array ([H, W, 3] uint8 or floats in
    [0, 1]) or a tensor [3, H, W] (uint8, or floats in [0, 1]).

    >>> import strokepaint
    >>> p = strokepaint.paint("photo.jpg", strokes=400)
    >>> p.save_png("painting.png"); p.save_svg("painting.svg"); p.save_strokes("painting.strokes.json")
    """
    check_options(strokes, method, refine, grid)
    if not _whole(seed):
        raise UsageError(f"seed={seed!r}: give a whole number")
    if isinstance(device, torch.device):
        device = device.type
    if not isinstance(brush, (str, Brush)):
        raise UsageError(f"brush={brush!r}: give a brush name (`strokepaint brushes`)")
    if isinstance(brush, Brush):  # saving looks brushes up by name: only registered ones
        from strokepaint.plugins import registry

        if registry().brushes.get(brush.name) is not brush:
            raise UsageError(f"brush {brush.name!r} is not a registered brush; install it as a plugin and pass its name")
    target = images.as_tensor(image)
    flushed = _flushes_denormals()  # (the painting flushes denormal floats to zero; the caller's setting is restored)
    tools = tools or Tools.load(brush, device, use_agent=method != "optimize")  # first: it sets up the threads
    torch.set_flush_denormal(True)  # (Tools.load does; tools loaded by the caller were, and a painting since restored it)
    cfg = PaintConfig(
        strokes=int(strokes), method=method, refine=int(refine), grid=int(grid), seed=int(seed), fit_colours=bool(fit_colours)
    )
    try:
        if tools.device.type == "cpu":  # (a device context costs ~40% on the CPU: every op goes through it)
            return run(target, tools.brush, tools.renderer, cfg, tools.actor, progress)
        with torch.device(tools.device):  # new tensors on the painting's device
            return run(target.to(tools.device), tools.brush, tools.renderer, cfg, tools.actor, progress)
    finally:
        if not flushed:
            torch.set_flush_denormal(False)


def measure(target: torch.Tensor, strokes: int, tools: Tools, **options) -> tuple[float, float, str]:
    """How `strokepaint eval` scores a painting: (MSE of the exact painting against `target`
    [3, H, W] in [0, 1], seconds painting and rendering, the method used). `options` as for `paint`."""
    t0 = time.perf_counter()
    p = paint(target, strokes, tools=tools, **options)
    out = p.image()
    return float(((out.cpu() - target.cpu()) ** 2).mean()), time.perf_counter() - t0, p.method


def _flushes_denormals() -> bool:
    return torch.tensor([1e-40], dtype=torch.float32).item() == 0.0
