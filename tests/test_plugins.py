"""Third-party brush plugins: the example `rect` plugin installs, registers and exports faithfully;
broken plugins are reported without breaking the CLI or the built-in brushes."""

import importlib.util
import io
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from strokepaint.brush import Param
from strokepaint.export import svg_to_png, to_svg
from strokepaint.plugins import get_brush, registry
from strokepaint.raster import rasterize, render
from strokepaint.strokefile import StrokeFile

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "examples"  # next to tests/, also when strokepaint itself is installed non-editable
RECT_DIR = EXAMPLES / "strokepaint-brush-rect"
BUILTIN = {"bezier", "line", "circle", "triangle"}
RECT_PARAMS = ["x", "y", "w", "h", "angle", "a", "R", "G", "B"]


def run(*args: str, path: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m strokepaint ARGS` with `path` in front of PYTHONPATH (where the plugins are)."""
    pythonpath = os.pathsep.join(p for p in (str(path), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run([sys.executable, "-m", "strokepaint", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def rect_module():
    """The example plugin's module, imported straight from examples/ (not installed)."""
    spec = importlib.util.spec_from_file_location("strokepaint_brush_rect", RECT_DIR / "strokepaint_brush_rect" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rect():
    found = []
    rect_module().register_brushes(register=found.append)
    assert [b.name for b in found] == ["rect"]
    return found[0]


@pytest.fixture
def rect_registered(rect, monkeypatch):
    """`rect` in this process's brush registry (as if installed) for the duration of a test."""
    reg = registry()
    monkeypatch.setitem(reg.brushes, "rect", rect)
    monkeypatch.setitem(reg.packages, "rect", "strokepaint-brush-rect")
    return rect


def random_strokes(brush, n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([brush.sample(n, gen), torch.rand(n, 3, generator=gen)], 1)


def svg_pixels(sf: StrokeFile) -> np.ndarray:
    png = svg_to_png(to_svg(sf), sf.width, sf.height)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32) / 255


def raster_pixels(brush, sf: StrokeFile) -> np.ndarray:
    return render(brush, sf.tensor(), sf.width, sf.height, background=sf.background).permute(1, 2, 0).numpy()


# ---- the example plugin, installed as a user would -------------------------------------------
@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """pip-install examples/strokepaint-brush-rect into a folder of its own (--target); returns it.
    The sources are copied first so the build leaves nothing (build/, *.egg-info) in the repository."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is needed to build the plugin without build isolation")
    work = tmp_path_factory.mktemp("rect-plugin")
    src = shutil.copytree(RECT_DIR, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--disable-pip-version-check"]
    r = subprocess.run([*cmd, "-q", "--target", str(target), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "strokepaint_brush_rect" / "__init__.py").is_file()
    (entry_points,) = target.glob("strokepaint_brush_rect-*.dist-info/entry_points.txt")
    assert "[strokepaint]" in entry_points.read_text() and "rect = strokepaint_brush_rect" in entry_points.read_text()
    return target


def test_installed_plugin_is_listed(installed, tmp_path):
    r = run("brushes", "--json", path=installed, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {b["name"]: b for b in json.loads(r.stdout)}
    assert BUILTIN | {"rect"} <= set(rows)
    assert rows["rect"]["package"] == "strokepaint-brush-rect"
    assert rows["rect"]["params"] == RECT_PARAMS and rows["rect"]["version"] == "1.0"
    assert rows["circle"]["package"] == "strokepaint"
    assert "warning" not in r.stderr, r.stderr  # the plugin loads cleanly


def test_installed_plugin_exports(installed, tmp_path):
    strokes = [
        [0.5, 0.5, 0.3, 0.1, 0.25, 1.0, 1.0, 0.0, 0.0],  # big opaque red rectangle, turned 45 degrees
        [0.2, 0.8, 0.001, 0.15, 0.1, 1.0, 0.0, 0.0, 1.0],  # 0.1 px wide: drawn 1 px wide at opacity 0.2
    ]
    doc = {"format": "strokepaint-strokes", "version": 1, "width": 100, "height": 100, "background": [1, 1, 1]}
    doc |= {"brush": {"name": "rect", "version": "1.0"}, "params": RECT_PARAMS, "strokes": strokes}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    r = run("export", "p.json", "--svg", "o.svg", "--png", "o.png", path=installed, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "o.svg").read_text()
    rects = [line for line in svg.splitlines() if line.startswith("<rect ") and "transform=" in line]
    assert len(rects) == 2, svg
    assert "rotate(45)" in rects[0] and 'fill="#ff0000"' in rects[0] and 'fill-opacity="1"' in rects[0]
    assert 'width="1"' in rects[1] and 'fill-opacity="0.2"' in rects[1]
    png = np.asarray(Image.open(tmp_path / "o.png").convert("RGB"))
    assert png.shape == (100, 100, 3) and tuple(png[50, 50]) == (255, 0, 0)
    assert tuple(png[50, 85]) == (255, 255, 255)  # beyond the turned rectangle's reach along x (30 * cos 45 + 10 * sin 45 < 29)


# ---- the rect brush itself ---------------------------------------------------------------------
def test_rect_schema(rect):
    roles = {p.name: (p.role, p.low, p.high) for p in rect.geometry}
    assert roles == {
        "x": ("x", 0.0, 1.0),
        "y": ("y", 0.0, 1.0),
        "w": ("size", 0.0, 0.5),
        "h": ("size", 0.0, 0.5),
        "angle": ("value", 0.0, 1.0),
        "a": ("opacity", 0.0, 1.0),
    }
    assert [p.name for p in rect.params] == RECT_PARAMS and rect.n_params == 9


def test_rect_sampler_covers_the_strokes_painting_needs(rect):
    g = rect.sample(4000, torch.Generator().manual_seed(0))
    assert g.shape == (4000, 6)
    lows, highs = torch.tensor([p.low for p in rect.geometry]), torch.tensor([p.high for p in rect.geometry])
    assert bool(((g >= lows) & (g <= highs)).all())
    long, short = torch.maximum(g[:, 2], g[:, 3]), torch.minimum(g[:, 2], g[:, 3])
    share = lambda mask: float(mask.float().mean())
    assert share(long < 0.01) > 0.05 and share(long > 0.25) > 0.1  # small and big
    assert share(short < 0.1 * long) > 0.1 and share(short > 0.7 * long) > 0.1  # thin and thick
    assert share(g[:, 5] == 1.0) > 0.1 and share(g[:, 5] < 0.3) > 0.1  # opaque and faint
    assert share(g[:, 4] < 0.25) > 0.15 and share(g[:, 4] > 0.75) > 0.15  # every direction
    assert share(g[:, 2] > g[:, 3]) > 0.3 and share(g[:, 2] < g[:, 3]) > 0.3


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = (((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)).clamp(0, 1)
    return torch.hypot(px - ax - t * dx, py - ay - t * dy)


def test_rect_sdf_is_exact(rect):
    """Against a brute force: distance to the nearest of the four sides, negative inside."""
    gen = torch.Generator().manual_seed(1)
    n, p = 64, 500
    gpx = rect.to_pixels(rect.sample(n, gen).double(), 300, 200)
    gpx[:, 2:4] = gpx[:, 2:4].clamp_min(0.5)  # sizes as drawn (thinner ones are widened to 1 px)
    x, y = torch.rand(n, p, generator=gen, dtype=torch.float64) * 300, torch.rand(n, p, generator=gen, dtype=torch.float64) * 200
    sd, op = rect.sdf(gpx, x, y)
    assert sd.shape == op.shape == (n, p)
    cx, cy, w, h, t = (gpx[:, i : i + 1] for i in range(5))
    c, s = torch.cos(t * math.pi), torch.sin(t * math.pi)
    corners = [(cx + sx * w * c - sy * h * s, cy + sx * w * s + sy * h * c) for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]
    dist = torch.stack([_segment_distance(x, y, *corners[i], *corners[(i + 1) % 4]) for i in range(4)]).amin(0)
    u, v = (x - cx) * c + (y - cy) * s, (y - cy) * c - (x - cx) * s
    inside = (u.abs() < w) & (v.abs() < h)
    assert torch.allclose(sd, torch.where(inside, -dist, dist), atol=1e-6)


def test_rect_bounds_and_blocks_miss_nothing(rect):
    """The block-skipping rasterizer equals a dense evaluation of the sdf, and bounds hold every drawn pixel."""
    gen = torch.Generator().manual_seed(2)
    g = rect.sample(40, gen)
    w, h = 97, 61
    alpha = rasterize(rect, g, w, h)
    gpx = rect.to_pixels(g, w, h)
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    x, y = xs.reshape(1, -1).expand(40, -1), ys.reshape(1, -1).expand(40, -1)
    sd, op = rect.sdf(gpx, x, y)
    dense = ((0.5 - sd).clamp(0, 1) * op).view(40, h, w)
    assert torch.allclose(alpha, dense, atol=1e-6)
    b = rect.bounds(gpx)
    drawn = dense > 0
    assert bool((~drawn | ((xs >= b[:, 0, None, None]) & (xs <= b[:, 2, None, None]))).all())
    assert bool((~drawn | ((ys >= b[:, 1, None, None]) & (ys <= b[:, 3, None, None]))).all())


def test_thin_rect_keeps_its_ink(rect):
    """Under a pixel wide: drawn 1 px wide, with proportionally less opacity (the ink its true area would give)."""
    for wpx, hpx, a in ((0.1, 40.0, 1.0), (30.0, 0.25, 0.6), (0.3, 0.2, 0.8)):
        g = torch.tensor([[0.5, 0.5, wpx / 200, hpx / 200, 0.17, a]])
        alpha = rasterize(rect, g, 200, 200)
        widened = torch.tensor([[0.5, 0.5, max(wpx, 0.5) / 200, max(hpx, 0.5) / 200, 0.17, a * min(1, 2 * wpx) * min(1, 2 * hpx)]])
        assert torch.allclose(alpha, rasterize(rect, widened, 200, 200), atol=1e-6)
        if max(wpx, hpx) > 10:  # a long hairline: its ends matter little, the ink is its area
            assert float(alpha.sum()) == pytest.approx(4 * wpx * hpx * a, rel=0.02), (wpx, hpx)


# ---- SVG export looks like the raster ----------------------------------------------------------
def test_rect_svg_matches_raster(rect_registered):
    rect = rect_registered
    sf = StrokeFile(512, 512, "rect", rect.version, random_strokes(rect, 200, seed=0).tolist())
    mse = float(((svg_pixels(sf) - raster_pixels(rect, sf)) ** 2).mean())
    assert mse <= 1e-3, mse


@pytest.mark.parametrize(
    "stroke",
    [
        [0.5, 0.5, 0.3, 0.05, 0.1, 1.0],  # long bar, slightly turned
        [0.3, 0.6, 0.2, 0.002, 0.8, 1.0],  # hairline (0.25 px wide), turned the other way
        [0.7, 0.3, 0.002, 0.003, 0.5, 0.9],  # speck smaller than a pixel
        [0.5, 0.5, 0.5, 0.5, 0.6, 0.4],  # faint, larger than the canvas
        [0.1, 0.9, 0.1, 0.2, 1.0, 1.0],  # angle 1 = 180 degrees
    ],
)
def test_rect_svg_matches_raster_one_stroke(rect_registered, stroke):
    """Single strokes on a non-square canvas, where one wrong detail (direction, thin handling) would show."""
    rect = rect_registered
    bg = (1.0, 0.9, 0.8)
    sf = StrokeFile(128, 96, "rect", rect.version, [stroke + [0.0, 0.2, 0.6]], bg)
    svg, raster = svg_pixels(sf), raster_pixels(rect, sf)
    assert float(((svg - raster) ** 2).mean()) <= 1e-4
    # the ink laid down (change from the empty canvas, each rendered the same way) agrees too
    ink_svg = float(np.abs(svg - svg_pixels(StrokeFile(128, 96, "rect", rect.version, [], bg))).sum())
    ink_raster = float(np.abs(raster - np.asarray(bg, dtype=np.float32)).sum())
    assert ink_svg == pytest.approx(ink_raster, rel=0.05, abs=0.2)


# ---- broken plugins ------------------------------------------------------------------------------
def fake_dist(site: Path, dist: str, module: str, source: str) -> None:
    """An installed distribution `dist` whose "strokepaint" entry point names `module`."""
    info = site / f"{module}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[strokepaint]\n{module} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


def broken_site(root: Path) -> Path:
    site = root / "site"
    fake_dist(site, "sp-import-fails", "sp_import_fails", 'raise ImportError("sp_import_fails needs a module nobody has")\n')
    fake_dist(
        site,
        "sp-hook-raises",
        "sp_hook_raises",
        """
        import strokepaint

        @strokepaint.hookimpl
        def register_brushes(register):
            raise RuntimeError("sp_hook_raises broke while registering")
        """,
    )
    fake_dist(
        site,
        "sp-bad-signature",
        "sp_bad_signature",
        """
        import strokepaint

        @strokepaint.hookimpl
        def register_brushes(reg, extra):
            pass
        """,
    )
    fake_dist(
        site,
        "sp-dup-circle",
        "sp_dup_circle",
        """
        import strokepaint
        from strokepaint.brushes.circle import Circle

        class FakeCircle(Circle):
            description = "an impostor"

        class Dot(Circle):
            name = "dot"

        @strokepaint.hookimpl
        def register_brushes(register):
            register(FakeCircle())
            register(Dot())
        """,
    )
    fake_dist(site, "sp-no-hook", "sp_no_hook", "def register_brushes(register):  # (not decorated)\n    pass\n")
    fake_dist(
        site,
        "sp-class",
        "sp_class",
        """
        import strokepaint
        from strokepaint.brushes.circle import Circle

        class Blob(Circle):
            name = "blob"

        @strokepaint.hookimpl
        def register_brushes(register):
            register(Blob)
        """,
    )
    return site


def test_broken_plugins_do_not_break_the_cli(tmp_path):
    site = broken_site(tmp_path)
    r = run("brushes", "--json", path=site, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    rows = {b["name"]: b for b in json.loads(r.stdout)}
    assert BUILTIN <= set(rows)
    assert all(rows[name]["package"] == "strokepaint" for name in BUILTIN)
    assert rows["circle"]["description"] == "filled circle"  # the built-in, not the impostor
    assert rows["dot"]["package"] == "sp-dup-circle"  # the duplicate is dropped, the plugin's other brush kept
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    for needle in ("sp-import-fails", "sp-hook-raises", "sp-dup-circle"):
        assert any(needle in line for line in warnings), r.stderr
    assert any("sp-bad-signature" in line and "can not be found in the hookspec" in line for line in warnings), r.stderr
    assert "needs a module nobody has" in r.stderr and "broke while registering" in r.stderr
    assert "'circle' is already provided by strokepaint" in r.stderr
    assert "plugin sp-no-hook (sp_no_hook): sp_no_hook has no register_brushes hook" in r.stderr
    assert "plugin sp-class (sp_class): registered the class Blob, not a brush: call register(Blob())" in r.stderr
    table = run("brushes", path=site, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "triangle" in table.stdout and "sp-import-fails" in table.stdout and "sp-hook-raises" in table.stdout


def test_problem_text_is_shown_verbatim(tmp_path):
    site = tmp_path / "site"
    fake_dist(site, "sp-brackets", "sp_brackets", 'raise ImportError("install it with pip install [/extra] or [bold]x")\n')
    r = run("brushes", "--json", path=site, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[/extra] or [bold]x" in r.stderr


@pytest.mark.parametrize(
    "attrs, message",
    [
        ({"name": "bad name/../x"}, "brush name"),
        ({"name": "Circle2"}, "brush name"),
        ({"version": 1}, "version must be a string"),
        ({"geometry": (("x", "x", "centre x"),)}, "tuple of strokepaint.Param"),
        ({"geometry": "x y r"}, "tuple of strokepaint.Param"),
        ({"geometry": (Param("x", "x", "x"), Param("x", "y", "y"))}, "names repeat (x)"),
        ({"geometry": (Param("R", "color", "red"),)}, "color parameter"),
        ({"renderer_overrides": {"nosuch": 1}}, "renderer_overrides {'nosuch': 1}: "),
        ({"renderer_overrides": {"frame": 7}}, "not divisible"),
    ],
)
def test_badly_defined_brushes_are_refused(attrs, message):
    from strokepaint.plugins import _check

    bad = type("Bad", (get_brush("circle").__class__,), {"name": "bad", **attrs})()
    assert message in _check(bad)
    assert _check(type("Good", (get_brush("circle").__class__,), {"name": "good-2"})()) is None


@pytest.mark.parametrize(
    "args, message",
    [
        ((5, "x", "centre x"), "parameter name 5"),
        (("a b", "x", "centre x"), "parameter name 'a b'"),
        (("angle", "value", "turn", float("-inf"), float("inf")), "low and high must be finite"),
    ],
)
def test_bad_parameters_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        Param(*args)


def test_a_brush_with_plain_tuples_does_not_break_brushes(tmp_path):
    site = tmp_path / "site"
    fake_dist(
        site,
        "sp-tuples",
        "sp_tuples",
        """
        import strokepaint
        from strokepaint.brushes.circle import Circle

        class Tuples(Circle):
            name = "tuples"
            geometry = (("x", "x", "centre x"), ("y", "y", "centre y"))

        @strokepaint.hookimpl
        def register_brushes(register):
            register(Tuples())
        """,
    )
    r = run("brushes", "--json", path=site, cwd=tmp_path)
    assert r.returncode == 0 and "tuples" not in {b["name"] for b in json.loads(r.stdout)}
    assert "geometry must be a tuple of strokepaint.Param" in r.stderr
