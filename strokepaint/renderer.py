"""The neural renderer: stroke parameters -> the stroke's alpha map (coverage x opacity), differentiably.

The paper maps parameters straight to a 128x128 map with a 10->4096 MLP and a conv decoder
(~2,100 strokes/s on our 2 cores). Ours draws each stroke in its own frame, the brush's bounding
box, which makes the task the same for a stroke anywhere and at any size:

    params [N, G] --features--> [N, F]  (parameters relative to the box, box size)
        --MLP--> [N, C0, s, s] --(conv3x3, pixel shuffle x2) x k--> [N, 1, frame, frame]  (sigmoid)
        --place--> [N, S, S]   separable interpolation of the frame into the box on the canvas

The box comes from the brush's own `bounds`, so the same code serves any brush; placement is a
pair of small matrix products, differentiable in the box (so in the stroke's position and size).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from strokepaint import store
from strokepaint.brush import Brush, call

ARCH = "boxframe"


@dataclass
class RendererConfig:
    canvas: int = 128  # S: side of the square canvas the renderer draws on
    frame: int = 48  # side of the stroke's own frame (the box), in frame pixels
    hidden: int = 384  # MLP width
    channels: tuple[int, ...] = (32, 16, 8)  # decoder channels at each scale, coarse to fine
    last_kernel: int = 1  # kernel of the last upsampling conv (1: cheap at the finest scale)
    min_box: float = 2.0  # px: boxes are at least this wide (a dot still has a frame)

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        if (
            self.canvas < 16
            or self.hidden < 1
            or not self.min_box > 0
            or self.last_kernel < 1
            or self.last_kernel % 2 == 0
            or not self.channels
            or min(self.channels) < 1
        ):
            raise ValueError(
                f"canvas {self.canvas}, hidden {self.hidden}, min_box {self.min_box}, last_kernel {self.last_kernel}, "
                f"channels {self.channels}: canvas is at least 16 px, hidden at least 1, min_box above 0, last_kernel odd, "
                "at least one channel count, each at least 1"
            )
        start = self.frame / 2 ** len(self.channels)
        if start != int(start) or start < 1:
            raise ValueError(f"frame {self.frame} is not divisible by 2**{len(self.channels)}")

    @property
    def start(self) -> int:
        return self.frame // 2 ** len(self.channels)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RendererConfig:
        return cls(**json.loads(text))


@dataclass
class _Roles:
    x: list[int] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)  # opacity, value: normalised to [0, 1]


class NeuralRenderer(nn.Module):
    def __init__(self, brush: Brush, cfg: RendererConfig | None = None):
        super().__init__()
        self.brush = brush
        self.cfg = cfg = cfg or RendererConfig(**brush.renderer_overrides)
        roles = _Roles(brush.where("x"), brush.where("y"), brush.where("size"))
        roles.other = [i for i in range(brush.n_geometry) if i not in roles.x + roles.y + roles.size]
        self.roles = roles
        low, high = brush.ranges(geometry_only=True)
        self.register_buffer("low", low, persistent=False)
        self.register_buffer("span", high - low, persistent=False)
        n_features = brush.n_geometry + len(roles.size) + 3
        c = cfg.channels
        self.mlp = nn.Sequential(
            nn.Linear(n_features, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, c[0] * cfg.start**2),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(c, c[1:] + (1,))):
            k = cfg.last_kernel if i == len(c) - 1 else 3
            stages += [nn.Conv2d(cin, 4 * cout, k, padding=k // 2), nn.PixelShuffle(2)]
            if cout != 1:
                stages.append(nn.ReLU())
        self.decoder = nn.Sequential(*stages)

    # ---- pieces ----------------------------------------------------------------------------
    def box(self, g: torch.Tensor) -> torch.Tensor:
        """The stroke's frame on the canvas, [N, 4] = x0, y0, x1, y1 in px."""
        s = self.cfg.canvas
        b = call(self.brush, "bounds", self.brush.to_pixels(g, s, s))
        lo = b[:, :2]
        hi = torch.maximum(b[:, 2:], lo + self.cfg.min_box)
        return torch.cat([lo, hi], 1)

    def features(self, g: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        s = self.cfg.canvas
        gpx = self.brush.to_pixels(g, s, s)
        w, h = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
        r = self.roles
        parts = [
            (gpx[:, r.x] - box[:, 0:1]) / w[:, None],
            (gpx[:, r.y] - box[:, 1:2]) / h[:, None],
            gpx[:, r.size] / torch.maximum(w, h)[:, None],
            torch.log1p(gpx[:, r.size]) / math.log(s),  # absolute thickness: thin strokes fade
            (g[:, r.other] - self.low[r.other]) / self.span[r.other],
            torch.stack([torch.log(w / s), torch.log(h / s), torch.log(w / h)], 1),
        ]
        return torch.cat(parts, 1)

    def frame(self, feats: torch.Tensor) -> torch.Tensor:
        """[N, F] -> the stroke in its own frame, [N, frame, frame] in [0, 1]."""
        cfg = self.cfg
        z = self.mlp(feats).view(-1, cfg.channels[0], cfg.start, cfg.start)
        for layer in self.decoder:
            z = _conv(layer, z) if isinstance(layer, nn.Conv2d) else layer(z)
        return torch.sigmoid(z)[:, 0]

    def place(self, frame: torch.Tensor, box: torch.Tensor, canvas: int | None = None) -> torch.Tensor:
        """Put frames [N, R, R] into their boxes on a canvas of `canvas` px (default S): [N, c, c]."""
        c = canvas or self.cfg.canvas
        box = box * (c / self.cfg.canvas)
        ay = _interp(box[:, 1], box[:, 3], frame.shape[-1], c)  # [N, c, R]
        ax = _interp(box[:, 0], box[:, 2], frame.shape[-1], c)
        return ay @ frame @ ax.transpose(1, 2)

    def forward(self, g: torch.Tensor, canvas: int | None = None) -> torch.Tensor:
        """Geometry [N, G] (stored units) -> alpha maps [N, c, c]. The stroke is drawn as on the
        S x S canvas the renderer was trained for; `canvas` resamples it to another size."""
        box = self.box(g)
        return self.place(self.frame(self.features(g, box)), box, canvas)

    # ---- weights -----------------------------------------------------------------------------
    def metadata(self, **extra: object) -> dict[str, str]:
        meta = {
            "kind": "renderer",
            "arch": ARCH,
            "brush": self.brush.name,
            "brush_version": self.brush.version,
            "schema": self.brush.schema_hash(),
            "config": self.cfg.to_json(),
        }
        meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()})
        return meta


