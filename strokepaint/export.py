"""Vector export: a stroke file as SVG (written here), and as PNG or PDF (rendered by cairosvg).

The SVG uses the painting's pixel coordinates as its viewBox, so it is resolution-free: `scale`
only sets the size a viewer shows it at.
"""

from __future__ import annotations

from pathlib import Path

from strokepaint.brush import call, fmt
from strokepaint.strokefile import SUFFIX, StrokeFile

MAX_SCALE = 64  # an export's --scale (and Painting.save_svg's scale): above 0 and at most this
MAX_PNG_PIXELS = 400_000_000  # a PNG export's size (SVG and PDF stay vectors at any size)


def scale_problem(scale) -> str | None:
    """Why `scale` cannot be an export's scale, or None."""
    ok = isinstance(scale, (int, float)) and not isinstance(scale, bool) and 0 < scale <= MAX_SCALE
    return None if ok else f"must be above 0 and at most {MAX_SCALE}"


def hex_color(rgb) -> str:
    r, g, b = (min(255, max(0, round(float(c) * 255))) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def to_svg(sf: StrokeFile, scale: float = 1.0) -> str:
    from strokepaint.plugins import get_brush

    brush = get_brush(sf.brush)
    w, h = sf.width, sf.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{fmt(w * scale)}" height="{fmt(h * scale)}" viewBox="0 0 {w} {h}">',
        f"<!-- strokepaint: {len(sf.strokes)} {sf.brush} strokes (brush version {sf.brush_version}) -->",
        f'<rect width="{w}" height="{h}" fill="{hex_color(sf.background)}"/>',
    ]
    if sf.strokes:
        s = sf.tensor().double()
        gpx = brush.to_pixels(s[:, : brush.n_geometry], w, h).tolist()
        rgb = s[:, brush.n_geometry :].tolist()
        for i, (g, c) in enumerate(zip(gpx, rgb)):
            out.append(call(brush, "svg", g, hex_color(c), str(i)))
    out.append("</svg>\n")
    doc = "\n".join(out)
    _check_markup(brush, doc, out[3:-1])
    return doc


def _check_markup(brush, doc: str, parts: list[str]) -> None:
    """A brush whose svg() writes malformed markup fails with one line naming it and the stroke,
    before anything is written (cairosvg, browsers and editors would refuse the file)."""
    from xml.parsers import expat

    from strokepaint.errors import Failure

    try:
        expat.ParserCreate().Parse(doc, True)  # (no tree: 20,000 strokes' 124 MB parsed in 2 MB)
        return
    except expat.ExpatError:
        pass
    for i, part in enumerate(parts):
        try:
            expat.ParserCreate().Parse(f'<g xmlns="http://www.w3.org/2000/svg">{part}</g>', True)
        except expat.ExpatError as e:
            raise Failure(f"brush {brush.name!r}: its svg() wrote malformed SVG for stroke {i}: {e}") from None
    raise Failure(f"brush {brush.name!r}: its svg() elements do not make a well-formed SVG document together")


def output_size(sf: StrokeFile, scale: float | None, width: int | None) -> tuple[int, int, float]:
    """(width, height, scale) of an export: --width W wins over --scale S; aspect ratio kept."""
    if width is not None:
        scale = width / sf.width
    scale = 1.0 if scale is None else scale
    return max(1, round(sf.width * scale)), max(1, round(sf.height * scale)), scale


FORMATS = (".svg", ".png", ".pdf")  # what `strokepaint export` writes, by the output name's ending


def beside(strokes: Path, suffix: str, width: int, height: int) -> Path:
    """Where an export goes when no name is given: beside the stroke file, named after it
    (photo.painted.strokes.json -> photo.painted.svg). A PNG's name carries its size
    (photo.painted.1280x851.png), so it never replaces the painting's own PNG."""
    name = strokes.name
    stem = name.removesuffix(SUFFIX) if name.endswith(SUFFIX) else strokes.stem
    if suffix == ".png":
        suffix = f".{width}x{height}.png"
    return strokes.with_name(stem + suffix)


def svg_to_png(svg: str, width: int, height: int) -> bytes:
    import cairosvg

    return cairosvg.svg2png(bytestring=svg.encode(), output_width=width, output_height=height)


def svg_to_pdf(svg: str) -> bytes:
    import cairosvg

    return cairosvg.svg2pdf(bytestring=svg.encode())
