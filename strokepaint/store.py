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