def _conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A decoder convolution (stride 1, odd kernel, 'same' padding), by the fastest CPU route
    (measured, 200 strokes, one thread): a 1x1 kernel as a matrix product (0.4 ms against 5 ms);
    with frozen weights (painting, agent training), the input gradient as a convolution with the
    flipped kernel (1.8 ms against 8.6 ms for autograd's convolution_backward)."""
    w, b = conv.weight, conv.bias
    if w.shape[-1] == 1:
        n, c, h, wd = x.shape
        y = torch.matmul(w[:, :, 0, 0], x.reshape(n, c, h * wd)).view(n, -1, h, wd)
        return y if b is None else y + b[:, None, None]
    if w.requires_grad or not (torch.is_grad_enabled() and x.requires_grad):
        return conv(x)
    return _FrozenConv.apply(x, w, b)


class _FrozenConv(torch.autograd.Function):
    """conv2d whose weights take no gradient; the input's gradient is conv2d with the kernel
    flipped and its in/out channels swapped (exact for stride 1 and 'same' padding)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(w)
        return torch.nn.functional.conv2d(x, w, b, padding=w.shape[-1] // 2)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (w,) = ctx.saved_tensors
        flipped = w.flip(2, 3).transpose(0, 1)
        return torch.nn.functional.conv2d(g, flipped, padding=w.shape[-1] // 2), None, None


def _interp(lo: torch.Tensor, hi: torch.Tensor, r: int, s: int) -> torch.Tensor:
    """[N, S, R] weights taking a frame of R pixels spanning [lo, hi] to S canvas pixels.

    A tent kernel, widened to the frame-pixels-per-canvas-pixel ratio w when the box is small
    (so shrinking averages rather than skips) and divided by w; zero outside the box.
    """
    pix = torch.arange(s, dtype=lo.dtype, device=lo.device) + 0.5
    scale = r / (hi - lo)[:, None]  # frame pixels per canvas pixel
    u = (pix[None, :] - lo[:, None]) * scale - 0.5  # [N, S] frame coordinate of each canvas pixel
    inv_w = 1.0 / scale.clamp_min(1.0)[:, :, None]
    j = torch.arange(r, dtype=lo.dtype, device=lo.device)
    return torch.relu(1 - (u[:, :, None] - j).abs() * inv_w) * inv_w


def load(brush: Brush, path=None) -> tuple[NeuralRenderer, dict[str, str], str]:
    """The renderer in use for a brush (explicit path, user dir, shipped): (model, metadata, where)."""
    from strokepaint.errors import UsageError

    tensors, meta, path, where = store.open_for(brush, "renderer", path)
    if meta.get("arch") != ARCH:
        raise UsageError(f"{path}: renderer architecture {meta.get('arch')!r} is not {ARCH!r}")
    try:
        cfg = RendererConfig.from_json(meta["config"])
        model = NeuralRenderer(brush, cfg)
        model.load_state_dict(tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise UsageError(f"{path}: renderer weights do not fit their architecture ({type(e).__name__})") from None
    return model.eval(), meta, where
