"""The stroke file: a painting as data. Versioned JSON, resolution-free, validated on load.

{
  "format": "strokepaint-strokes", "version": 1,
  "width": 640, "height": 480,            # the canvas the painting was made for, pixels
  "background": [1.0, 1.0, 1.0],          # RGB in [0, 1]
  "brush": {"name": "bezier", "version": "1.0"},
  "params": ["x0", "y0", ..., "R", "G", "B"],
  "strokes": [[0.12, 0.5, ...], ...]      # in painting order; units per brush.py's roles
}
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from strokepaint.errors import UsageError
from strokepaint.fsutil import atomic_write

FORMAT = "strokepaint-strokes"
VERSION = 1
SUFFIX = ".strokes.json"  # how paint names a stroke file: photo.painted.png -> photo.painted.strokes.json
MAX_STROKES = 1_000_000
MAX_SIDE = 65_536
MAX_BYTES = 512 * 1024 * 1024
DECIMALS = 6  # every number is written with this many decimals (and the engine's strokes kept so: quantized)
TOLERANCE = 10.0**-DECIMALS  # slack on parameter ranges for numbers written with finite precision


@dataclass
class StrokeFile:
    width: int
    height: int
    brush: str
    brush_version: str
    strokes: list[list[float]] = field(default_factory=list)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def to_json(self) -> str:
        from strokepaint.plugins import get_brush

        params = [p.name for p in get_brush(self.brush).params]
        head = {
            "format": FORMAT,
            "version": VERSION,
            "width": self.width,
            "height": self.height,
            "background": [round(float(c), DECIMALS) for c in self.background],
            "brush": {"name": self.brush, "version": self.brush_version},
            "params": params,
        }
        text = json.dumps(head, indent=1)[:-2] + ',\n "strokes": [\n'
        rows = ["  [" + ", ".join(number(v) for v in s) + "]" for s in self.strokes]
        return text + ",\n".join(rows) + "\n ]\n}\n"

    def save(self, path: str | os.PathLike) -> Path:
        """Written atomically, and only a file `load` reads back: strokes edited out of range (or
        a wrong size, brush or row) are refused here, with load's one-line error, not when the
        file is opened later."""
        return atomic_write(path, self.checked_json(path))

    def checked_json(self, path: str | os.PathLike) -> str:
        """The file's text, refused (naming `path`, not written) where `load` would refuse it."""
        text = self.to_json()
        loads(text, f"{path} (not written)")
        return text

    def tensor(self):
        import torch

        from strokepaint.plugins import get_brush

        return torch.tensor(self.strokes, dtype=torch.float32).reshape(-1, get_brush(self.brush).n_params)


def number(v: float, decimals: int = DECIMALS) -> str:
    """A compact decimal: `decimals` places, trailing zeros dropped, no "-0" (stroke files; SVG
    coordinates with 3)."""
    v = float(v)
    if not math.isfinite(v):  # JSON's spelling, so that load names the number
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    s = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def quantized(strokes):
    """Strokes [..., P] (a tensor) rounded as a stroke file writes them, so a painting's pixels
    and those of its re-exported stroke file agree exactly."""
    scale = 10.0**DECIMALS
    return (strokes.double() * scale).round().div(scale).float()


def load(path: str | os.PathLike) -> StrokeFile:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UsageError(f"{path}: stroke file is {size} bytes, more than the {MAX_BYTES} allowed")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a stroke file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a stroke file (not UTF-8 text)") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror})") from None
    return loads(text, str(path))


def loads(text: str, source: str = "<strokes>") -> StrokeFile:
    from strokepaint.plugins import registry

    def bad(msg: str) -> UsageError:
        return UsageError(f"{source}: {msg}")

    try:
        # (numbers of more than 30 digits are read as floats, infinite when huge: Python's ints
        # would fail in float() or past 4,300 digits, and no stroke file needs them)
        doc = json.loads(text, parse_int=lambda d: int(d) if len(d) <= 30 else float(d))
    except json.JSONDecodeError as e:
        raise bad(f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise bad("not a stroke file (nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f'not a stroke file (no "format": "{FORMAT}")')
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad('"version" must be a whole number')
    if version != VERSION:
        raise bad(f"stroke format version {version} is not supported (this strokepaint reads version {VERSION}); upgrade strokepaint")
    w, h = doc.get("width"), doc.get("height")
    for key, v in (("width", w), ("height", h)):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_SIDE:
            raise bad(f'"{key}" must be a whole number of pixels from 1 to {MAX_SIDE}')
    bg = doc.get("background", [1.0, 1.0, 1.0])
    if not (isinstance(bg, list) and len(bg) == 3 and all(_finite_in(c, 0.0, 1.0) for c in bg)):
        raise bad('"background" must be three numbers in [0, 1]')
    brush_doc = doc.get("brush")
    if not isinstance(brush_doc, dict) or not isinstance(brush_doc.get("name"), str) or not isinstance(brush_doc.get("version"), str):
        raise bad('"brush" must be an object with "name" and "version" strings')
    name, bversion = brush_doc["name"], brush_doc["version"]
    reg = registry()
    if name not in reg.brushes:
        raise bad(f"brush {name!r} is not installed (installed: {', '.join(sorted(reg.brushes)) or 'none'})")
    brush = reg.brushes[name]
    if bversion.split(".")[0] != brush.version.split(".")[0]:
        raise bad(f"made with {name} brush version {bversion}; the installed {name} is version {brush.version}, which draws differently")
    params = brush.params
    names = doc.get("params", [p.name for p in params])
    if names != [p.name for p in params]:
        raise bad(f"params {names} do not match the {name} brush's {[p.name for p in params]}")
    strokes = doc.get("strokes")
    if not isinstance(strokes, list):
        raise bad('"strokes" must be a list')
    if len(strokes) > MAX_STROKES:
        raise bad(f"{len(strokes)} strokes is more than the {MAX_STROKES} allowed")
    lows = [p.low - TOLERANCE for p in params]
    highs = [p.high + TOLERANCE for p in params]
    for i, s in enumerate(strokes):
        if not isinstance(s, list) or len(s) != len(params):
            raise bad(f"stroke {i}: expected a list of {len(params)} numbers for brush {name}")
        for j, v in enumerate(s):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise bad(f"stroke {i}: {params[j].name} is not a number")
            if not math.isfinite(v):
                what = "NaN" if v != v else "infinite or too large"
                raise bad(f"stroke {i}: {params[j].name} is {what} (must be a finite number in [{params[j].low}, {params[j].high}])")
            if not lows[j] <= v <= highs[j]:
                raise bad(f"stroke {i}: {params[j].name} = {v} is outside [{params[j].low}, {params[j].high}]")
    clipped = [[min(max(float(v), p.low), p.high) for v, p in zip(s, params)] for s in strokes]
    return StrokeFile(w, h, name, bversion, clipped, tuple(float(c) for c in bg))


def _finite_in(v: object, lo: float, hi: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi
