"""Training a brush's neural renderer by supervised learning on its exact rasterizer, on the CPU.

Strokes come from the brush's sampler and are rasterized at 128x128 by the exact rasterizer. To
keep rasterization from being the bottleneck (a bezier stroke costs ~1.3 ms, a training step
~60 ms for 128 strokes), rasterized strokes are kept in a pool: training batches are drawn from
the pool, and each step rasterizes a few fresh strokes into it, so every stroke is seen several
times while the pool keeps renewing. Adam with warm-up and cosine decay; plain MSE on the alpha
map (which is what rel_l2 measures). Runs under torchrun (DistributedDataParallel) unchanged.
"""

from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from strokepaint import runtime, store
from strokepaint.brush import Brush, call
from strokepaint.errors import Failure, UsageError
from strokepaint.raster import rasterize
from strokepaint.renderer import NeuralRenderer, RendererConfig

EVAL_SEED = 1234  # eval-brush's fixed stroke set
EVAL_STROKES = 2000  # its size (eval-brush's default, and what training measures into the metadata)
SPEED_BATCH = 64  # strokes per renderer call when eval-brush measures its speed
VAL_SEED = 4321  # the live validation set shown while training


@dataclass
class TrainConfig:
    batch: int = 128  # strokes per step (per process under torchrun)
    lr: float = 2e-3  # peak learning rate (Adam)
    lr_final: float = 2e-5  # learning rate at the last step (cosine decay)
    warmup: int = 300  # steps of linear warm-up
    pool: int = 60_000  # rasterized strokes kept to sample batches from
    pool_start: int = 6_000  # strokes rasterized before the first step
    fresh: int = 16  # strokes rasterized into the pool each step
    val: int = 512  # strokes in the live validation set
    val_every: int = 250  # steps between validations
    checkpoint_minutes: float = 3.0  # minutes between checkpoints
    calibrate: int = 40  # steps timed to turn --minutes into a step budget
    eval_strokes: int = EVAL_STROKES  # the fixed set (eval-brush's) measured into the weights' metadata

    def __post_init__(self) -> None:
        small = [k for k in ("batch", "pool", "pool_start", "val", "val_every", "calibrate", "eval_strokes") if getattr(self, k) < 1]
        if small or not self.lr > 0 or not self.checkpoint_minutes > 0:
            which = ", ".join(small) or "lr or checkpoint_minutes"
            raise ValueError(f"{which}: counts must be at least 1, lr and checkpoint_minutes above 0")
        if not self.batch <= self.pool_start <= self.pool:
            raise ValueError(f"batch {self.batch}, pool_start {self.pool_start}, pool {self.pool}: need batch <= pool_start <= pool")
        if not 0 <= self.fresh <= self.pool:
            raise ValueError(f"fresh {self.fresh}: strokes added to the pool each step, from 0 to the pool's {self.pool}")


