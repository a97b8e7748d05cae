"""The exact rasterizers: geometry, anti-aliasing, resolution independence, block pruning."""

import math

import pytest
import torch
from conftest import random_strokes

from strokepaint import sdf
from strokepaint.compose import best_colours, blank, composite, uncovered
from strokepaint.plugins import get_brush, registry
from strokepaint.raster import coverage, rasterize, render

BUILTIN = ["bezier", "line", "circle", "triangle"]


def test_builtins_registered_without_problems():
    reg = registry()
    assert set(BUILTIN) <= set(reg.brushes)
    assert reg.packages["bezier"] == "strokepaint"
    assert not [p for p in reg.problems if "strokepaint " in p]
    assert len(get_brush("bezier").params) == 13


@pytest.mark.parametrize("radius", [3.0, 10.0, 37.5, 90.0])
def test_circle_area(radius):
    size = 256
    a = rasterize(get_brush("circle"), torch.tensor([[0.5, 0.5, radius / size, 1.0]]), size, size)
    assert abs(float(a.sum()) - math.pi * radius**2) <= 0.01 * math.pi * radius**2


def test_edges_are_antialiased_and_monotone():
    a = rasterize(get_brush("circle"), torch.tensor([[0.5, 0.5, 0.3, 1.0]]), 128, 128)[0]
    row = a[64, 64:]  # centre to the right edge
    assert ((row > 0.02) & (row < 0.98)).sum() >= 1  # partial pixels on the edge
    assert (row[1:] <= row[:-1] + 1e-6).all()  # coverage falls monotonically
    assert row[0] == 1.0 and row[-1] == 0.0


def test_bezier_ends_where_parameters_say():
    b = get_brush("bezier")
    size = 256
    g = torch.tensor([[0.2, 0.3, 0.5, 0.9, 0.8, 0.3, 3 / size, 1.0, 3 / size, 1.0]])
    a = rasterize(b, g, size, size)[0]
    for x, y in ((0.2, 0.3), (0.8, 0.3)):
        assert a[int(y * size), int(x * size)] > 0.99
    # beyond the start, along the tangent direction away from the curve, nothing is drawn
    tx, ty = 0.5 - 0.2, 0.9 - 0.3
    n = math.hypot(tx, ty)
    px, py = 0.2 * size - tx / n * 6, 0.3 * size - ty / n * 6
    assert a[int(py), int(px)] == 0.0
    # the curve's midpoint B(0.5) = (P0 + 2 P1 + P2) / 4 is covered
    mx, my = (0.2 + 1.0 + 0.8) / 4, (0.3 + 1.8 + 0.3) / 4
    assert a[int(my * size), int(mx * size)] > 0.99


def test_bezier_opacity_runs_from_t0_to_t1():
    b = get_brush("bezier")
    a = rasterize(b, torch.tensor([[0.1, 0.5, 0.5, 0.5, 0.9, 0.5, 0.05, 0.2, 0.05, 1.0]]), 200, 200)[0]
    assert abs(float(a[100, 20]) - 0.2) < 0.01
    assert abs(float(a[100, 179]) - 1.0) < 0.01
    assert abs(float(a[100, 100]) - 0.6) < 0.01


@pytest.mark.parametrize("name", BUILTIN)
def test_resolutions_agree(name):
    b = get_brush(name)
    g = random_strokes(b, 24, seed=1)[:, : b.n_geometry]
    small = rasterize(b, g, 128, 128)
    big = rasterize(b, g, 512, 512)
    down = torch.nn.functional.avg_pool2d(big[:, None], 4)[:, 0]
    assert float((small - down).abs().mean()) < 0.01
    assert float((small - down).abs().amax()) < 0.5


@pytest.mark.parametrize("name", BUILTIN)
def test_blocks_skip_nothing(name):
    """Block pruning gives the same maps as evaluating every pixel."""
    b = get_brush(name)
    w, h = 96, 72
    g = random_strokes(b, 32, seed=2)[:, : b.n_geometry]
    gpx = b.to_pixels(g, w, h)
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    x = xs.reshape(1, -1).expand(len(g), -1)
    y = ys.reshape(1, -1).expand(len(g), -1)
    sd, op = b.sdf(gpx, x, y)
    full = (coverage(sd) * op).view(len(g), h, w)
    assert torch.allclose(rasterize(b, g, w, h), full, atol=1e-4)


@pytest.mark.parametrize("name", BUILTIN)
def test_render_is_composited_rasterize(name):
    b = get_brush(name)
    s = random_strokes(b, 20, seed=3)
    w, h = 80, 60
    alpha = rasterize(b, s[:, : b.n_geometry], w, h)
    expected = composite(blank((0.2, 0.4, 0.6), h, w), alpha, s[:, b.n_geometry :])
    assert torch.allclose(render(b, s, w, h, background=(0.2, 0.4, 0.6)), expected, atol=1e-5)


