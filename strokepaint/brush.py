"""The stroke schema: what a brush is and what its numbers mean.

A stroke is a row of numbers: the brush's *geometry* parameters followed by the
colour R, G, B (every brush ends with the same three). Each parameter has a
*role* that says how it maps to pixels, so the core can move strokes between
canvases (tiles, scales) without knowing the brush:

    role      stored as                          in pixels
    x         fraction of the canvas width       x * W
    y         fraction of the canvas height      y * H
    size      fraction of the longer side L      s * L,  L = max(W, H)
    opacity   0 (invisible) .. 1 (opaque)        unchanged
    value     any other unitless number          unchanged
    color     0 .. 1, one channel of sRGB        unchanged

A brush subclass declares `name`, `version`, `geometry` and implements
`sample`, `bounds`, `sdf` and `svg`; the shared machinery in `raster.py`
turns `sdf` into anti-aliased coverage maps at any resolution.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, get_args

from strokepaint.strokefile import TOLERANCE, number

if TYPE_CHECKING:  # torch stays off the CLI's start-up path
    import torch

Role = Literal["x", "y", "size", "opacity", "value", "color"]
ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True)
class Param:
    name: str
    role: Role
    meaning: str
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"parameter name {self.name!r}: use a short identifier such as 'x0' or 'radius'")
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in (self.low, self.high)):
            raise ValueError(f"parameter {self.name!r}: low and high must be finite numbers, not {self.low!r}, {self.high!r}")
        if self.role not in ROLES:
            raise ValueError(f"parameter {self.name!r}: unknown role {self.role!r}")
        if not self.low < self.high:
            raise ValueError(f"parameter {self.name!r}: low must be below high")
        if self.role in ("x", "y", "opacity", "color") and (self.low, self.high) != (0.0, 1.0):
            raise ValueError(f"parameter {self.name!r}: role {self.role} is always in [0, 1]")
        if self.role == "size" and not (self.low == 0.0 and self.high <= 1.0):
            # sizes shrink when a tile's strokes move to the whole canvas: 0 must stay valid
            raise ValueError(f"parameter {self.name!r}: a size ranges over [0, high] with high <= 1")


COLOR: tuple[Param, ...] = (
    Param("R", "color", "red, 0..1"),
    Param("G", "color", "green, 0..1"),
    Param("B", "color", "blue, 0..1"),
)


class Brush:
    """Base class of every brush. Subclasses fill in the class attributes and methods.

    Shapes (N strokes, G geometry parameters, P pixels):
      sample(n, gen)     -> [N, G]  stored units (see module doc)
      bounds(g)          -> [N, 4]  x0, y0, x1, y1 in pixels, enclosing every pixel the stroke can touch
      sdf(g, x, y)       -> ([N, P], [N, P])  signed distance in pixels (< 0 inside) and opacity there;
                                    outside the stroke exact up to sdf.BAND (what anti-aliasing
                                    reads) and never above the true distance beyond; inside never
                                    deeper than the true depth (blocks are skipped, or filled
                                    whole, by it)
      svg(g, rgb, uid)   -> str     SVG elements of one stroke (g in pixels, rgb as '#rrggbb',
                                    uid unique in the document for any ids the brush needs)
    `g` in bounds/sdf/svg is in *pixels* (roles applied by `to_pixels`).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str] = ""
    geometry: ClassVar[tuple[Param, ...]]
    # The neural renderer (renderer.py) is shared by all brushes; a brush may override fields of
    # its RendererConfig here, e.g. {"frame": 64} for strokes with fine detail inside their box.
    renderer_overrides: ClassVar[dict] = {}

    # ---- schema -----------------------------------------------------------------
    @property
    def params(self) -> tuple[Param, ...]:
        return tuple(self.geometry) + COLOR

    @property
    def n_params(self) -> int:
        return len(self.geometry) + 3

    def where(self, role: Role) -> list[int]:
        """Positions of the parameters with this role; the geometry comes first in `params`, so
        they index a stroke's geometry alike."""
        return [i for i, p in enumerate(self.params) if p.role == role]

    def ranges(self, geometry_only: bool = False, dtype=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(low, high) of every parameter [P], or of the geometry's [G] (float32 unless `dtype`)."""
        import torch

        params = self.geometry if geometry_only else self.params
        return torch.tensor([p.low for p in params], dtype=dtype), torch.tensor([p.high for p in params], dtype=dtype)

    @property
    def n_geometry(self) -> int:
        return len(self.geometry)

    def schema_hash(self) -> str:
        """Hash of the parameter definition: weights trained for one schema refuse another."""
        blob = json.dumps([asdict(p) for p in self.params], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    # ---- unit conversions (shared by every brush) ------------------------------
    def to_pixels(self, g: torch.Tensor, width: int, height: int) -> torch.Tensor:
        """Geometry [N, G] in stored units -> pixels."""
        scale = g.new_tensor([_role_scale(p.role, width, height) for p in self.geometry])
        return g * scale

    # ---- to be provided by the brush -------------------------------------------
    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def bounds(self, g: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sdf(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def svg(self, g: list[float], rgb: str, uid: str) -> str:
        raise NotImplementedError

    def opacity(self, g: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Opacity alone [N, P], for pixels known to be inside; override when cheaper than sdf."""
        return self.sdf(g, x, y)[1]


def call(brush: Brush, method: str, *args):
    """`brush.method(*args)`, where the core calls a brush's own code: an exception inside it (a
    plugin's bug) becomes one line naming the brush and the method; --debug shows the traceback."""
    from strokepaint.errors import Failure, StrokepaintError

    try:
        out = getattr(brush, method)(*args)
    except StrokepaintError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a plugin raises
        raise Failure(f"brush {brush.name!r}: its {method}() failed: {type(e).__name__}: {e}") from e
    problem = _wrong_output(brush, method, out, args)
    if problem:
        raise Failure(f"brush {brush.name!r}: its {method}() returned {problem}")
    return out


def _wrong_output(brush: Brush, method: str, out, args: tuple) -> str | None:
    """What is wrong with what a brush's method returned (the Brush docstring's shapes), or None.
    Non-finite numbers are the brush's fault only where its input was finite."""
    import torch

    def tensor(t, shape, given=()) -> str | None:
        if not isinstance(t, torch.Tensor) or t.shape != shape:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            return f"shape {got}, expected {tuple(shape)}"
        if not bool(torch.isfinite(t).all()) and all(bool(torch.isfinite(a).all()) for a in given):
            return "NaN or infinite values"
        return None

    if method == "sample":
        problem = tensor(out, (args[0], brush.n_geometry))
        if problem is None:
            low, high = (t.to(out.device) for t in brush.ranges(geometry_only=True, dtype=out.dtype))
            outside = (out < low - TOLERANCE) | (out > high + TOLERANCE)  # (the slack stroke files allow)
            bad = outside.any(0).nonzero()[:, 0].tolist()
            if bad:
                return "values outside the declared ranges of " + ", ".join(brush.geometry[i].name for i in bad)
        return problem
    if method == "bounds":
        return tensor(out, (args[0].shape[0], 4), args)
    if method == "sdf":
        if not isinstance(out, tuple) or len(out) != 2:
            return f"{type(out).__name__}, expected (signed distance, opacity)"
        return tensor(out[0], args[1].shape, args) or tensor(out[1], args[1].shape, args)
    if method == "opacity":
        return tensor(out, args[1].shape, args)
    if method == "svg" and not isinstance(out, str):
        return f"{type(out).__name__}, expected a string of SVG elements"
    return None


def _role_scale(role: str, width: int, height: int) -> float:
    if role == "x":
        return float(width)
    if role == "y":
        return float(height)
    if role == "size":
        return float(max(width, height))
    return 1.0


def fmt(v: float) -> str:
    """A compact number for SVG output (3 decimals: 1/1000 px at the written size)."""
    return number(v, 3)


# ---- helpers for samplers --------------------------------------------------------
def uniform(n: int, gen: torch.Generator, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    import torch

    return low + (high - low) * torch.rand(n, generator=gen)


def log_uniform(n: int, gen: torch.Generator, low: float, high: float) -> torch.Tensor:
    import torch

    return torch.exp(uniform(n, gen, float(torch.log(torch.tensor(low))), float(torch.log(torch.tensor(high)))))


def opacity(n: int, gen: torch.Generator, opaque_share: float = 0.3) -> torch.Tensor:
    """Opacities: a share fully opaque (ink/oil strokes), the rest uniform (faint to opaque)."""
    import torch

    u = uniform(n, gen)
    return torch.where(uniform(n, gen) < opaque_share, torch.ones_like(u), u)


def mix(uniform_part: torch.Tensor, shaped_part: torch.Tensor, gen: torch.Generator, uniform_share: float = 0.4) -> torch.Tensor:
    """Row-wise mixture of two [N, G] samples: uniform rows keep the whole parameter cube covered
    (an agent may ask for any stroke), shaped rows concentrate on the strokes painting needs."""
    import torch

    pick = uniform(uniform_part.shape[0], gen) < uniform_share
    return torch.where(pick[:, None], uniform_part, shaped_part)
