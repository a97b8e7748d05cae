"""Finding brushes: load every "strokepaint" entry point, built-in ones included, and ask each
plugin for its brushes. A plugin that fails to import, raises, or repeats a brush name is
recorded in `problems` (shown by `strokepaint brushes` and as a warning); the rest work."""

from __future__ import annotations

import functools
import importlib.metadata
import re
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


NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # a brush name is a file name part and a CLI word


def _check(brush: object) -> str | None:
    """What is wrong with a registered brush's definition, or None."""
    from strokepaint.brush import Param

    if isinstance(brush, type) and issubclass(brush, Brush):
        return f"registered the class {brush.__name__}, not a brush: call register({brush.__name__}())"
    if not isinstance(brush, Brush):
        return f"registered {type(brush).__name__}, which is not a strokepaint.Brush"
    for attr in ("name", "version", "geometry"):
        if not getattr(brush, attr, None):
            return f"brush {getattr(brush, 'name', None) or type(brush).__name__} has no {attr}"
    if not isinstance(brush.name, str) or not NAME.fullmatch(brush.name):
        return f"brush name {brush.name!r}: use lower-case letters, digits, - and _ (a letter first, at most 40)"
    if not isinstance(brush.version, str):
        return f"brush {brush.name!r}: version must be a string such as '1.0', not {brush.version!r}"
    geometry = brush.geometry if isinstance(brush.geometry, (tuple, list)) else None
    if geometry is None or not all(isinstance(g, Param) for g in geometry):
        return f"brush {brush.name!r}: geometry must be a tuple of strokepaint.Param"
    if any(g.role == "color" for g in geometry):
        return f"brush {brush.name!r}: geometry has a color parameter; every stroke's R G B are added after it"
    names = [p.name for p in brush.params]
    if len(set(names)) != len(names):
        return f"brush {brush.name!r}: parameter names repeat ({', '.join(sorted({n for n in names if names.count(n) > 1}))})"
    overrides = brush.renderer_overrides
    if not isinstance(overrides, dict):
        return f"brush {brush.name!r}: renderer_overrides must be a dict of RendererConfig fields"
    try:
        from strokepaint.renderer import RendererConfig

        RendererConfig(**overrides)
    except (TypeError, ValueError) as e:
        return f"brush {brush.name!r}: renderer_overrides {overrides}: {_one_line(e)}"
    return None


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())  # (pluggy's validation errors span lines; a warning is one)


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
            reg.problems.append(f"plugin {package} ({ep.name}) failed to load: {type(e).__name__}: {_one_line(e)}")
            continue
        impls = [impl for impl in pm.hook.register_brushes.get_hookimpls() if impl.plugin is plugin]
        if not impls:
            reg.problems.append(
                f"plugin {package} ({ep.name}): {ep.value} has no register_brushes hook "
                "(a function of that name decorated with @strokepaint.hookimpl)"
            )
        for impl in impls:
            found: list[object] = []
            try:
                impl.function(register=found.append)
            except Exception as e:  # noqa: BLE001
                reg.problems.append(f"plugin {package} ({ep.name}) raised while registering brushes: {type(e).__name__}: {_one_line(e)}")
                continue
            if not found:
                reg.problems.append(f"plugin {package} ({ep.name}): its register_brushes registered no brushes")
            for brush in found:
                problem = _check(brush)
                if problem:
                    reg.problems.append(f"plugin {package} ({ep.name}): {problem}")
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
        why = f"; plugin problems: {' | '.join(reg.problems)}" if reg.problems else ""
        raise UsageError(f"unknown brush {name!r} (installed: {known}){why}")
    return reg.brushes[name]
