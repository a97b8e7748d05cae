"""Vector export: the SVG looks like the raster; the export command end to end."""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_strokes
from PIL import Image

from strokepaint.export import svg_to_png, to_svg
from strokepaint.plugins import get_brush
from strokepaint.raster import render
from strokepaint.strokefile import StrokeFile

BUILTIN = ["bezier", "line", "circle", "triangle"]


def _painting(name: str, n: int = 200, size: int = 512, seed: int = 0) -> StrokeFile:
    b = get_brush(name)
    return StrokeFile(size, size, name, b.version, random_strokes(b, n, seed).tolist(), (1.0, 1.0, 1.0))


@pytest.mark.parametrize("name", BUILTIN)
def test_svg_matches_raster(name):
    sf = _painting(name)
    png = svg_to_png(to_svg(sf), 512, 512)
    svg_pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32) / 255
    raster = render(get_brush(name), sf.tensor(), 512, 512).permute(1, 2, 0).numpy()
    mse = float(((svg_pixels - raster) ** 2).mean())
    assert mse <= 1e-3, mse


def test_export_command(tmp_path, cli):
    sf = _painting("bezier", n=30, size=100)
    strokes = sf.save(tmp_path / "p.json")
    before = strokes.read_bytes()
    r = cli(
        "export",
        str(strokes),
        "--svg",
        str(tmp_path / "o.svg"),
        "--png",
        str(tmp_path / "o.png"),
        "--pdf",
        str(tmp_path / "sub" / "o.pdf"),
        "--width",
        "250",
    )
    assert r.returncode == 0, r.stderr
    assert strokes.read_bytes() == before
    svg = (tmp_path / "o.svg").read_text()
    assert svg.startswith("<svg") and 'viewBox="0 0 100 100"' in svg and 'width="250"' in svg
    assert Image.open(tmp_path / "o.png").size == (250, 250)
    assert (tmp_path / "sub" / "o.pdf").read_bytes().startswith(b"%PDF")
    r = cli("export", str(strokes), "--png", str(tmp_path / "s.png"), "--scale", "0.5")
    assert r.returncode == 0 and Image.open(tmp_path / "s.png").size == (50, 50)


def test_export_png_looks_like_the_painting(tmp_path, cli):
    sf = _painting("circle", n=60, size=64, seed=5)
    sf.background = (0.9, 0.8, 0.7)
    strokes = sf.save(tmp_path / "p.json")
    assert cli("export", str(strokes), "--png", str(tmp_path / "o.png")).returncode == 0
    png = np.asarray(Image.open(tmp_path / "o.png").convert("RGB"), dtype=np.float32) / 255
    raster = render(get_brush("circle"), sf.tensor(), 64, 64, background=sf.background).permute(1, 2, 0).numpy()
    assert float(((png - raster) ** 2).mean()) < 1e-3


