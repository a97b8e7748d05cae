"""Process set-up for heavy work: device choice, threads, the CPU allocator and denormals.

glibc returns large freed blocks to the OS (mmap/munmap), so a model that allocates a few MB per
call pays page faults every time: measured here, placing 64 strokes took 7.5 ms instead of 2.6 ms.
Raising the mmap and trim thresholds keeps those blocks in the heap.

Alpha maps are full of numbers too small for a normal float (a sigmoid far from its stroke, the
product of many strokes' (1 - alpha)); the CPU handles such denormals ~5x slower. They are
flushed to zero, which changes nothing visible: a 200-stroke painting on 128 px measured 7.5 ->
5.8 s with the same MSE to six digits. The setting holds for the calling thread and the worker
threads torch starts after it, so `device` is called before any other tensor work (the CLI and
`engine.paint` do).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools

from strokepaint.errors import UsageError


@functools.cache
def tune_allocator() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 30)
        libc.mallopt(m_top_pad, 64 << 20)
        return bool(ok)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False


def device(name: str = "auto"):
    """'auto' (CUDA if present, else CPU), 'cpu' or 'cuda' -> torch.device; sets up the allocator
    and flushes denormals to zero."""
    import torch

    tune_allocator()
    torch.set_flush_denormal(True)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device {name}: choose auto, cpu or cuda")
    return torch.device(name)


@contextlib.contextmanager
def no_interrupts(active: bool = True):
    """Ctrl-C ignored inside (while a first Ctrl-C's checkpoint and weights are written: a second
    one must not cut that short), restored after; only the main thread can do so."""
    import signal
    import threading

    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def recheck(config, label: str | None = None) -> None:
    """A config dataclass's own checks (`__post_init__`) run again, after fields were set (`--set`)
    or changed by a caller since it was made: a problem as a one-line UsageError, `label: ...`
    (default: the config's class name)."""
    try:
        config.__post_init__()
    except (TypeError, ValueError) as e:
        raise UsageError(f"{label or type(config).__name__}: {e}") from None


def stream_seed(seed: int, rank: int, done: int) -> int:
    """The seed of a training run's random stream: one per rank, and a fresh one for each resumed
    run (`done`: steps or updates so far), so a resumed run does not replay its first batches."""
    return seed * 1000 + rank + 7919 * done


def distributed() -> tuple[int, int]:
    """(rank, world) under torchrun (the process group joined on first call), (0, 1) otherwise.
    gloo on any device: the training loops exchange CPU tensors (stop flags, budgets, checksums),
    which nccl refuses."""
    import os

    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)
