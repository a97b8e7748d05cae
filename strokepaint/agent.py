"""The painting agent's networks (paper §3, appendix Tables 1-2), sized for the CPU.

    observation [B, 9, R, R] = canvas (3) + target (3) + step t/T (1) + CoordConv x, y (2)
    Actor(obs)         -> actions [B, k, P] in (0, 1): k strokes of P numbers (sigmoid), BN
    Critic(obs)        -> V(s) [B]        weight norm + TReLU, no BN
    Discriminator(c,t) -> score [B]       WGAN critic on (canvas, target) pairs, weight norm + TReLU

R (the resolution the agent sees and trains at) is 64 by default, not the paper's 128: the
networks cost ~4x less, and stroke parameters are resolution-free, so the finished painting is
still drawn by the exact rasterizer at full size.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


@dataclass
class AgentConfig:
    resolution: int = 64  # R: side of the canvas the agent observes and trains on
    bundle: int = 5  # k: strokes per action (the paper's bundle)
    steps: int = 40  # T: actions per painting (k * T strokes)
    width: int = 32  # channels of the first stage; doubled at each of the later stages
    stages: int = 4  # each halves the resolution
    params: int = 13  # P: numbers per stroke (set from the brush)

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
    """Residual block that halves the resolution: conv-norm-act-conv-norm + projected shortcut."""

    def __init__(self, cin: int, cout: int, norm: bool):
        super().__init__()

        def conv(a: int, b: int, stride: int, k: int = 3) -> nn.Module:
            c = nn.Conv2d(a, b, k, stride, k // 2, bias=not norm)
            return c if norm else weight_norm(c)

        self.c1, self.c2, self.skip = conv(cin, cout, 2), conv(cout, cout, 1), conv(cin, cout, 2, 1)
        self.n1 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.n2 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.ns = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.a1 = nn.ReLU() if norm else TReLU(cout)
        self.a2 = nn.ReLU() if norm else TReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.n2(self.c2(self.a1(self.n1(self.c1(x)))))
        return self.a2(y + self.ns(self.skip(x)))


class _Trunk(nn.Module):
    """[B, cin, R, R] -> [B, features]: residual stages halving the resolution, then global pooling."""

    def __init__(self, cin: int, cfg: AgentConfig, norm: bool):
        super().__init__()
        widths = [cfg.width * 2**i for i in range(cfg.stages)]
        self.blocks = nn.Sequential(*[_Block(a, b, norm) for a, b in zip([cin] + widths[:-1], widths)])
        self.features = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).mean((2, 3))


class Actor(nn.Module):
    def __init__(self, cfg: AgentConfig):
        super().__init__()
        self.cfg = cfg
        self.trunk = _Trunk(9, cfg, norm=True)
        self.head = nn.Linear(self.trunk.features, cfg.bundle * cfg.params)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """[B, 9, R, R] -> [B, k, P] in (0, 1)."""
        return torch.sigmoid(self.head(self.trunk(obs))).view(-1, self.cfg.bundle, self.cfg.params)


class Critic(nn.Module):
    def __init__(self, cfg: AgentConfig):
        super().__init__()
        self.trunk = _Trunk(9, cfg, norm=False)
        self.head = weight_norm(nn.Linear(self.trunk.features, 1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(obs))[:, 0]


class Discriminator(nn.Module):
    def __init__(self, cfg: AgentConfig):
        super().__init__()
        self.trunk = _Trunk(6, cfg, norm=False)
        self.head = weight_norm(nn.Linear(self.trunk.features, 1))

    def forward(self, canvas: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(torch.cat([canvas, target], 1)))[:, 0]