# ---- data --------------------------------------------------------------------------------------
def make_strokes(brush: Brush, n: int, gen: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n sampled strokes: geometry [n, G] and their exact alpha maps as uint8 [n, size, size]."""
    g = call(brush, "sample", n, gen)  # (its shape, numbers and ranges checked)
    # (each chunk to uint8 at once: n float maps at 128 px would take 64 KB a stroke)
    maps = [(rasterize(brush, g[i : i + 512], size, size) * 255).round().to(torch.uint8) for i in range(0, n, 512)]
    return g.float(), torch.cat(maps) if maps else torch.empty(0, size, size, dtype=torch.uint8)


class Pool:
    """A ring of rasterized strokes; batches are drawn uniformly from what it holds."""

    def __init__(self, brush: Brush, capacity: int, size: int, gen: torch.Generator):
        self.brush, self.capacity, self.size, self.gen = brush, capacity, size, gen
        self.g = torch.empty(capacity, brush.n_geometry)
        self.maps = torch.empty(capacity, size, size, dtype=torch.uint8)
        self.count = 0
        self.head = 0

    def add(self, n: int) -> None:
        g, maps = make_strokes(self.brush, n, self.gen, self.size)
        idx = (torch.arange(n) + self.head) % self.capacity
        self.g[idx], self.maps[idx] = g, maps
        self.head = (self.head + n) % self.capacity
        self.count = min(self.capacity, self.count + n)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, self.count, (n,), generator=self.gen)
        return self.g[idx], self.maps[idx].float() / 255


# ---- fidelity ----------------------------------------------------------------------------------
@torch.no_grad()
def fidelity(model: NeuralRenderer, g: torch.Tensor, target: torch.Tensor, batch: int = 256) -> dict[str, float]:
    """mse (per pixel) and rel_l2 = sum (R - G)^2 / sum G^2 of the renderer against exact maps."""
    err = ref = 0.0
    for i in range(0, len(g), batch):
        out = model(g[i : i + batch])
        t = target[i : i + batch].float() / 255 if target.dtype == torch.uint8 else target[i : i + batch]
        err += float(((out - t) ** 2).sum())
        ref += float((t**2).sum())
    pixels = target.numel()
    return {"mse": err / pixels, "rel_l2": err / max(ref, 1e-12)}


@torch.no_grad()
def check_memory(model_cfg: RendererConfig, tc: TrainConfig) -> None:
    """Refuse settings whose network, stroke pool or batch would not fit in memory (before any work)."""
    c, start, hidden = model_cfg.channels, model_cfg.start, model_cfg.hidden
    weights = hidden * (hidden + c[0] * start**2) + 9 * sum(a * b for a, b in zip(c, c[1:]))  # (the big layers)
    if weights > 2**28 or tc.batch * model_cfg.frame**2 * sum(c) > 2**30:
        raise UsageError(
            f"hidden {hidden}, frame {model_cfg.frame}, channels {list(c)}: a renderer too large for memory "
            "(keep hidden x (hidden + channels[0] x (frame / 2**len(channels))^2) under 256M weights "
            "and batch x frame^2 x sum(channels) under 1G)"
        )
    kept = tc.pool + tc.val + tc.eval_strokes  # exact maps held as uint8
    if kept * model_cfg.canvas**2 > 8 * 2**30 or max(tc.batch, tc.fresh) * model_cfg.canvas**2 > 2**26:
        raise UsageError(
            "pool, val, eval_strokes, batch or fresh too large for memory: keep (pool + val + eval_strokes) x canvas^2 "
            "under 8 GB and batch x canvas^2 (fresh too) under 64M"
        )


def throughput(model: NeuralRenderer, g: torch.Tensor, batch: int = SPEED_BATCH, seconds: float = 3.0) -> float:
    """Forward strokes per second at a batch size (best of repeated timed runs)."""
    x = g[:batch]
    for _ in range(3):
        model(x)
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        for _ in range(5):
            model(x)
        best = min(best, (time.perf_counter() - t) / 5)
    return batch / best


def eval_set(brush: Brush, size: int, n: int = EVAL_STROKES) -> tuple[torch.Tensor, torch.Tensor]:
    return make_strokes(brush, n, torch.Generator().manual_seed(EVAL_SEED), size)


# ---- training ----------------------------------------------------------------------------------
def _lr(cfg: TrainConfig, step: int, total: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, total - cfg.warmup)
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * min(1.0, t)))


def train(
    brush: Brush,
    out: Path,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    resume: bool = False,
    model_cfg: RendererConfig | None = None,
    train_cfg: TrainConfig | None = None,
    device: torch.device | None = None,
    progress=None,
) -> dict:
    """Train (or resume training) a renderer for `brush`; writes safetensors to `out`.

    Exactly one of steps/minutes, except with `resume`: then `steps` is the new total (above the
    steps done), `minutes` a budget for this run, and neither finishes the saved run's budget.
    The learning rate's cosine runs over the total, so training on past it restarts part of it.
    `progress(step, total, info)` is called now and then on rank 0. Returns the final metadata.
    """
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    device = device or torch.device("cpu")
    rank, world = runtime.distributed()
    stop = {"flag": False}

    def on_term(signum, frame):  # a kill: finish the step, checkpoint, leave
        stop["flag"] = True

    tc = train_cfg or TrainConfig()
    runtime.recheck(tc)
    ckpt_file = store.checkpoint_path(out)
    state = None
    if resume:
        state = store.load_checkpoint(ckpt_file, brush, "renderer")
        try:
            model_cfg = RendererConfig.from_json(state["model_cfg"])
            tc = TrainConfig(**json.loads(state["train_cfg"]))
            seed = int(state["seed"])
        except (KeyError, TypeError, ValueError) as e:  # (another version's settings, or damaged)
            raise UsageError(f"{ckpt_file}: its settings cannot be read ({type(e).__name__}: {e}); start without --resume") from None
    check_memory(model_cfg or RendererConfig(**brush.renderer_overrides), tc)
    torch.manual_seed(seed)
    model = NeuralRenderer(brush, model_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    size = model.cfg.canvas
    gen = torch.Generator().manual_seed(runtime.stream_seed(seed, rank, 0))
    step, elapsed, total = 0, 0.0, steps
    finish = False  # resumed with no new budget: the saved --minutes count from the run's start
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        if steps is not None and steps <= step:
            raise UsageError(f"{ckpt_file} has {step} steps already; give --steps above {step} to train on")
        if steps is None and minutes is None:  # finish the saved run's budget
            total, minutes, finish = (None if state["total"] is None else int(state["total"])), state.get("minutes"), True
            if total is not None and step >= total:
                raise UsageError(f"{ckpt_file}: its run finished at {step} steps; to train on, give --steps above {step} or --minutes")
        gen.manual_seed(runtime.stream_seed(seed, rank, step))  # (the pool is rebuilt)
    net = DDP(model) if world > 1 else model

    if progress and rank == 0:
        progress(step, total, {})  # (the checks are done: training begins with the pool)
    pool = Pool(brush, tc.pool, size, gen)
    pool.add(tc.pool_start)
    val_g, val_maps = make_strokes(brush, tc.val, torch.Generator().manual_seed(VAL_SEED), size)
    history: list[dict] = []
    last_ckpt = time.monotonic()

    def save_checkpoint() -> None:
        if rank != 0:
            return
        store.save_checkpoint(
            ckpt_file,
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "total": total,
                "elapsed": elapsed,
                "seed": seed,
                "minutes": minutes,
                "brush": brush.name,
                "schema": brush.schema_hash(),
                "model_cfg": model.cfg.to_json(),
                "train_cfg": json.dumps(asdict(tc)),
            },
        )

    info: dict = {}
    old_term = signal.signal(signal.SIGTERM, on_term) if rank == 0 else None
    try:
        first, spent = step, 0.0 if finish else elapsed  # where this run starts: --minutes is a budget for this run
        warm = first + min(10, tc.calibrate // 2)  # the first steps are slow (allocations): not timed
        t_start = time.monotonic()
        while total is None or step < total:
            if step == warm:
                t_start = time.monotonic()
            if total is None and step == first + tc.calibrate:  # turn --minutes into a step budget
                rate = (time.monotonic() - t_start) / max(1, first + tc.calibrate - warm)
                budget = torch.tensor([step + int((minutes * 60 - (elapsed - spent)) / rate)])
                if world > 1:
                    dist.broadcast(budget, 0)
                total = max(step + 1, int(budget))
            t0 = time.monotonic()
            for group in opt.param_groups:
                group["lr"] = _lr(tc, step, total or 10**9)
            g, target = pool.batch(tc.batch)
            out_maps = net(g.to(device))
            loss = F.mse_loss(out_maps, target.to(device))
            value = float(loss.detach())
            if not math.isfinite(value):  # (a brush whose strokes the renderer cannot learn, or a too-high lr)
                raise Failure(f"training diverged at step {step + 1} (the loss is {value}); nothing written, the last checkpoint kept")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            pool.add(tc.fresh)
            step += 1
            elapsed += time.monotonic() - t0
            info["loss"] = value
            if rank == 0 and (step % tc.val_every == 0 or step == total):
                model.eval()
                info.update(fidelity(model, val_g.to(device), val_maps.to(device)))
                model.train()
                history.append({"step": step, "seconds": round(elapsed, 1), **{k: info[k] for k in ("loss", "mse", "rel_l2")}})
            if progress and rank == 0:
                progress(step, total, info)
            if time.monotonic() - last_ckpt > tc.checkpoint_minutes * 60:
                save_checkpoint()
                last_ckpt = time.monotonic()
            if stop["flag"]:
                save_checkpoint()
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        with runtime.no_interrupts():  # (a second Ctrl-C does not cut the writing short)
            save_checkpoint()
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    save_checkpoint()
    extra: dict = {}
    if world > 1:  # DDP keeps replicas identical: check it, and record it in the weights
        checksum = torch.tensor([float(sum(p.detach().double().sum() for p in model.parameters()))], dtype=torch.float64)
        sums = [torch.zeros_like(checksum) for _ in range(world)]
        dist.all_gather(sums, checksum)
        extra = {"world_size": world, "rank_checksums": [float(x) for x in sums]}
    meta: dict = {}
    if rank == 0:
        model.eval()
        ev_g, ev_maps = eval_set(brush, size, tc.eval_strokes)
        fid = fidelity(model, ev_g.to(device), ev_maps.to(device)) | {"strokes": tc.eval_strokes}
        meta = model.metadata(steps=step, train_seconds=round(elapsed, 1), seed=seed, fidelity=fid, history=history[-50:], **extra)
        store.save_weights(out, model.state_dict(), meta)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return meta
