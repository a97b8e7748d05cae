"""Finding brushes: load every "strokepaint" entry point, built-in ones included, and ask each
plugin for its brushes. A plugin that fails to import, raises, or repeats a brush name is
recorded in `problems` (shown by `strokepaint brushes` and as a warning); the rest work."""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass, field

import pluggy

from strokepaint import hookspecs
from strokepaint.brush import Brush

GROUP = "strokepaint"


@dataclass
class Registry:
    brushes: dict[str, Brush] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # brush name -> distribution providing it
    problems: list[str] = field(default_factory=list)


def _check(brush: object) -> str | None:
    if not isinstance(brush, Brush):
        return f"registered {type(brush).__name__}, which is not a strokepaint.Brush"
    for attr in ("name", "version", "geometry"):
        if not getattr(brush, attr, None):
            return f"brush {type(brush).__name__} has no {attr}"
    try:
        _ = brush.params  # validates every Param
    except Exception as e:  # noqa: BLE001 - a plugin's defect must not break the CLI
        return f"brush {brush.name!r}: {e}"
    return None


@functools.cache
def registry() -> Registry:
    reg = Registry()
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    eps = sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: (ep.value != "strokepaint.brushes", ep.name))
    for ep in eps:  # built-ins first: they keep their names against duplicates
        package = ep.dist.name if ep.dist else ep.value
        try:
            plugin = ep.load()
            pm.register(plugin, name=f"{package}:{ep.name}")
        except Exception as e:  # noqa: BLE001
            reg.problems.append(f"plugin {package} ({ep.name}) failed to load: {type(e).__name__}: {e}")
            continue
        for impl in pm.hook.register_brushes.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            found: list[object] = []
            try:
                impl.function(register=found.append)
            except Exception as e:  # noqa: BLE001
                reg.problems.append(f"plugin {package} ({ep.name}) raised while registering brushes: {type(e).__name__}: {e}")
                continue
            for brush in found:
                problem = _check(brush)
                if problem:
                    reg.problems.append(f"plugin {package}: {problem}")
                elif brush.name in reg.brushes:
                    reg.problems.append(
                        f"plugin {package}: brush {brush.name!r} is already provided by {reg.packages[brush.name]}; ignored"
                    )
                else:
                    reg.brushes[brush.name] = brush
                    reg.packages[brush.name] = package
    return reg


def get_brush(name: str) -> Brush:
    from strokepaint.errors import UsageError

    reg = registry()
    if name not in reg.brushes:
        known = ", ".join(sorted(reg.brushes)) or "none"
        raise UsageError(f"unknown brush {name!r} (installed: {known})")
    return reg.brushes[name]