def test_non_square_canvas_keeps_circles_round():
    a = rasterize(get_brush("circle"), torch.tensor([[0.5, 0.5, 0.1, 1.0]]), 300, 100)[0]
    # radius 0.1 of the longer side = 30 px in both directions
    assert float(a[50].sum()) == pytest.approx(60, abs=1.5)
    assert float(a[:, 150].sum()) == pytest.approx(60, abs=1.5)


def test_tapered_capsule_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        ax, ay, bx, by = (torch.rand(1, 1, generator=gen) * 50 for _ in range(4))
        ra, rb = (torch.rand(1, 1, generator=gen) * 15 for _ in range(2))
        x, y = torch.rand(1, 400, generator=gen) * 70 - 10, torch.rand(1, 400, generator=gen) * 70 - 10
        got = sdf.tapered_capsule(x, y, ax, ay, bx, by, ra, rb)
        t = torch.linspace(0, 1, 4001)[:, None, None]
        cx, cy, cr = ax + (bx - ax) * t, ay + (by - ay) * t, ra + (rb - ra) * t
        brute = (torch.hypot(x - cx, y - cy) - cr).amin(0)
        assert torch.allclose(got, brute, atol=0.02), float((got - brute).abs().max())


@pytest.mark.parametrize("spread", [1.0, 4.0, 40.0])
def test_bezier_sdf_meets_the_brush_contract(spread):
    """The Bézier brush evaluates only the parts of a stroke near each row of points; against the
    union of every segment's capsule it must be exact in the anti-aliasing band and, beyond it,
    never farther from 0 than the true distance (so block pruning stays valid)."""
    from strokepaint.brushes.bezier import segments

    b = get_brush("bezier")
    g = b.to_pixels(random_strokes(b, 300, seed=5)[:, : b.n_geometry], 200, 160)
    gen = torch.Generator().manual_seed(6)
    # rows of 64 points around a centre, like the rasterizer's blocks (and wider); half the
    # centres on the edge of a stroke's start disk, so that many points fall in the band
    centre = torch.rand(300, 2, generator=gen) * torch.tensor([200.0, 160.0])
    centre[::2, 0] = g[::2, 0] + g[::2, 6].clamp_min(0.5)
    centre[::2, 1] = g[::2, 1]
    x = centre[:, :1] + (torch.rand(300, 64, generator=gen) - 0.5) * spread
    y = centre[:, 1:] + (torch.rand(300, 64, generator=gen) - 0.5) * spread
    got = b.sdf(g, x, y)[0]
    ref = torch.empty_like(got)
    for i, m in enumerate(segments((g[:, 0:2] - 2 * g[:, 2:4] + g[:, 4:6]).norm(dim=1)).tolist()):
        s = torch.linspace(0, 1, m + 1)
        x0, y0, x1, y1, x2, y2, r0, _, r1, _ = g[i].tolist()
        vx = (1 - s) ** 2 * x0 + 2 * s * (1 - s) * x1 + s * s * x2
        vy = (1 - s) ** 2 * y0 + 2 * s * (1 - s) * y1 + s * s * y2
        vr = max(r0, 0.5) + (max(r1, 0.5) - max(r0, 0.5)) * s
        caps = sdf.tapered_capsule(x[i : i + 1], y[i : i + 1], *(t[:, None] for t in (vx[:-1], vy[:-1], vx[1:], vy[1:], vr[:-1], vr[1:])))
        ref[i] = caps.amin(0)
    tol = 2e-3
    band = ref.abs() <= sdf.BAND
    assert band.sum() > 100
    assert (got - ref)[band].abs().max() < tol
    outside, inside = ref > sdf.BAND, ref < -sdf.BAND
    assert ((got > sdf.BAND - tol) & (got <= ref + tol))[outside].all()
    assert ((got < -sdf.BAND + tol) & (got >= ref - tol))[inside].all()


def test_capsules_of_no_length_are_disks():
    """A segment of length 0 (a dot stroke) is its disk, not an endless band."""
    x, y = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
    x, y = x.reshape(1, -1), y.reshape(1, -1)
    c, r = torch.full((1, 1), 10.0), torch.full((1, 1), 3.0)
    disk = sdf.circle(x, y, c, c, r)
    for rb in (3.0, 2.0):
        assert torch.allclose(sdf.tapered_capsule(x, y, c, c, c, c, r, torch.full((1, 1), rb)), disk)
    area = {"line": math.pi * 3**2, "bezier": math.pi * 3**2}
    dot = {"line": [0.5, 0.5, 0.5, 0.5, 3 / 64, 1.0], "bezier": [0.5] * 6 + [3 / 64, 1.0, 3 / 64, 1.0]}
    for name, g in dot.items():
        a = rasterize(get_brush(name), torch.tensor([g]), 64, 64)[0]
        assert float(a.sum()) == pytest.approx(area[name], rel=0.05)


