"""The painting agent's networks (paper §3, appendix Tables 1-2), sized for the CPU, and the
agent at work: `act` paints targets bundle by bundle (`paint_bundle`: through the neural
renderer, each stroke in its best colour), as training (train_agent.py) and the engine use it.

    observation [B, 9, R, R] = canvas (3) + target (3) + step t/T (1) + CoordConv x, y (2)
    Actor(obs)         -> actions [B, k, P] in (0, 1): k strokes of P numbers (sigmoid), BN
    Critic(obs)        -> V(s) [B]        weight norm + TReLU, no BN
    Discriminator(c,t) -> score [B]       WGAN critic on (canvas, target) pairs, weight norm + TReLU

R (the resolution the agent sees and trains at) is 64 by default, not the paper's 128: the
networks cost ~4x less, and stroke parameters are resolution-free, so the finished painting is
still drawn by the exact rasterizer at full size. The trunks end in the final R/16 x R/16 map
flattened (not the paper's global average pool), so the head still knows *where* things are.
The critic is narrower than the actor: it is run three times per update, the actor once.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from strokepaint.compose import best_colours, blank, composite

if TYPE_CHECKING:
    from strokepaint.brush import Brush
    from strokepaint.renderer import NeuralRenderer

COLOURS = ("fit", "actor")  # AgentConfig.colours


@dataclass
class AgentConfig:
    resolution: int = 64  # R: side of the canvas the agent observes and trains on
    bundle: int = 5  # k: strokes per action (the paper's bundle)
    steps: int = 40  # T: actions per painting (k * T strokes)
    width: int = 32  # actor: channels of its first block, 2x in its two others (Actor)
    critic_width: int = 16  # critic and discriminator: channels of the first stage, doubled at each later one
    stages: int = 4  # critic and discriminator: residual stages, each halving the resolution
    params: int = 13  # P: numbers per stroke (set from the brush)
    roles: str = ""  # one letter per number: x, y or . (set from the brush; x/y are anchored)
    # a stroke's colour: `fit` the colour that brings the canvas closest to the target where the
    # stroke lands (compose.best_colours), the actor's own colour only where it barely shows;
    # `actor` the actor's (the paper). docs/agent.md: fit is better for every shipped agent, trained either way
    colours: str = "fit"
    # how the engine uses the agent on a picture (patch-wise, coarse to fine; measured after training
    # by benchmarks/agent_tiles.py); -1: 1/8 of the episode (agents saved before these existed too)
    tile_steps: int = -1  # actions the finest tiles get
    later_step: int = -1  # the step index a later (finer) pass starts at: its canvas is partly painted
    # `--method auto` paints with this agent (then refines) when the refinement can give each stroke
    # fewer steps than this and its finest tiles are over R/4 px; 0: on every picture it may paint
    # (engine.choose_method; measured per agent against `optimize`, docs/engine.md: how a picture is painted, step 3)
    auto_steps: int = 30

    def __post_init__(self) -> None:
        counts = (self.bundle, self.steps, self.width, self.critic_width, self.stages)
        if min(counts) < 1 or self.resolution % 2**self.stages or self.resolution < 2**self.stages:
            raise ValueError(
                f"resolution {self.resolution}, stages {self.stages}, bundle {self.bundle}, steps {self.steps}, width {self.width}, "
                f"critic_width {self.critic_width}: counts are at least 1 and the resolution a multiple of 2**stages (at least 2**stages)"
            )
        if self.colours not in COLOURS:
            raise ValueError(f"colours={self.colours!r}: choose {' or '.join(COLOURS)}")
        if self.tile_steps < 0:
            self.tile_steps = max(1, self.steps // 8)
        if self.later_step < 0:
            self.later_step = self.steps // 8
        if self.auto_steps < 0:
            raise ValueError(f"auto_steps={self.auto_steps}: 0 (always) or a number of steps")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AgentConfig:
        return cls(**json.loads(text))


def coords(n: int, r: int, device=None) -> torch.Tensor:
    """CoordConv channels [n, 2, r, r] in [0, 1]."""
    ax = (torch.arange(r, dtype=torch.float32, device=device) + 0.5) / r
    y, x = torch.meshgrid(ax, ax, indexing="ij")
    return torch.stack([x, y])[None].expand(n, 2, r, r)


def observe(canvas: torch.Tensor, target: torch.Tensor, t: torch.Tensor, total: int) -> torch.Tensor:
    """State -> observation [B, 9, R, R]; t is the step index [B] (0-based)."""
    b, _, r, _ = canvas.shape
    step = (t.float() / total).view(b, 1, 1, 1).expand(b, 1, r, r)
    return torch.cat([canvas, target, step, coords(b, r, canvas.device)], 1)


class TReLU(nn.Module):
    """ReLU with a learned threshold per channel: max(x, alpha) (the paper's critic activation)."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(x, self.alpha)


class _Block(nn.Module):
    """Residual block (stride 2 halves the resolution): conv-norm-act-conv-norm + projected shortcut."""

    def __init__(self, cin: int, cout: int, norm: bool, stride: int = 2):
        super().__init__()

        def conv(a: int, b: int, stride: int, k: int = 3) -> nn.Module:
            c = nn.Conv2d(a, b, k, stride, k // 2, bias=not norm)
            return c if norm else weight_norm(c)

        self.c1, self.c2, self.skip = conv(cin, cout, stride), conv(cout, cout, 1), conv(cin, cout, stride, 1)
        self.n1 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.n2 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.ns = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.a1 = nn.ReLU() if norm else TReLU(cout)
        self.a2 = nn.ReLU() if norm else TReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.n2(self.c2(self.a1(self.n1(self.c1(x)))))
        return self.a2(y + self.ns(self.skip(x)))


class _Trunk(nn.Module):
    """[B, cin, R, R] -> [B, features]: residual stages halving the resolution, the last map
    (R / 2**stages square) flattened (no global pooling: module doc)."""

    def __init__(self, cin: int, width: int, cfg: AgentConfig, norm: bool):
        super().__init__()
        widths = [width * 2**i for i in range(cfg.stages)]
        self.blocks = nn.Sequential(*[_Block(a, b, norm) for a, b in zip([cin] + widths[:-1], widths)])
        self.features = widths[-1] * math.ceil(cfg.resolution / 2**cfg.stages) ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).flatten(1)


class Actor(nn.Module):
    """obs [B, 9, R, R] -> a bundle of k strokes [B, k, P] in (0, 1).

    A convolutional trunk down to a G x G grid (G = R/4), plus a global context vector. Each of the
    k strokes places itself by a softmax over the grid (soft-argmax: its anchor point) and reads
    its numbers from the features pooled with the same weights; parameters with role x / y are
    the anchor moved by a learned offset (in logit space). Stroke placement is thus translation
    equivariant and colours are read where the stroke goes, which the flat head of the paper's
    ResNet has to learn from scratch (measured: stuck at the mean-colour level for 700 updates).
    """

    def __init__(self, cfg: AgentConfig):
        super().__init__()
        self.cfg = cfg
        w, k, p = cfg.width, cfg.bundle, cfg.params
        self.trunk = nn.Sequential(_Block(9, w, True), _Block(w, 2 * w, True), _Block(2 * w, 2 * w, True, stride=1))
        self.context = nn.Sequential(nn.Linear(2 * w, 2 * w), nn.ReLU(), nn.Linear(2 * w, 2 * w))
        self.heat = nn.Conv2d(2 * w, k, 1)
        self.numbers = nn.Conv2d(2 * w, k * p, 1)
        roles = cfg.roles or "." * p
        self.register_buffer("is_x", torch.tensor([c == "x" for c in roles]), persistent=False)
        self.register_buffer("is_y", torch.tensor([c == "y" for c in roles]), persistent=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        f = self.trunk(obs)  # [B, C, G, G]
        b, c, g, _ = f.shape
        f = torch.relu(f + self.context(f.mean((2, 3)))[:, :, None, None])
        k, p = self.cfg.bundle, self.cfg.params
        weights = torch.softmax(self.heat(f).flatten(2), -1)  # [B, k, G*G]
        numbers = (self.numbers(f).view(b, k, p, g * g) * weights[:, :, None]).sum(-1)  # [B, k, P]
        cells = coords(1, g, obs.device)[0].flatten(1)  # [2, G*G]: cell centres x, y
        anchor = torch.logit(weights @ cells.T, 1e-3)  # [B, k, 2]
        shift = self.is_x * anchor[..., :1] + self.is_y * anchor[..., 1:]
        return torch.sigmoid(numbers + shift)


class Critic(nn.Module):
    def __init__(self, cfg: AgentConfig):
        super().__init__()
        self.trunk = _Trunk(9, cfg.critic_width, cfg, norm=False)
        self.head = weight_norm(nn.Linear(self.trunk.features, 1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(obs))[:, 0]


class Discriminator(nn.Module):
    def __init__(self, cfg: AgentConfig):
        super().__init__()
        self.trunk = _Trunk(6, cfg.critic_width, cfg, norm=False)
        self.head = weight_norm(nn.Linear(self.trunk.features, 1))

    def forward(self, canvas: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(torch.cat([canvas, target], 1)))[:, 0]


# ---- the agent at work: bundles of strokes through the renderer (training and painting alike) ----
def agent_roles(brush: Brush) -> str:
    return "".join(p.role if p.role in ("x", "y") else "." for p in brush.params)


def decode(brush: Brush, actions: torch.Tensor) -> torch.Tensor:
    """Actions in (0, 1) [..., P] -> strokes in stored units [..., P]."""
    low, high = (t.to(actions) for t in brush.ranges())
    return low + actions * (high - low)


def paint_bundle(
    renderer: NeuralRenderer, canvas: torch.Tensor, strokes: torch.Tensor, target: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite bundles of strokes [B, k, P] onto canvases [B, 3, R, R] through the renderer:
    (new canvas, strokes). Given the `target`, each stroke takes its best colour where it lands
    (AgentConfig.colours `fit`), and the strokes returned carry those colours."""
    b, k, p = strokes.shape
    r, ng = canvas.shape[-1], renderer.brush.n_geometry
    alpha = renderer(strokes[..., :ng].reshape(b * k, -1), canvas=r).view(b, k, r, r)
    if target is None:
        return composite(canvas, alpha, strokes[..., ng:]), strokes
    canvas, colours = best_colours(canvas, alpha, target, strokes[..., ng:])
    return canvas, torch.cat([strokes[..., :ng], colours], -1)


def fitting(cfg: AgentConfig, target: torch.Tensor) -> torch.Tensor | None:
    """What `paint_bundle` fits the colours to: the target if the agent's strokes take their best
    colours (AgentConfig.colours `fit`), else nothing (the actor's own colours)."""
    return target if cfg.colours == "fit" else None


@torch.no_grad()
def act(
    actor: Actor,
    renderer: NeuralRenderer,
    brush: Brush,
    target: torch.Tensor,
    steps: int | list[int],
    canvas: torch.Tensor | None = None,
    background: float = 1.0,
    first_step: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paint targets [B, 3, R, R] for `steps` actions with the actor: (canvas, strokes [B, S*k, P]).
    `steps` is one count for all, or one per target (S the largest; a target's actions stop at
    its count, its strokes after them are 0.5s: the agent only acts where its strokes are used).
    `first_step` > 0 tells the actor the canvas is already partly painted (step indices past its
    episode count as the last)."""
    actor.eval()
    b, _, r, _ = target.shape
    counts = torch.as_tensor(steps).expand(b)
    canvas = blank((background,) * 3, r, r, (b,)).to(target.device) if canvas is None else canvas.clone()
    k, n = actor.cfg.bundle, int(counts.max()) if b else 0
    out = torch.full((b, n * k, len(brush.params)), 0.5, device=target.device)
    for t in range(n):
        rows = (counts > t).nonzero()[:, 0].to(target.device)  # the targets still painting
        every = len(rows) == b
        cv, tg = (canvas, target) if every else (canvas[rows], target[rows])
        now = torch.full((len(rows),), min(first_step + t, actor.cfg.steps - 1), device=target.device)
        a = actor(observe(cv, tg, now, actor.cfg.steps))
        new, strokes = paint_bundle(renderer, cv, decode(brush, a), fitting(actor.cfg, tg))
        canvas[rows] = new
        out[rows, t * k : (t + 1) * k] = strokes
    return canvas, out


def load(brush, path=None) -> tuple[Actor, dict[str, str], str]:
    """The agent in use for a brush (explicit path, user dir, shipped): (actor, metadata, where)."""
    from strokepaint import store
    from strokepaint.errors import UsageError

    tensors, meta, path, where = store.open_for(brush, "agent", path)
    try:
        cfg = AgentConfig.from_json(meta["config"])
        actor = Actor(cfg)
        actor.load_state_dict(tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise UsageError(f"{path}: agent weights do not fit their architecture ({type(e).__name__})") from None
    if cfg.params != brush.n_params:
        raise UsageError(f"{path}: agent outputs {cfg.params} numbers per stroke, brush {brush.name} has {brush.n_params}")
    return actor.eval(), meta, where


def update_settings(path, config: dict, **meta: str) -> None:
    """Rewrite an agent file with settings measured after training (benchmarks/agent_tiles.py,
    auto_method.py --write), atomically: `config` fields replaced in its AgentConfig (checked as on
    load), `meta` entries set in its metadata; the weights are kept as they are."""
    import dataclasses

    from strokepaint import store
    from strokepaint.errors import UsageError

    tensors, metadata = store.load_weights(path, "agent")
    try:
        cfg = dataclasses.replace(AgentConfig.from_json(metadata["config"]), **config)
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"{path}: agent settings cannot be updated ({type(e).__name__}: {e})") from None
    store.save_weights(path, tensors, {**metadata, **meta, "config": cfg.to_json()})
