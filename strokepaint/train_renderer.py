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
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from strokepaint import runtime, store
from strokepaint.brush import Brush
from strokepaint.errors import Failure, UsageError
from strokepaint.raster import rasterize
from strokepaint.renderer import NeuralRenderer, RendererConfig

EVAL_SEED = 1234  # eval-brush's fixed stroke set
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
    eval_strokes: int = 2000  # the fixed set (eval-brush's) measured into the weights' metadata


def apply_overrides(obj, pairs: list[str]):
    """`key=value` strings onto a dataclass (values parsed as JSON, else kept as strings)."""
    names = {f.name for f in fields(obj)}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in names:
            raise UsageError(f"--set {pair}: expected key=value with key one of {', '.join(sorted(names))}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        if isinstance(parsed, list):
            parsed = tuple(parsed)
        setattr(obj, key, parsed)
    if hasattr(obj, "__post_init__"):
        try:
            obj.__post_init__()
        except (TypeError, ValueError) as e:  # the config's own checks: a one-line error
            raise UsageError(f"--set: {e}") from None
    return obj


# ---- data --------------------------------------------------------------------------------------
def make_strokes(brush: Brush, n: int, gen: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n sampled strokes: geometry [n, G] and their exact alpha maps as uint8 [n, size, size]."""
    g = brush.sample(n, gen)
    if not isinstance(g, torch.Tensor) or g.shape != (n, brush.n_geometry) or not bool(torch.isfinite(g).all()):
        shape = tuple(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__
        raise Failure(f"brush {brush.name!r}: sampler returned {shape} or non-finite values, expected ({n}, {brush.n_geometry})")
    maps = torch.cat([rasterize(brush, g[i : i + 512], size, size) for i in range(0, n, 512)])
    return g.float(), (maps * 255).round().to(torch.uint8)


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
def throughput(model: NeuralRenderer, g: torch.Tensor, batch: int = 64, seconds: float = 3.0) -> float:
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


def eval_set(brush: Brush, size: int, n: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
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

    Exactly one of steps/minutes. `progress(step, total, info)` is called now and then on rank 0.
    Returns the final metadata.
    """
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    device = device or torch.device("cpu")
    rank, world = runtime.distributed()
    stop = {"flag": False}

    def on_term(signum, frame):  # a kill: finish the step, checkpoint, leave
        stop["flag"] = True

    old_term = signal.signal(signal.SIGTERM, on_term) if rank == 0 else None
    tc = train_cfg or TrainConfig()
    ckpt_file = store.checkpoint_path(out)
    state = None
    if resume:
        state = store.load_checkpoint(ckpt_file, brush)
        model_cfg = RendererConfig.from_json(state["model_cfg"])
        tc = TrainConfig(**json.loads(state["train_cfg"]))
        seed = int(state["seed"])
        minutes = state.get("minutes") or minutes
    torch.manual_seed(seed)
    model = NeuralRenderer(brush, model_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    size = model.cfg.canvas
    gen = torch.Generator().manual_seed(seed * 1000 + rank)
    step, elapsed, total = 0, 0.0, steps
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        total = None if state["total"] is None else int(state["total"])
        gen.manual_seed(seed * 1000 + rank + 7919 * step)  # a fresh stream: the pool is rebuilt
    net = DDP(model) if world > 1 else model

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
    try:
        warm = min(10, tc.calibrate // 2)  # the first steps are slow (allocations): not timed
        t_start = time.monotonic()
        while total is None or step < total:
            if step == warm:
                t_start = time.monotonic()
            if total is None and step == tc.calibrate:  # turn --minutes into a step budget
                rate = (time.monotonic() - t_start) / max(1, tc.calibrate - warm)
                budget = torch.tensor([step + int((minutes * 60 - elapsed) / rate)])
                if world > 1:
                    dist.broadcast(budget, 0)
                total = max(step + 1, int(budget))
            t0 = time.monotonic()
            for group in opt.param_groups:
                group["lr"] = _lr(tc, step, total or 10**9)
            g, target = pool.batch(tc.batch)
            out_maps = net(g.to(device))
            loss = F.mse_loss(out_maps, target.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            pool.add(tc.fresh)
            step += 1
            elapsed += time.monotonic() - t0
            info["loss"] = float(loss.detach())
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
        save_checkpoint()
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    save_checkpoint()
    extra: dict = {}
    if world > 1:  # DDP keeps replicas identical: check it, and record it in the weights
        checksum = torch.tensor([float(sum(p.double().sum() for p in model.parameters()))], dtype=torch.float64)
        sums = [torch.zeros_like(checksum) for _ in range(world)]
        dist.all_gather(sums, checksum)
        extra = {"world_size": world, "rank_checksums": [float(x) for x in sums]}
    meta: dict = {}
    if rank == 0:
        model.eval()
        ev_g, ev_maps = eval_set(brush, size, tc.eval_strokes)
        fid = fidelity(model, ev_g.to(device), ev_maps.to(device))
        meta = model.metadata(steps=step, train_seconds=round(elapsed, 1), seed=seed, fidelity=fid, history=history[-50:], **extra)
        store.save_weights(out, model.state_dict(), meta)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return meta