def test_triangle_sign_and_degenerate():
    x = torch.tensor([[3.0, 20.0, 1.0]])
    y = torch.tensor([[3.0, 20.0, 8.0]])
    one = torch.ones(1, 1)
    d = sdf.triangle(x, y, 0 * one, 0 * one, 10 * one, 0 * one, 0 * one, 10 * one)
    assert d[0, 0] < 0 and d[0, 1] > 0 and d[0, 2] < 0
    flat = sdf.triangle(x, y, 0 * one, 0 * one, 10 * one, 10 * one, 20 * one, 20 * one)
    assert (flat >= 0).all()  # a flat triangle has no inside


@pytest.mark.parametrize("name", BUILTIN)
def test_sampler_covers_what_painting_needs(name):
    b = get_brush(name)
    g = b.sample(4000, torch.Generator().manual_seed(0))
    assert g.shape == (4000, b.n_geometry)
    lo = torch.tensor([p.low for p in b.geometry])
    hi = torch.tensor([p.high for p in b.geometry])
    assert ((g >= lo) & (g <= hi)).all()
    solid = g[:400].clone()
    solid[:, [p.role == "opacity" for p in b.geometry]] = 1.0
    area = rasterize(b, solid, 64, 64).sum((1, 2)) / 64**2
    assert (area < 0.01).float().mean() > 0.1  # small strokes
    assert (area > 0.05).float().mean() > 0.1  # big strokes
    for i, p in enumerate(b.geometry):
        if p.role == "opacity":
            assert (g[:, i] == 1).float().mean() > 0.1  # opaque strokes
            assert (g[:, i] < 0.3).float().mean() > 0.1  # faint strokes


def test_compositing_formula():
    canvas = torch.zeros(3, 1, 1)
    alpha = torch.tensor([0.5, 0.5]).view(2, 1, 1)
    color = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    out = composite(canvas, alpha, color)
    assert torch.allclose(out[:, 0, 0], torch.tensor([0.25, 0.0, 0.5]))


def _composite_by_autograd(canvas, alpha, color):
    for a, c in zip(alpha.unsqueeze(-3).unbind(-4), color[..., None, None].unbind(-4)):
        canvas = canvas * (1 - a) + a * c
    return canvas


@pytest.mark.parametrize("lead", [(), (2,), (2, 3)])
def test_composite_gradient_is_exact(lead):
    """The closed-form backward of compositing against autograd through the plain formula."""
    gen = torch.Generator().manual_seed(0)
    canvas = torch.rand(*lead, 3, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    alpha = torch.rand(*lead, 4, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    color = torch.rand(*lead, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    out, ref = composite(canvas, alpha, color), _composite_by_autograd(canvas, alpha, color)
    assert torch.allclose(out, ref, atol=1e-12)
    g = torch.rand(out.shape, generator=gen, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(out, (canvas, alpha, color), g), torch.autograd.grad(ref, (canvas, alpha, color), g)):
        assert torch.allclose(a, b, atol=1e-12)
    shared = canvas[(0,) * len(lead)].detach().requires_grad_(True) if lead else canvas  # one canvas for a batch
    assert torch.autograd.gradcheck(composite, (shared, alpha, color))


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (2, 3, 200, 200)])  # 1 - alpha at once / by rows (big rows)
def test_uncovered_is_the_product_of_what_later_strokes_leave(shape):
    alpha = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    keep = uncovered(alpha, 1)
    ref = torch.ones(shape[0], shape[1] + 1, *shape[2:])
    for i in range(shape[1] - 1, -1, -1):
        ref[:, i] = ref[:, i + 1] * (1 - alpha[:, i])
    assert torch.equal(keep, ref)


def test_best_colours_leave_no_gain_in_colour():
    """Each stroke's colour is where the squared error after it, given the canvas before it, is
    least: its gradient there is zero (inside [0, 1], no ridge); the canvas is the composite."""
    gen = torch.Generator().manual_seed(1)
    target = 0.3 + 0.4 * torch.rand(2, 3, 6, 7, generator=gen, dtype=torch.float64)
    canvas = 0.3 + 0.4 * torch.rand(2, 3, 6, 7, generator=gen, dtype=torch.float64)
    alpha = torch.rand(2, 4, 6, 7, generator=gen, dtype=torch.float64)
    prior = torch.rand(2, 4, 3, generator=gen, dtype=torch.float64)
    out, colours = best_colours(canvas, alpha, target, prior, ridge=0.0)
    assert torch.allclose(out, composite(canvas, alpha, colours), atol=1e-12)
    assert not torch.allclose(colours, prior)
    before = canvas
    for i in range(4):
        c = colours[:, i].clone().requires_grad_(True)
        err = ((torch.lerp(before, c[..., None, None], alpha[:, i : i + 1]) - target) ** 2).sum()
        (grad,) = torch.autograd.grad(err, c)
        assert grad.abs().max() < 1e-9
        before = composite(before, alpha[:, i : i + 1], colours[:, i : i + 1])
    # a stroke that does not show keeps the colour proposed
    _, kept = best_colours(canvas, torch.zeros_like(alpha), target, prior)
    assert torch.allclose(kept, prior)
