"""Where trained weights are found, in order: an explicit path; the user's data directory (where
training writes, $STROKEPAINT_HOME or $XDG_DATA_HOME/strokepaint or ~/.local/share/strokepaint);
the weights shipped inside the package (repository folder weights/)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

KINDS = ("renderer", "agent")


def user_dir() -> Path:
    if os.environ.get("STROKEPAINT_HOME"):
        return Path(os.environ["STROKEPAINT_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "strokepaint"


def shipped_dir() -> Path:
    return Path(str(resources.files("strokepaint.weights")))


def filename(brush: str, kind: str) -> str:
    assert kind in KINDS
    return f"{brush}.{kind}.safetensors"


def find(brush: str, kind: str, explicit: str | os.PathLike | None = None) -> tuple[Path, str] | None:
    """(path, where) of the weights in use for a brush, or None; where is explicit|user|shipped."""
    if explicit is not None:
        return Path(explicit), "explicit"
    for where, folder in (("user", user_dir()), ("shipped", shipped_dir())):
        path = folder / filename(brush, kind)
        if path.is_file():
            return path, where
    return None


def missing(brush: str, kind: str) -> str:
    """The one-line error for a brush without trained weights of this kind."""
    how = f"train-brush {brush}" if kind == "renderer" else f"train-agent --brush {brush}"
    return f"brush {brush!r} has no trained {kind}; train one with `strokepaint {how}`"


def open_for(brush, kind: str, explicit: str | os.PathLike | None = None) -> tuple[dict, dict[str, str], Path, str]:
    """The weights in use for a brush, read and checked against it: (tensors, metadata, path, where)."""
    from strokepaint.errors import UsageError

    found = find(brush.name, kind, explicit)
    if found is None:
        raise UsageError(missing(brush.name, kind))
    path, where = found
    tensors, meta = load_weights(path, kind)
    check_brush(path, meta, brush)
    return tensors, meta, path, where


# ---- reading and writing weights: safetensors only, metadata checked on load -------------------
FORMAT_VERSION = "1"


def save_weights(path: str | os.PathLike, tensors: dict, metadata: dict[str, str]) -> Path:
    """Write tensors + string metadata as safetensors, atomically."""
    from safetensors.torch import save

    from strokepaint.errors import Failure
    from strokepaint.fsutil import atomic_write

    bad = _not_finite(tensors)
    if bad:
        raise Failure(f"{path} not written: its weights hold NaN or infinite numbers ({bad}); the training diverged")
    blob = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata={**metadata, "format_version": FORMAT_VERSION})
    return atomic_write(path, blob)


def _not_finite(tensors: dict) -> str | None:
    """The first tensor holding NaN or infinite numbers, or None."""
    import torch

    return next((k for k, v in sorted(tensors.items()) if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)


def load_weights(path: str | os.PathLike, kind: str) -> tuple[dict, dict[str, str]]:
    """(tensors, metadata) of a weights file; a one-line UsageError for anything not right."""
    import io

    from safetensors import SafetensorError
    from safetensors.torch import load

    from strokepaint.errors import UsageError

    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such weights file") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror})") from None
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError) as e:
        raise UsageError(f"{path}: not a safetensors weights file, or truncated ({type(e).__name__})") from None
    metadata = (_header(io.BytesIO(blob)) or (0, {}))[1].get("__metadata__") or {}
    bad = _not_finite(tensors)
    if bad:
        raise UsageError(f"{path}: its weights hold NaN or infinite numbers ({bad}): a damaged file or a diverged training run")
    _check_meta(path, metadata, kind)
    return tensors, metadata


def _check_meta(path, metadata: dict, kind: str) -> None:
    from strokepaint.errors import UsageError

    if metadata.get("kind") != kind:
        raise UsageError(f"{path}: holds {metadata.get('kind') or 'unknown'} weights, not {kind} weights")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path}: weights format {metadata.get('format_version')!r} is not supported (expected {FORMAT_VERSION})")


def _header(file) -> tuple[int, dict] | None:
    """A safetensors file's header (its length in bytes, its JSON), or None when it is not one;
    reads only the header. `file`: a path or an open binary file."""
    import json
    import struct

    try:
        with open(file, "rb") if isinstance(file, (str, os.PathLike)) else file as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                return None
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return None
    return (n, header) if isinstance(header, dict) else None


def metadata_of(path: str | os.PathLike) -> dict | None:
    """An existing safetensors file's metadata (a dict, maybe empty), or None when it is not a
    safetensors file; reads only the header."""
    read = _header(path)
    if read is None:
        return None
    meta = read[1].get("__metadata__") or {}
    return meta if isinstance(meta, dict) else {}


def problem(path: str | os.PathLike, brush, kind: str) -> str | None:
    """Why the weights at `path` would be refused for this brush and kind, from the header and
    the file's size alone (what `strokepaint brushes` shows without loading them), or None."""
    from strokepaint.errors import UsageError

    n, header = _header(path) or (0, {})
    offsets = [v.get("data_offsets") for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    ends = [o[-1] if isinstance(o, list) and o else None for o in offsets]
    try:
        size = Path(path).stat().st_size
    except OSError as e:
        return f"{path}: cannot read ({e.strerror})"
    if not header or not all(isinstance(e, int) for e in ends) or size != 8 + n + max(ends, default=0):
        return f"{path}: not a safetensors weights file, or truncated"
    meta = header.get("__metadata__") or {}
    meta = meta if isinstance(meta, dict) else {}
    try:
        _check_meta(path, meta, kind)
        check_brush(path, meta, brush)
    except UsageError as e:
        return str(e)
    return None


def check_brush(path: str | os.PathLike, metadata: dict[str, str], brush) -> None:
    """Refuse weights made for another brush, brush version or parameter definition."""
    from strokepaint.errors import UsageError

    if metadata.get("brush") != brush.name:
        raise UsageError(f"{path}: made for brush {metadata.get('brush')!r}, not {brush.name!r}")
    if metadata.get("brush_version") != brush.version:
        raise UsageError(
            f"{path}: made for {brush.name} version {metadata.get('brush_version')}, the installed one is {brush.version}; retrain"
        )
    if metadata.get("schema") != brush.schema_hash():
        raise UsageError(f"{path}: made for a different parameter definition of {brush.name}; retrain")


# ---- training checkpoints: torch.save, read back with weights_only=True -------------------------
def checkpoint_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    import io

    import torch

    from strokepaint.errors import Failure
    from strokepaint.fsutil import atomic_write

    tensors = {k: v for net in state.values() if isinstance(net, dict) for k, v in net.items() if isinstance(v, torch.Tensor)}
    bad = _not_finite(tensors)  # (of the networks' state dicts the checkpoint holds)
    if bad:
        raise Failure(f"{path} not written: the weights hold NaN or infinite numbers ({bad}); the training diverged (last checkpoint kept)")
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write(path, buf.getvalue())


CHECKPOINT_KEYS = {"renderer": "model_cfg", "agent": "learner"}  # a key only that kind's checkpoints hold
RESUME_WITH = {"renderer": "train-brush", "agent": "train-agent"}


def load_checkpoint(path: str | os.PathLike, brush, kind: str) -> dict:
    """A checkpoint written by save_checkpoint for this brush and kind of training; a one-line
    UsageError otherwise."""
    import torch

    from strokepaint.errors import UsageError

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--resume: no checkpoint at {path}; start without --resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is the same user error
        raise UsageError(f"{path}: unreadable checkpoint ({type(e).__name__}); start without --resume") from None
    if not isinstance(state, dict):
        raise UsageError(f"{path}: not a strokepaint checkpoint; start without --resume")
    other = next((k for k, key in CHECKPOINT_KEYS.items() if key in state), None)
    if other is None:
        raise UsageError(f"{path}: not a strokepaint checkpoint; start without --resume")
    if other != kind:
        raise UsageError(
            f"{path}: checkpoint of {other} training (resume it with `strokepaint {RESUME_WITH[other]}`), not of {kind} training; "
            "start without --resume or give another --out"
        )
    if state.get("brush") != brush.name:
        raise UsageError(f"{path}: checkpoint of brush {state.get('brush')!r}, not {brush.name!r}")
    if state.get("schema") != brush.schema_hash():
        raise UsageError(f"{path}: checkpoint made for a different parameter definition of {brush.name}; start without --resume")
    return state
