"""Model-based DDPG for the painting agent (paper §3), in one file, sized for the CPU.

env      B paintings in progress at R x R; an action paints a bundle of k strokes through the
         brush's neural renderer; an episode is T actions on one target
reward   r(s, s') = D(s', target) - D(s, target) with D a WGAN-GP critic of (canvas, target)
         pairs (real: (target, target)); `l2` instead: the drop in squared error
critic   V(s) regressed on r + gamma * V_target(s')            (gamma = 0.95 ** k)
actor    maximises r(s, pi(s)) + gamma * V(trans(s, pi(s))) *through the renderer*
targets  soft copies (tau) of actor, critic and discriminator; rewards use the copy of D
replay   recent transitions (canvas before and after, target, step) as uint8 at R x R
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from strokepaint.agent import Actor, AgentConfig, Critic, Discriminator, observe
from strokepaint.brush import Brush
from strokepaint.compose import blank, composite
from strokepaint.errors import UsageError
from strokepaint.renderer import NeuralRenderer


@dataclass
class AgentTraining:
    envs: int = 32  # paintings in progress at once
    batch: int = 64  # transitions per update
    replay: int = 20_000  # transitions kept
    warmup: int = 400  # env steps of the untrained actor before learning starts
    gamma: float = 0.95**5  # discount per action (paper: 0.95 per stroke, k = 5)
    tau: float = 0.005  # soft target update
    lr_actor: float = 3e-4
    lr_critic: float = 1e-3
    lr_disc: float = 3e-4
    gp: float = 10.0  # WGAN gradient penalty weight
    noise: float = 0.1  # exploration: Gaussian noise on actions in logit space
    reward: str = "wgan"  # wgan | l2
    background: float = 1.0  # the blank canvas (grey level)


# ---- the environment ---------------------------------------------------------------------------
def decode(brush: Brush, actions: torch.Tensor) -> torch.Tensor:
    """Actions in (0, 1) [..., P] -> strokes in stored units [..., P]."""
    low = actions.new_tensor([p.low for p in brush.params])
    high = actions.new_tensor([p.high for p in brush.params])
    return low + actions * (high - low)


def paint(renderer: NeuralRenderer, canvas: torch.Tensor, strokes: torch.Tensor) -> torch.Tensor:
    """Composite bundles of strokes [B, k, P] onto canvases [B, 3, R, R] through the renderer."""
    b, k, p = strokes.shape
    r = canvas.shape[-1]
    g = strokes[..., : renderer.brush.n_geometry].reshape(b * k, -1)
    alpha = renderer(g, canvas=r).view(b, k, r, r)
    return composite(canvas, alpha, strokes[..., renderer.brush.n_geometry :])


class Targets:
    """Random crops of the training photos at several scales, resized to R x R."""

    def __init__(self, folder: str | Path, resolution: int, gen: random.Random, keep_side: int = 256):
        from strokepaint import images

        files = images.find(folder)
        self.pictures: list[torch.Tensor] = []
        self.skipped = 0
        for f in files:
            try:
                img = images.open_rgb(f)
            except UsageError:
                self.skipped += 1
                continue
            w, h = img.size
            s = keep_side / min(w, h)
            if s < 1:
                img = img.resize((max(1, round(w * s)), max(1, round(h * s))))
            self.pictures.append(images.to_tensor(img))
        if not self.pictures:
            raise UsageError(f"{folder}: no readable images ({len(files)} files found, {self.skipped} unreadable)")
        self.resolution, self.gen = resolution, gen

    def sample(self, n: int, gen: random.Random | None = None) -> torch.Tensor:
        """n crops [n, 3, R, R], drawn with `gen` (default: the source's own generator)."""
        gen = gen or self.gen
        out = []
        for _ in range(n):
            pic = self.pictures[gen.randrange(len(self.pictures))]
            _, h, w = pic.shape
            side = max(8, int(min(h, w) * gen.uniform(0.35, 1.0)))
            y, x = gen.randrange(h - side + 1), gen.randrange(w - side + 1)
            crop = pic[:, y : y + side, x : x + side]
            if gen.random() < 0.5:
                crop = crop.flip(2)
            out.append(F.interpolate(crop[None], size=(self.resolution,) * 2, mode="bilinear", antialias=True, align_corners=False)[0])
        return torch.stack(out).clamp(0, 1)


class Replay:
    """Transitions (canvas, next canvas, target as uint8 at R x R; step index)."""

    def __init__(self, capacity: int, resolution: int):
        shape = (capacity, 3, resolution, resolution)
        self.canvas = torch.zeros(shape, dtype=torch.uint8)
        self.after = torch.zeros(shape, dtype=torch.uint8)
        self.target = torch.zeros(shape, dtype=torch.uint8)
        self.step = torch.zeros(capacity, dtype=torch.long)
        self.capacity, self.count, self.head = capacity, 0, 0

    def add(self, canvas: torch.Tensor, after: torch.Tensor, target: torch.Tensor, step: torch.Tensor) -> None:
        n = len(canvas)
        idx = (torch.arange(n) + self.head) % self.capacity
        for store, value in ((self.canvas, canvas), (self.after, after), (self.target, target)):
            store[idx] = (value * 255).round().clamp(0, 255).to(torch.uint8)
        self.step[idx] = step
        self.head = (self.head + n) % self.capacity
        self.count = min(self.capacity, self.count + n)

    def sample(self, n: int, gen: torch.Generator):
        idx = torch.randint(0, self.count, (n,), generator=gen)
        f = lambda t: t[idx].float() / 255  # noqa: E731
        return f(self.canvas), f(self.after), f(self.target), self.step[idx]


# ---- learning ----------------------------------------------------------------------------------
def gradient_penalty(disc: Discriminator, real: torch.Tensor, fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    eps = torch.rand(len(real), 1, 1, 1)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    score = disc(mix, target)
    (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def soft_update(target: torch.nn.Module, source: torch.nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.lerp_(s, tau)
        for t, s in zip(target.buffers(), source.buffers()):
            t.copy_(s)


class Learner:
    """Actor, critic, discriminator, their target copies and optimisers; one `update` per call."""

    def __init__(self, brush: Brush, renderer: NeuralRenderer, cfg: AgentConfig, tc: AgentTraining):
        self.brush, self.renderer, self.cfg, self.tc = brush, renderer, cfg, tc
        self.actor, self.critic, self.disc = Actor(cfg), Critic(cfg), Discriminator(cfg)
        self.actor_t, self.critic_t, self.disc_t = (copy.deepcopy(m) for m in (self.actor, self.critic, self.disc))
        self.opt_a = torch.optim.Adam(self.actor.parameters(), lr=tc.lr_actor)
        self.opt_c = torch.optim.Adam(self.critic.parameters(), lr=tc.lr_critic)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=tc.lr_disc, betas=(0.5, 0.999))
        for p in renderer.parameters():
            p.requires_grad_(False)

    def reward(self, before: torch.Tensor, after: torch.Tensor, target: torch.Tensor, disc: Discriminator) -> torch.Tensor:
        if self.tc.reward == "l2":
            return ((before - target) ** 2).mean((1, 2, 3)) - ((after - target) ** 2).mean((1, 2, 3))
        return disc(after, target) - disc(before, target)

    def update(self, batch) -> dict[str, float]:
        canvas, after, target, step = batch
        tc, T = self.tc, self.cfg.steps
        info: dict[str, float] = {}
        if tc.reward == "wgan":  # discriminator: real (target, target) against fake (canvas, target)
            real, fake = self.disc(target, target), self.disc(after, target)
            loss_d = fake.mean() - real.mean() + tc.gp * gradient_penalty(self.disc, target, after, target)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            info["wasserstein"] = float((real.mean() - fake.mean()).detach())
        not_last = (step + 1 < T).float()
        with torch.no_grad():  # critic: V(s) <- r + gamma V'(s')
            r = self.reward(canvas, after, target, self.disc_t)
            y = r + tc.gamma * not_last * self.critic_t(observe(after, target, step + 1, T))
        loss_c = F.mse_loss(self.critic(observe(canvas, target, step, T)), y)
        self.opt_c.zero_grad(set_to_none=True)
        loss_c.backward()
        self.opt_c.step()
        # actor: through the renderer, maximise r(s, pi(s)) + gamma V(s')
        self.actor.train()
        strokes = decode(self.brush, self.actor(observe(canvas, target, step, T)))
        new = paint(self.renderer, canvas, strokes)
        for m in (self.critic, self.disc_t):
            m.requires_grad_(False)
        q = self.reward(canvas, new, target, self.disc_t) + tc.gamma * not_last * self.critic(observe(new, target, step + 1, T))
        for m in (self.critic, self.disc_t):
            m.requires_grad_(True)
        loss_a = -q.mean()
        self.opt_a.zero_grad(set_to_none=True)
        loss_a.backward()
        self.opt_a.step()
        for t, s in ((self.actor_t, self.actor), (self.critic_t, self.critic), (self.disc_t, self.disc)):
            soft_update(t, s, tc.tau)
        info.update(critic=float(loss_c.detach()), q=float(q.detach().mean()), reward=float(r.mean()))
        return info

    def state(self) -> dict:
        return {
            name: getattr(self, name).state_dict()
            for name in ("actor", "critic", "disc", "actor_t", "critic_t", "disc_t", "opt_a", "opt_c", "opt_d")
        }

    def load_state(self, state: dict) -> None:
        for name, value in state.items():
            getattr(self, name).load_state_dict(value)


@torch.no_grad()
def act(
    actor: Actor,
    renderer: NeuralRenderer,
    brush: Brush,
    target: torch.Tensor,
    steps: int,
    canvas: torch.Tensor | None = None,
    noise: float = 0.0,
    gen: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paint targets [B, 3, R, R] for `steps` actions with the actor: (canvas, strokes [B, steps*k, P])."""
    actor.eval()
    b, _, r, _ = target.shape
    canvas = blank((1.0, 1.0, 1.0), r, r, (b,)) if canvas is None else canvas
    all_strokes = []
    for t in range(steps):
        a = actor(observe(canvas, target, torch.full((b,), t), actor.cfg.steps))
        if noise:
            a = torch.sigmoid(torch.logit(a, 1e-4) + noise * torch.randn(a.shape, generator=gen))
        strokes = decode(brush, a)
        canvas = paint(renderer, canvas, strokes)
        all_strokes.append(strokes)
    return canvas, torch.cat(all_strokes, 1)


def config_json(cfg: AgentConfig, tc: AgentTraining) -> dict[str, str]:
    return {"config": cfg.to_json(), "training": json.dumps(asdict(tc))}


# ---- the loop ----------------------------------------------------------------------------------
def train(
    brush: Brush,
    renderer: NeuralRenderer,
    data: str | Path,
    out: Path,
    *,
    updates: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    cfg: AgentConfig | None = None,
    tc: AgentTraining | None = None,
    progress=None,
    validate_every: int = 200,
) -> dict:
    """Train an agent for `brush` on photos under `data`; writes the actor (safetensors) to `out`."""
    import time

    from strokepaint import store

    cfg = cfg or AgentConfig()
    cfg.params = brush.n_params
    tc = tc or AgentTraining()
    if tc.reward not in ("wgan", "l2"):
        raise UsageError(f"--reward {tc.reward}: choose wgan or l2")
    torch.manual_seed(seed)
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    targets = Targets(data, cfg.resolution, rng)
    val_targets = targets.sample(16, random.Random(seed + 999))
    learner = Learner(brush, renderer, cfg, tc)
    replay = Replay(tc.replay, cfg.resolution)
    n, r, T = tc.envs, cfg.resolution, cfg.steps
    bg = (tc.background,) * 3
    canvas, target, t = blank(bg, r, r, (n,)), targets.sample(n), torch.zeros(n, dtype=torch.long)
    history: list[dict] = []
    done_updates, start, info = 0, time.monotonic(), {}
    while True:
        elapsed = time.monotonic() - start
        if (updates is not None and done_updates >= updates) or (minutes is not None and elapsed >= minutes * 60):
            break
        with torch.no_grad():
            if replay.count < tc.warmup:
                a = torch.rand(n, cfg.bundle, cfg.params, generator=gen)
            else:
                learner.actor.eval()
                a = learner.actor(observe(canvas, target, t, T))
                a = torch.sigmoid(torch.logit(a, 1e-4) + tc.noise * torch.randn(a.shape, generator=gen))
            new = paint(renderer, canvas, decode(brush, a))
        replay.add(canvas, new, target, t)
        canvas, t = new, t + 1
        finished = t >= T
        if finished.any():
            k = int(finished.sum())
            canvas[finished], target[finished], t[finished] = blank(bg, r, r, (k,)), targets.sample(k), 0
        if replay.count < tc.warmup:
            continue
        info = learner.update(replay.sample(tc.batch, gen))
        done_updates += 1
        if done_updates % validate_every == 0 or done_updates == updates:
            painted, _ = act(learner.actor, renderer, brush, val_targets, T)
            info["val_mse"] = float(((painted - val_targets) ** 2).mean())
            history.append({"update": done_updates, "seconds": round(time.monotonic() - start, 1), **info})
        if progress:
            progress(done_updates, updates, info)
    meta = {
        "kind": "agent",
        "brush": brush.name,
        "brush_version": brush.version,
        "schema": brush.schema_hash(),
        "updates": str(done_updates),
        "train_seconds": str(round(time.monotonic() - start, 1)),
        "seed": str(seed),
        "history": json.dumps(history),
        **config_json(cfg, tc),
    }
    store.save_weights(out, learner.actor.state_dict(), meta)
    return meta
