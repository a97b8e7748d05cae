"""Model-based DDPG for the painting agent (paper §3), in one file, sized for the CPU.

env      B paintings in progress at R x R; an action paints a bundle of k strokes through the
         brush's neural renderer, each in its best colour where it lands (AgentConfig.colours
         `fit`; `actor`: the actor's own); an episode is T actions on one target, from a blank
         canvas or (`zoom`) on a tile of the last episode's target and canvas, coarse to fine
reward   r(s, s') = D(s', target) - D(s, target) with D a WGAN-GP critic of (canvas, target)
         pairs (real: (target, target)); `l2` instead: the drop in squared error; `log`: the
         drop in its logarithm (rewards sum to log(e_0 / e_T): every step's relative gain counts)
critic   V(s) regressed on r + gamma * V_target(s')            (gamma = 0.95 ** k)
actor    maximises r(s, pi(s)) + gamma * V(trans(s, pi(s))) *through the renderer*; optionally
         (`imitate`, not the default: docs/agent.md) also regresses on its actions improved by a few
         gradient steps; from scratch or from another agent's actor (`train(init=...)`)
targets  soft copies (tau) of actor, critic and discriminator; rewards use the copy of D
replay   recent transitions (canvas before and after, target, step) as uint8 at R x R
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from strokepaint.agent import Actor, AgentConfig, Critic, Discriminator, act, agent_roles, decode, fitting, observe, paint_bundle
from strokepaint.brush import Brush
from strokepaint.compose import blank
from strokepaint.errors import UsageError
from strokepaint.renderer import NeuralRenderer

VAL_SEED = 999
REWARDS = ("wgan", "l2", "log")
LOG_FLOOR = 1e-4  # `log` reward: squared error below this counts as done (a ~40 dB painting)
FROM_INIT = ("resolution", "bundle", "width", "critic_width", "stages")  # what a run from another agent (init) takes from it
ZOOM_MIN_SIDE = 24  # photo px: no zoom into a smaller tile (the engine's finest tiles at 128 px are 32)


@dataclass
class AgentTraining:
    envs: int = 32  # paintings in progress at once
    batch: int = 32  # transitions per update (the shipped bezier agent's settings, docs/agent.md)
    replay: int = 20_000  # transitions kept
    warmup: int = 400  # env steps of the untrained actor before learning starts
    gamma: float = 0.95**5  # discount per action (paper: 0.95 per stroke, k = 5)
    tau: float = 0.005  # soft target update
    lr_actor: float = 1e-3  # the shipped bezier agent (the paper: 3e-4 at batch 96)
    lr_critic: float = 1e-3
    lr_disc: float = 3e-4
    gp: float = 10.0  # WGAN gradient penalty weight
    noise: float = 0.1  # exploration: Gaussian noise on actions in logit space
    reward: str = "log"  # wgan (the paper's) | l2 (its ablation) | log (the drop in log squared error)
    background: float = 1.0  # the blank canvas (grey level)
    val_images: int = 32  # fixed validation crops (the learning curve)
    validate_every: int = 250  # updates
    keep_best: bool = True  # write the actor with the best validation MSE, not the last one
    # Polyak averaging: a slow running average of the actor's weights (this tau per update; 0: off),
    # validated beside the actor and its target copy; the best of the three is written
    average: float = 0.0
    checkpoint_minutes: float = 3.0
    # coarse to fine, as the engine paints: a finished episode goes on, with this probability, on
    # a tile of half its side (the target cropped anew from the photo, the canvas its painted part
    # enlarged), from step 0 like the engine's later passes; up to `zoom_depth` times in a row
    zoom: float = 0.0
    zoom_depth: int = 2
    # learning rates fall on a cosine from their values above to 1/10 of them over this many
    # updates (counted across resumed runs), then stay there; 0: constant
    anneal: int = 0
    # the actor's objective looks this many actions ahead through the renderer before the critic
    # takes over: r_0 + gamma r_1 + ... + gamma^n V(s_n), every action its own (1: the paper's)
    lookahead: int = 1
    # imitation of improved actions (ours): the actor's action in each replayed state, improved by
    # `imitate_steps` of Adam (step `imitate_lr`) on its logits towards a higher r + gamma V(s'), is
    # a regression target for the actor beside the paper's objective, with this weight (0: off)
    imitate: float = 0.0
    imitate_steps: int = 5
    imitate_lr: float = 0.1
    # updates at the start of a run from another agent's actor (`train(init=...)`) that train the
    # fresh critic (and discriminator) only, so the actor does not follow an untrained critic
    critic_warmup: int = 500

    def __post_init__(self) -> None:
        small = [k for k in ("envs", "batch", "replay", "val_images", "validate_every") if getattr(self, k) < 1]
        rates = [k for k in ("lr_actor", "lr_critic", "lr_disc", "checkpoint_minutes") if not getattr(self, k) > 0]
        if small or rates:
            raise ValueError(f"{', '.join(small + rates)}: counts must be at least 1, rates and minutes above 0")
        if not 0 <= self.gamma <= 1 or not 0 < self.tau <= 1:
            raise ValueError(f"gamma {self.gamma}, tau {self.tau}: gamma from 0 to 1, tau above 0 and at most 1")
        if self.batch > self.replay:
            raise ValueError(f"batch {self.batch} is more than the replay buffer's {self.replay} transitions")
        if not 0 <= self.background <= 1:
            raise ValueError(f"background {self.background}: a grey level from 0 (black) to 1 (white)")
        if self.reward not in REWARDS:
            raise ValueError(f"reward {self.reward!r}: choose {', '.join(REWARDS)}")
        if not 0 <= self.zoom <= 1 or not 0 <= self.average <= 1 or self.zoom_depth < 0 or self.anneal < 0 or self.lookahead < 1:
            raise ValueError(
                f"zoom={self.zoom} average={self.average} zoom_depth={self.zoom_depth} anneal={self.anneal} lookahead={self.lookahead}: "
                "zoom is a probability from 0 to 1, average a rate from 0 to 1, zoom_depth and anneal are counts (0 or more), "
                "lookahead a count of actions (1 or more)"
            )
        if self.imitate < 0 or self.imitate_steps < 1 or self.imitate_lr <= 0 or self.critic_warmup < 0:
            raise ValueError(
                f"imitate={self.imitate} imitate_steps={self.imitate_steps} imitate_lr={self.imitate_lr} "
                f"critic_warmup={self.critic_warmup}: "
                "imitate is a weight (0 or more), imitate_steps a count (1 or more), imitate_lr a step size above 0, "
                "critic_warmup a count (0 or more)"
            )


def check_memory(cfg: AgentConfig, tc: AgentTraining) -> None:
    """Refuse settings whose batches or replay buffer would not fit in memory (before any work)."""
    most = max(tc.batch, tc.envs, tc.val_images)  # canvases worked on at once
    if most * cfg.resolution**2 > 2**24 or tc.replay * cfg.resolution**2 * 9 > 8 * 2**30:
        raise UsageError(
            "batch, envs, val_images or replay too large for memory: keep each of the first three x resolution^2 "
            "under 16M and the replay under 8 GB"
        )


@dataclass
class Box:
    """Where a training target was cropped: picture index, left, top, side (photo px), mirrored."""

    pic: int
    x: int
    y: int
    side: int
    flip: bool
    depth: int = 0  # zooms since the episode that started on a blank canvas


class Targets:
    """Random crops of the training photos at scales from a 64-px detail to the whole photo
    (photos kept at most 512 px on the shorter side, as uint8), resized to R x R, half mirrored."""

    def __init__(self, folder: str | Path, resolution: int, gen: random.Random, keep_side: int = 512):
        from strokepaint import images

        files = images.find(folder)
        self.pictures: list[torch.Tensor] = []
        self.unreadable: list[str] = []  # one line per file left out: its name and the problem
        for f in files:
            try:
                img = images.open_rgb(f)
            except UsageError as e:
                self.unreadable.append(str(e))
                continue
            w, h = img.size
            s = keep_side / min(w, h)
            if s < 1:
                img = img.resize((max(1, round(w * s)), max(1, round(h * s))))
            self.pictures.append((images.to_tensor(img) * 255).round().to(torch.uint8))
        if not files:
            kinds = ", ".join(sorted(images.EXTENSIONS))
            raise UsageError(f"--data {folder}: no readable images: no image files in it or its subfolders ({kinds})")
        if not self.pictures:
            first = self.unreadable[0]
            raise UsageError(f"--data {folder}: no readable images: none of its {len(files)} image files can be read ({first})")
        self.resolution, self.gen = resolution, gen

    def sample(self, n: int, gen: random.Random | None = None) -> torch.Tensor:
        """n crops [n, 3, R, R], drawn with `gen` (default: the source's own generator)."""
        return self.sample_boxes(n, gen)[0]

    def sample_boxes(self, n: int, gen: random.Random | None = None) -> tuple[torch.Tensor, list[Box]]:
        """n crops [n, 3, R, R] and where each came from (for `zoom`)."""
        gen = gen or self.gen
        boxes = []
        for _ in range(n):
            i = gen.randrange(len(self.pictures))
            _, h, w = self.pictures[i].shape
            short = min(h, w)
            side = round(math.exp(gen.uniform(math.log(min(64, short)), math.log(short))))
            y, x = gen.randrange(h - side + 1), gen.randrange(w - side + 1)
            boxes.append(Box(i, x, y, side, gen.random() < 0.5))
        return torch.stack([self.crop(b) for b in boxes]), boxes

    def crop(self, box: Box) -> torch.Tensor:
        crop = self.pictures[box.pic][:, box.y : box.y + box.side, box.x : box.x + box.side].float() / 255
        crop = crop.flip(2) if box.flip else crop
        size = (self.resolution,) * 2
        return F.interpolate(crop[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)

    def zoom(self, box: Box, canvas: torch.Tensor, gen: random.Random) -> tuple[torch.Tensor, torch.Tensor, Box] | None:
        """A tile of half the side of `box` at a random place in it, as the engine's next pass paints
        it: (its target at R x R from the photo, its part of `canvas` [3, R, R] resized, its box);
        None when the tile would be under ZOOM_MIN_SIDE px of the photo."""
        r, half = self.resolution, box.side // 2
        if half < ZOOM_MIN_SIDE:
            return None
        ox, oy = gen.randrange(r // 2 + 1), gen.randrange(r // 2 + 1)  # the tile in canvas px (as seen)
        fx = (r // 2 - ox) if box.flip else ox  # its left edge in the unflipped crop
        x, y = box.x + round(fx / r * box.side), box.y + round(oy / r * box.side)
        sub = Box(box.pic, min(x, box.x + box.side - half), min(y, box.y + box.side - half), half, box.flip, box.depth + 1)
        part = canvas[None, :, oy : oy + r // 2, ox : ox + r // 2]
        part = F.interpolate(part, size=(r, r), mode="bilinear", align_corners=False)[0].clamp(0, 1)
        return self.crop(sub), part, sub


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
    eps = torch.rand(len(real), 1, 1, 1, device=real.device)
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
        self.actor_avg = copy.deepcopy(self.actor) if tc.average > 0 else None
        self.opt_a = torch.optim.Adam(self.actor.parameters(), lr=tc.lr_actor)
        self.opt_c = torch.optim.Adam(self.critic.parameters(), lr=tc.lr_critic)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=tc.lr_disc, betas=(0.5, 0.999))
        for p in renderer.parameters():
            p.requires_grad_(False)

    def anneal(self, done: int) -> None:
        """Learning rates after `done` updates (AgentTraining.anneal)."""
        if self.tc.anneal <= 0:
            return
        scale = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done / self.tc.anneal)))
        for opt, lr in ((self.opt_a, self.tc.lr_actor), (self.opt_c, self.tc.lr_critic), (self.opt_d, self.tc.lr_disc)):
            for group in opt.param_groups:
                group["lr"] = lr * scale

    def reward(self, before: torch.Tensor, after: torch.Tensor, target: torch.Tensor, disc: Discriminator) -> torch.Tensor:
        if self.tc.reward in ("l2", "log"):
            e0, e1 = ((before - target) ** 2).mean((1, 2, 3)), ((after - target) ** 2).mean((1, 2, 3))
            if self.tc.reward == "log":  # the relative drop: a late stroke's 1 % counts as an early one's
                return torch.log(e0 + LOG_FLOOR) - torch.log(e1 + LOG_FLOOR)
            return e0 - e1
        return disc(after, target) - disc(before, target)

    def objective(self, canvas: torch.Tensor, target: torch.Tensor, step: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the actor maximises from states [B]: r_0 + gamma r_1 + ... + gamma^n V(s_n), every
        action the actor's own, through the renderer (n = `lookahead`; the paper's n = 1); an
        episode's end stops the sum. Also the actor's first actions [B, k, P]."""
        tc, T = self.tc, self.cfg.steps
        q, now, alive = torch.zeros(len(canvas), device=canvas.device), canvas, torch.ones(len(canvas), device=canvas.device)
        first = None
        for j in range(tc.lookahead):
            a = self.actor(observe(now, target, step + j, T))
            first = a if first is None else first
            new, _ = paint_bundle(self.renderer, now, decode(self.brush, a), fitting(self.cfg, target))
            q = q + tc.gamma**j * alive * self.reward(now, new, target, self.disc_t)
            alive, now = alive * (step + j + 1 < T).float(), new
        return q + tc.gamma**tc.lookahead * alive * self.critic(observe(now, target, step + tc.lookahead, T)), first

    def action_value(self, canvas: torch.Tensor, target: torch.Tensor, step: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """r(s, a) + gamma V(s') [B] of actions a [B, k, P] in states [B], through the renderer."""
        new, _ = paint_bundle(self.renderer, canvas, decode(self.brush, a), fitting(self.cfg, target))
        alive = (step + 1 < self.cfg.steps).float()
        value = self.critic(observe(new, target, step + 1, self.cfg.steps))
        return self.reward(canvas, new, target, self.disc_t) + self.tc.gamma * alive * value

    def improved(self, canvas: torch.Tensor, target: torch.Tensor, step: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The logits of actions a [B, k, P] after `imitate_steps` of Adam towards a higher
        r + gamma V(s'): what the actor imitates (`imitate`). Critic and D must be frozen."""
        z = torch.logit(a.detach(), 1e-4).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.tc.imitate_lr)
        for _ in range(self.tc.imitate_steps):
            loss = -self.action_value(canvas, target, step, torch.sigmoid(z)).sum()  # every state its own
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return z.detach()

    def update(self, batch, sync=None, train_actor: bool = True) -> dict[str, float]:
        """One gradient step of D (wgan), critic and (unless not `train_actor`) actor;
        `sync(modules)` averages gradients (DDP)."""
        canvas, after, target, step = batch
        tc, T = self.tc, self.cfg.steps
        info: dict[str, float] = {}
        if tc.reward == "wgan":  # discriminator: real (target, target) against fake (canvas, target)
            real, fake = self.disc(target, target), self.disc(after, target)
            loss_d = fake.mean() - real.mean() + tc.gp * gradient_penalty(self.disc, target, after, target)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if sync:
                sync([self.disc])
            self.opt_d.step()
            info["wasserstein"] = float((real.mean() - fake.mean()).detach())
        not_last = (step + 1 < T).float()
        with torch.no_grad():  # critic: V(s) <- r + gamma V'(s')
            r = self.reward(canvas, after, target, self.disc_t)
            y = r + tc.gamma * not_last * self.critic_t(observe(after, target, step + 1, T))
        loss_c = F.mse_loss(self.critic(observe(canvas, target, step, T)), y)
        self.opt_c.zero_grad(set_to_none=True)
        loss_c.backward()
        if sync:
            sync([self.critic])
        self.opt_c.step()
        # actor: through the renderer, maximise r(s, pi(s)) + gamma V(s') (or n actions ahead),
        # and (`imitate`) move towards its actions improved by a few steps of gradient ascent
        if train_actor:
            self.actor.train()
            for m in (self.critic, self.disc_t):
                m.requires_grad_(False)
            q, a = self.objective(canvas, target, step)
            loss_a = -q.mean()
            if tc.imitate > 0:
                goal = self.improved(canvas, target, step, a)
                imitation = ((torch.logit(a, 1e-4) - goal) ** 2).mean()
                loss_a = loss_a + tc.imitate * imitation
                info["imitation"] = float(imitation.detach())
            for m in (self.critic, self.disc_t):
                m.requires_grad_(True)
            self.opt_a.zero_grad(set_to_none=True)
            loss_a.backward()
            if sync:
                sync([self.actor])
            self.opt_a.step()
            info["q"] = float(q.detach().mean())
        for t, s in ((self.actor_t, self.actor), (self.critic_t, self.critic), (self.disc_t, self.disc)):
            soft_update(t, s, tc.tau)
        if self.actor_avg is not None:
            soft_update(self.actor_avg, self.actor, tc.average)
        info.update(critic=float(loss_c.detach()), reward=float(r.mean()))
        return info

    def candidates(self) -> dict[str, Actor]:
        """The actors worth validating: the one being trained, its target copy, its running average."""
        return {"actor": self.actor, "target": self.actor_t} | ({"average": self.actor_avg} if self.actor_avg else {})

    def state(self) -> dict:
        names = ("actor", "critic", "disc", "actor_t", "critic_t", "disc_t", "opt_a", "opt_c", "opt_d")
        return {name: getattr(self, name).state_dict() for name in names + (("actor_avg",) if self.actor_avg else ())}

    def load_state(self, state: dict) -> None:
        for name, value in state.items():  # a resumed run takes the checkpoint's settings: the same modules
            getattr(self, name).load_state_dict(value)


_BEST_KEYS = {"actor": "best_actor", "val_mse": "best_val_mse", "update": "best_update", "source": "best_source"}  # in checkpoints


def _best_state(best: dict) -> dict:
    return {key: best[name] for name, key in _BEST_KEYS.items()}


def config_json(cfg: AgentConfig, tc: AgentTraining) -> dict[str, str]:
    return {"config": cfg.to_json(), "training": json.dumps(asdict(tc))}


# ---- the loop ----------------------------------------------------------------------------------
def _all_reduce_grads(modules, world: int) -> None:
    """Data parallelism under torchrun: average the gradients (and BN statistics) over processes."""
    import torch.distributed as dist

    for m in modules:
        for p in m.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= world
        for b in m.buffers():
            if b.is_floating_point():
                dist.all_reduce(b)
                b /= world


def train(
    brush: Brush,
    renderer: NeuralRenderer,
    data: str | Path,
    out: Path,
    *,
    updates: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    resume: bool = False,
    cfg: AgentConfig | None = None,
    tc: AgentTraining | None = None,
    device: torch.device | None = None,
    progress=None,
    init: str | Path | None = None,
    warn=None,
) -> dict:
    """Train (or resume) an agent for `brush` on photos under `data`; writes the actor to `out`.

    `init`: start the actor (and its copies) from this agent's weights, with its network settings,
    instead of from scratch; critic and discriminator start afresh and train alone for the first
    `tc.critic_warmup` updates. The metadata says where the actor came from (`init`).

    Budget: `updates` (deterministic for a seed) or `minutes` of this run. Checkpoints (atomic) go
    to `<out>.ckpt` every `tc.checkpoint_minutes`, on Ctrl-C and on SIGTERM (which also write the
    agent so far to `out` once there has been an update, then raise KeyboardInterrupt); the replay
    buffer is not saved, a resumed run refills it with the current actor. `progress(update, total,
    info)`, total being where this run's `updates` end; `warn(line)` hears of photos that cannot
    be read (left out).
    """
    import signal
    import time

    from strokepaint import runtime, store

    device = device or torch.device("cpu")
    rank, world = runtime.distributed()
    ckpt_file = store.checkpoint_path(out)
    state = None
    if resume:
        state = store.load_checkpoint(ckpt_file, brush, "agent")
        try:
            cfg, tc = AgentConfig.from_json(state["config"]), AgentTraining(**json.loads(state["training"]))
            seed = int(state["seed"])
        except (KeyError, TypeError, ValueError) as e:  # (another version's settings, or damaged)
            raise UsageError(f"{ckpt_file}: its settings cannot be read ({type(e).__name__}: {e}); start without --resume") from None
    cfg = copy.copy(cfg) if cfg else AgentConfig()  # (the caller's stays as it was)
    start_actor, init_info = None, json.loads(state["init"]) if state is not None and "init" in state else None
    if init is not None and state is None:
        from strokepaint.agent import load as load_agent

        start_actor, init_meta, _ = load_agent(brush, init)
        strokes = cfg.steps * cfg.bundle  # this run's episodes, in the starting agent's bundles
        if strokes % start_actor.cfg.bundle:
            raise UsageError(f"--strokes {strokes}: must be a multiple of the starting agent's bundle size {start_actor.cfg.bundle}")
        if start_actor.cfg.bundle != cfg.bundle:  # (its tile settings follow the new episode)
            cfg = dataclasses.replace(cfg, steps=strokes // start_actor.cfg.bundle, tile_steps=-1, later_step=-1)
        cfg = dataclasses.replace(cfg, **{k: getattr(start_actor.cfg, k) for k in FROM_INIT})  # its networks
        init_info = {"file": Path(init).name} | {k: init_meta[k] for k in ("updates", "train_seconds", "val_mse", "init") if k in init_meta}
    origin = {"init": json.dumps(init_info)} if init_info else {}  # in the checkpoint and the metadata
    cfg.params = brush.n_params
    cfg.roles = agent_roles(brush)
    tc = tc or AgentTraining()
    runtime.recheck(tc)
    check_memory(cfg, tc)
    if renderer.cfg.canvas < cfg.resolution:
        raise UsageError(f"the renderer draws at {renderer.cfg.canvas} px, less than the agent's {cfg.resolution}")
    torch.manual_seed(seed)  # identical initial networks on every rank
    learner = Learner(brush, renderer, cfg, tc)
    if start_actor is not None:
        for m in learner.candidates().values():
            m.load_state_dict(start_actor.state_dict())
    done, elapsed, history = 0, 0.0, []
    best: dict = {"val_mse": math.inf, "update": 0, "actor": None, "source": "actor"}  # the best validated actor so far
    if state is not None:
        learner.load_state(state["learner"])
        done, elapsed, history = int(state["updates"]), float(state["elapsed"]), list(json.loads(state["history"]))
        best.update({name: state[key] for name, key in _BEST_KEYS.items() if key in state})  # "source" is newer
    for m in (learner.critic, learner.disc, learner.critic_t, learner.disc_t, renderer, *learner.candidates().values()):
        m.to(device)
    stream = runtime.stream_seed(seed, rank, done)
    rng, gen = random.Random(stream), torch.Generator().manual_seed(stream)
    targets = Targets(data, cfg.resolution, rng)
    if targets.unreadable and warn and rank == 0:
        shown = "; ".join(targets.unreadable[:3]) + ("; ..." if len(targets.unreadable) > 3 else "")
        warn(f"--data {data}: {len(targets.unreadable)} of {len(targets.unreadable) + len(targets.pictures)} image files left out: {shown}")
    val_targets = targets.sample(tc.val_images, random.Random(VAL_SEED)).to(device)
    replay = Replay(tc.replay, cfg.resolution)
    n, r, T = tc.envs, cfg.resolution, cfg.steps
    bg = (tc.background,) * 3
    target, boxes = targets.sample_boxes(n)
    canvas, target = blank(bg, r, r, (n,)).to(device), target.to(device)
    t = torch.zeros(n, dtype=torch.long, device=device)
    warmup = tc.warmup  # a resumed run refills the (unsaved) replay with its actor first

    def validate() -> dict[str, float]:
        """Validation MSE of each candidate actor (`val_actor`, `val_target`, ...) and the best of
        them (`val_mse`), which is the agent written if the run stopped here."""
        scores = {}
        for name, actor in learner.candidates().items():
            painted, _ = act(actor, renderer, brush, val_targets, T, background=tc.background)
            scores[name] = mse = float(((painted - val_targets) ** 2).mean())
            if mse < best["val_mse"]:
                actor_state = {k: v.detach().to("cpu", copy=True) for k, v in actor.state_dict().items()}
                best.update(val_mse=mse, update=done, actor=actor_state, source=name)
        return {"val_mse": min(scores.values())} | {f"val_{name}": mse for name, mse in scores.items()}

    def save_checkpoint() -> None:
        if rank == 0:
            store.save_checkpoint(
                ckpt_file,
                {
                    "learner": learner.state(),
                    "updates": done,
                    "elapsed": elapsed,
                    "history": json.dumps(history),
                    "seed": seed,
                    **(_best_state(best) if best["actor"] else {}),
                    "brush": brush.name,
                    "schema": brush.schema_hash(),
                    **origin,
                    **config_json(cfg, tc),
                },
            )

    stop = {"flag": False}
    if state is None and rank == 0:
        history.append({"update": 0, "seconds": 0.0, **validate()})
    info: dict = {}
    start, last_ckpt = time.monotonic() - elapsed, time.monotonic()
    run_start, first = time.monotonic(), done  # budgets count this run only
    interrupted = False
    old_term = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True)) if rank == 0 else None
    try:
        while True:
            elapsed = time.monotonic() - start
            over = (updates is not None and done - first >= updates) or (
                minutes is not None and time.monotonic() - run_start >= minutes * 60
            )
            if world > 1:  # every rank stops at the same update
                import torch.distributed as dist

                flag = torch.tensor([float(over)])
                dist.all_reduce(flag)
                over = bool(flag.item())
            if over:
                break
            with torch.no_grad():  # one environment step for every painting in progress
                if replay.count < warmup and state is None:
                    a = torch.rand(n, cfg.bundle, cfg.params, generator=gen).to(device)
                else:
                    learner.actor.eval()
                    a = learner.actor(observe(canvas, target, t, T))
                    a = torch.sigmoid(torch.logit(a, 1e-4) + tc.noise * torch.randn(a.shape, generator=gen).to(device))
                new, _ = paint_bundle(renderer, canvas, decode(brush, a), fitting(cfg, target))
            replay.add(canvas.cpu(), new.cpu(), target.cpu(), t.cpu())
            canvas, t = new, t + 1
            finished = t >= T
            for i in finished.nonzero()[:, 0].tolist():  # a new episode: zoomed in, or a fresh crop
                zoom = tc.zoom > 0 and boxes[i].depth < tc.zoom_depth and rng.random() < tc.zoom
                z = targets.zoom(boxes[i], canvas[i].cpu(), rng) if zoom else None
                if z is None:
                    fresh, (boxes[i],) = targets.sample_boxes(1)
                    target[i], canvas[i] = fresh[0].to(device), blank(bg, r, r).to(device)
                else:
                    target[i], canvas[i], boxes[i] = z[0].to(device), z[1].to(device), z[2]
                t[i] = 0
            if replay.count < warmup:
                continue
            batch = [x.to(device) for x in replay.sample(tc.batch, gen)]
            learner.anneal(done)
            info = learner.update(
                batch,
                sync=(lambda ms: _all_reduce_grads(ms, world)) if world > 1 else None,
                train_actor=init_info is None or done >= tc.critic_warmup,
            )
            done += 1
            if rank == 0 and (done % tc.validate_every == 0 or done - first == updates):
                info.update(validate())
                history.append({"update": done, "seconds": round(time.monotonic() - start, 1), **info})
            if progress and rank == 0:
                progress(done, None if updates is None else first + updates, info)
            if time.monotonic() - last_ckpt > tc.checkpoint_minutes * 60:
                elapsed = time.monotonic() - start
                save_checkpoint()
                last_ckpt = time.monotonic()
            if stop["flag"]:
                raise KeyboardInterrupt
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the checkpoint and the agent so far are written, then re-raised
        interrupted = True
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    with runtime.no_interrupts(interrupted):  # (a second Ctrl-C does not cut the writing short)
        elapsed = time.monotonic() - start
        if rank == 0 and (not history or history[-1]["update"] != done):
            history.append({"update": done, "seconds": round(elapsed, 1), **info, **validate()})
        save_checkpoint()
        sums = [float(sum(p.detach().double().sum() for p in learner.actor.parameters()))]
        if world > 1 and not interrupted:  # every rank must end with the same actor: record each one's checksum
            import torch.distributed as dist

            gathered = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
            dist.all_gather(gathered, torch.tensor(sums, dtype=torch.float64))
            sums = [float(x) for x in gathered]
        meta: dict = {}
        if rank == 0:
            last = history[-1]
            chosen = best if tc.keep_best and best["actor"] is not None else None
            meta = {
                "kind": "agent",
                "brush": brush.name,
                "brush_version": brush.version,
                "schema": brush.schema_hash(),
                "updates": str(done),
                "train_seconds": str(round(elapsed, 1)),
                "seed": str(seed),
                "world_size": str(world),
                "rank_checksums": json.dumps(sums),
                "val_mse": f"{chosen['val_mse'] if chosen else last.get('val_actor', last['val_mse']):.6f}",
                "actor_update": str(chosen["update"] if chosen else done),
                "actor_source": chosen["source"] if chosen else "actor",
                "history": json.dumps(history),
                **origin,
                **config_json(cfg, tc),
            }
            if done > 0 or not interrupted:  # stopped before its first update: the actor is untrained (or the --init one)
                store.save_weights(out, chosen["actor"] if chosen else learner.actor.state_dict(), meta)
    if interrupted:
        raise KeyboardInterrupt
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return meta


# ---- what a run leaves behind --------------------------------------------------------------------
def init_chain(meta: dict[str, str]) -> tuple[list[str], float]:
    """The agents an agent was started from (`--init`), nearest first, and their training seconds
    summed: each one's metadata holds the `init` of the one before it (as a JSON string)."""
    files: list[str] = []
    seconds, text = 0.0, meta.get("init")
    while text and len(files) < 100:  # (a bound: the metadata may come from anyone)
        try:
            info = json.loads(text)
            seconds += float(info["train_seconds"])
        except (TypeError, ValueError, KeyError):
            break
        files.append(str(info.get("file", "another agent")))
        text = info.get("init")
    return files, seconds


def write_log(out: Path, meta: dict[str, str]) -> tuple[Path, Path]:
    """`<out>.log.jsonl` (one validation point per line) and `<out>.curve.png` (val MSE vs minutes)."""
    from strokepaint.fsutil import atomic_write

    history = json.loads(meta["history"])
    log = out.with_name(out.name + ".log.jsonl")
    atomic_write(log, "".join(json.dumps(h, sort_keys=True) + "\n" for h in history))
    curve = out.with_name(out.name + ".curve.png")
    points = [(h["seconds"] / 60, h["val_mse"]) for h in history if "val_mse" in h]
    atomic_write(curve, learning_curve(points, f"{meta['brush']} agent: validation MSE (log scale) against training minutes"))
    return log, curve


def learning_curve(points: list[tuple[float, float]], title: str, size: tuple[int, int] = (640, 400)) -> bytes:
    """A PNG line plot of (minutes, mse) with a log-scale y axis, drawn with Pillow."""
    import io

    from PIL import Image, ImageDraw

    w, h = size
    left, right, top, bottom = 70, 40, 30, 40
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    d.text((left, 8), title, fill="black")
    d.rectangle([left, top, w - right, h - bottom], outline="black")
    if points:
        xs, ys = [p[0] for p in points], [math.log10(max(p[1], 1e-8)) for p in points]
        x0, x1 = 0.0, max(max(xs), 1e-6)
        y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
        y1 = y1 if y1 > y0 else y0 + 1
        px = lambda x: left + (x - x0) / (x1 - x0) * (w - left - right)  # noqa: E731
        py = lambda y: h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)  # noqa: E731
        for e in range(y0, y1 + 1):
            d.line([left, py(e), w - right, py(e)], fill=(220, 220, 220))
            d.text((8, py(e) - 6), f"1e{e}", fill="black")
        for i in range(5):
            x = x0 + (x1 - x0) * i / 4
            label = f"{x:.0f} min" if x1 >= 4 else f"{x:.1f} min" if x1 >= 0.4 else f"{x * 60:.0f} s"  # (short runs in seconds)
            d.text((px(x) - 16, h - bottom + 8), label, fill="black")
        d.line([(px(x), py(y)) for x, y in zip(xs, ys)], fill=(200, 40, 40), width=2)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