@pytest.mark.parametrize(
    "args, message",
    [
        (["{inp}"], "one stroke file at a time"),
        (["--svg", "{out}", "--scale", "2", "--width", "10"], "not both"),
        (["--svg", "{out}", "--scale", "0"], "--scale"),
        (["--svg", "{out}", "--width", "-3"], "--width"),
    ],
)
def test_export_bad_usage(tmp_path, cli, args, message):
    strokes = _painting("line", n=5, size=32).save(tmp_path / "p.json")
    before = strokes.read_bytes()
    args = [a.format(out=tmp_path / "o.svg", inp=strokes) for a in args]
    r = cli("export", str(strokes), *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.svg").exists()
    assert strokes.read_bytes() == before


def test_export_names_outputs_beside_the_newest_stroke_file(tmp_path, cli):
    """`strokepaint export --svg`, as the product brief types it: no names needed."""
    r = cli("export", "--svg", cwd=tmp_path)
    assert r.returncode == 2 and "no *.strokes.json in this folder" in r.stderr and "Traceback" not in r.stderr
    old = _painting("circle", n=5, size=40).save(tmp_path / "old.painted.strokes.json")
    _painting("line", n=5, size=30).save(tmp_path / "new.painted.strokes.json")
    os.utime(old, (1e9, 1e9))
    r = cli("export", "--svg", "--png", "--scale", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "new.painted.strokes.json" in r.stderr
    assert 'viewBox="0 0 30 30"' in (tmp_path / "new.painted.svg").read_text()
    assert Image.open(tmp_path / "new.painted.60x60.png").size == (60, 60)  # never the painting's own PNG name
    assert not (tmp_path / "old.painted.svg").exists()
    r = cli("export", str(old), "--pdf", str(tmp_path / "named.svg"))  # a named output of a format wins over beside
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "old.painted.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "named.svg").exists() and not (tmp_path / "old.painted.svg").exists()
    assert cli("export", str(old)).returncode == 0 and (tmp_path / "old.painted.svg").exists()  # no format: SVG
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"a picture")
    r = cli("export", "photo.png", cwd=tmp_path)  # an output name alone never takes the newest stroke file
    assert r.returncode == 2 and "no stroke file named" in r.stderr and photo.read_bytes() == b"a picture"
    r = cli("export", str(old), str(tmp_path / "o.jpg"))
    assert r.returncode == 2 and "export writes .svg, .png or .pdf" in r.stderr
    r = cli("export", str(old), str(tmp_path / "first.svg"), "/proc/second.pdf")  # checked before any is written
    assert r.returncode == 2 and "cannot write" in r.stderr and not (tmp_path / "first.svg").exists()


def test_export_bad_file(tmp_path, cli):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": "strokepaint-strokes",
                "version": 1,
                "width": 10,
                "height": 10,
                "brush": {"name": "circle", "version": "1.0"},
                "strokes": [[0.5, 0.5, 0.1, 1, 0, 0, float("nan")]],
            }
        )
    )
    r = cli("export", str(bad), "--svg", str(tmp_path / "o.svg"))
    assert r.returncode == 2 and "B is NaN (must be a finite number" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.svg").exists()
    r = cli("export", str(tmp_path / "missing.json"), "--svg", str(tmp_path / "o.svg"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_empty_painting_exports(tmp_path, cli):
    sf = StrokeFile(20, 10, "triangle", get_brush("triangle").version, [], (0.0, 0.0, 0.0))
    strokes = sf.save(tmp_path / "e.json")
    assert cli("export", str(strokes), "--png", str(tmp_path / "e.png")).returncode == 0
    png = np.asarray(Image.open(tmp_path / "e.png").convert("RGB"))
    assert png.shape == (10, 20, 3) and png.max() == 0


def test_strokes_tensor_shape():
    sf = _painting("circle", n=3, size=10)
    assert sf.tensor().shape == (3, 7) and sf.tensor().dtype == torch.float32


def test_readme_demo_exports(tmp_path, cli):
    """README's run command works on the shipped example stroke file."""
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo" / "demo.json"
    r = cli("export", str(demo), "--svg", str(tmp_path / "demo.svg"), "--png", str(tmp_path / "demo.png"), "--width", "320")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "demo.png").size == (320, 200)


def test_output_folders_are_checked_without_being_created(tmp_path):
    """A run that fails after the check leaves no empty folder; a file in the way is named."""
    from strokepaint.errors import UsageError
    from strokepaint.fsutil import atomic_write, check_writable

    check_writable(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists() and not list(tmp_path.iterdir())  # no probe left either
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match="notes.txt is a file, not a folder"):
        check_writable(tmp_path / "notes.txt" / "out")
    atomic_write(tmp_path / "new" / "deeper" / "a.txt", "written")  # the folders come with the first file
    assert (tmp_path / "new" / "deeper" / "a.txt").read_text() == "written"


def test_malformed_svg_from_a_brush_is_named(monkeypatch):
    from strokepaint.errors import Failure

    brush = get_brush("circle")
    sf = _painting("circle", n=3, size=64)
    good = brush.svg
    monkeypatch.setattr(type(brush), "svg", lambda self, g, rgb, uid: good(g, rgb, uid) + ("<path d=" if uid == "2" else ""))
    with pytest.raises(Failure, match=r"brush 'circle': its svg\(\) wrote malformed SVG for stroke 2"):
        to_svg(sf)


def test_a_huge_canvas_exports_as_vectors_but_not_as_png(tmp_path, cli):
    from strokepaint.strokefile import MAX_SIDE

    b = get_brush("circle")
    path = StrokeFile(MAX_SIDE, MAX_SIDE, "circle", b.version, random_strokes(b, 3, 0).tolist()).save(tmp_path / "big.strokes.json")
    r = cli("export", str(path), str(tmp_path / "big.svg"))
    assert r.returncode == 0 and f'viewBox="0 0 {MAX_SIDE} {MAX_SIDE}"' in (tmp_path / "big.svg").read_text(), r.stderr
    r = cli("export", str(path), str(tmp_path / "big.png"))
    assert r.returncode == 2 and f"a PNG of {MAX_SIDE}x{MAX_SIDE} pixels is too large" in r.stderr
    assert not (tmp_path / "big.png").exists()
