"""Writing files without ever leaving a half-written one: temp file in the same folder, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from strokepaint.errors import Failure, UsageError


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{path}: cannot create the folder ({e.strerror}); choose another output path") from None
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name")
    blob = data.encode() if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise UsageError(f"{path}: cannot write there ({e.strerror}); choose another output path") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; an output file gets the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # (a full disk, a file that may not be replaced)
        Path(tmp).unlink(missing_ok=True)
        raise Failure(f"{path}: cannot write ({e.strerror or e}); nothing written, an earlier file of that name untouched") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


WHAT = {
    ".png": "the painting is written as PNG",
    ".json": "a stroke file is JSON",
    ".safetensors": "weights are written as safetensors",
}


def named(path: str | os.PathLike, suffix: str, what: str | None = None) -> Path:
    """`path`, if its name ends in `suffix` (a stroke file: .json, e.g. NAME.strokes.json); else
    a one-line error saying what the file is (`what`, or the suffix's entry in WHAT)."""
    if Path(path).suffix.lower() != suffix:
        what = what or WHAT.get(suffix, f"this is {suffix[1:].upper()}")
        raise UsageError(f"{path}: {what}; give a name ending in {suffix}")
    return Path(path)


def check_writable(folder: str | os.PathLike) -> None:
    """Fail now, before any work, if files cannot be written in `folder`. A missing folder is not
    created here (a run that fails leaves no empty folder): the nearest folder above it that
    exists must take a probe file, and the rest is created when the first file is written."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{folder}: {existing} is a file, not a folder; choose another output path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".strokepaint.", suffix=".probe", dir=existing)
    except OSError as e:
        raise UsageError(f"{folder}: cannot write files there ({e.strerror}); choose another output path") from None
    os.close(fd)
    os.unlink(tmp)


def check_outputs(paths) -> None:
    """Before any work or any write: each output is a file name, and its folder can be written."""
    paths = [Path(p) for p in paths]
    for p in paths:
        if p.is_dir():
            raise UsageError(f"{p}: is a folder; give a file name")
    for folder in dict.fromkeys(p.parent for p in paths):  # (created when written)
        check_writable(folder)
