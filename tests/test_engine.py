"""The painting engine: plans, windows, unit mapping, and painting with the shipped renderers."""

import dataclasses
import re

import numpy as np
import pytest
import torch
from PIL import Image

import strokepaint
from strokepaint import engine, raster
from strokepaint.errors import UsageError
from strokepaint.plugins import get_brush


def _picture(w: int, h: int) -> torch.Tensor:
    """A smooth test picture with an edge: [3, h, w]."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([x, y, (x > 0.5).float() * 0.8 + 0.1]).clamp(0, 1)


def test_plan_covers_the_picture_coarse_to_fine():
    passes, budgets = engine.plan(1280, 851, 4000)
    assert sum(budgets) == 4000 and all(b > 0 for b in budgets)
    sides = [p[0].side for p in passes]
    assert sides == sorted(sides, reverse=True) and sides[-1] <= engine.TILE * 1.01
    for tiles in passes:  # every pass covers the whole picture
        assert min(t.x for t in tiles) == 0 and max(t.x + t.side for t in tiles) == pytest.approx(1280)
        assert min(t.y for t in tiles) == 0 and max(t.y + t.side for t in tiles) == pytest.approx(851)
    assert len(engine.plan(128, 128, 200)[0]) == 2
    assert len(engine.plan(128, 128, 200, grid=4)[0][-1]) == 16
    assert engine.plan(1, 1, 5) == ([[engine.Tile(0.0, 0.0, 1.0)]], [5])


@pytest.mark.parametrize("w, h", [(2000, 3), (3, 2000), (1500, 10)])
def test_a_thin_strip_is_painted_end_to_end(w, h):
    """Its coarsest pass has no more tiles than bundles (not hundreds of 3-px tiles, only the first
    few of which got strokes), so a plain strip is covered with a few strokes."""
    passes, budgets = engine.plan(w, h, 50)
    assert len(passes[0]) <= 10 and sum(budgets) == 50
    for tiles in passes:  # every pass reaches both ends
        assert min(t.x for t in tiles) <= 0 and max(t.x + t.side for t in tiles) >= w - 1e-6
        assert min(t.y for t in tiles) <= 0 and max(t.y + t.side for t in tiles) >= h - 1e-6
    green = torch.tensor([0.0, 0.5, 0.0])[:, None, None].expand(3, h, w)
    for grid in (0, 1):  # (--grid sets the finest pass only)
        p = engine.paint(green, strokes=50, grid=grid)
        assert float(((p.image() - green) ** 2).mean()) < 1e-3, grid


def test_share_follows_the_error():
    assert engine.share(10, torch.tensor([1.0, 0.0, 4.0])) == [2, 0, 8]
    assert sum(engine.share(7, torch.rand(5))) == 7


def test_phases_keep_touching_tiles_apart():
    tiles = engine.plan(1280, 851, 4000)[0][-1]
    groups = engine.phases(tiles, 4)
    assert len(groups) == 4 and sorted(i for g in groups for i in g) == list(range(len(tiles)))  # each tile once
    for g in groups:
        assert g == sorted(g)  # tile order kept within a phase
        for i in g:
            for j in g:  # no two tiles of a phase overlap or share an edge
                a, b = tiles[i], tiles[j]
                if i != j:
                    assert abs(a.x - b.x) > a.side * 1.01 or abs(a.y - b.y) > a.side * 1.01
    assert engine.phases(tiles, 1) == [list(range(len(tiles)))]
    assert len(engine.phases(tiles, 2)) == 2 and engine.phases(tiles[:1], 4) == [[0]]


def test_refinement_groups_pad_little_and_cover_every_tile():
    counts = [60, 5, 0, 58, 7, 30, 6, 61]
    groups = engine._groups(counts, 128)
    assert sorted(i for g in groups for i in g) == [0, 1, 3, 4, 5, 6, 7]  # every tile with strokes, once
    for g in groups:
        assert len(g) * counts[g[0]] <= 128 and counts[g[0]] == max(counts[i] for i in g)
    padded = sum(len(g) * counts[g[0]] for g in groups)
    assert padded < 1.2 * sum(counts) < len(counts) * max(counts)  # vs padding every tile to the largest
    assert engine._groups([500, 3], 128) == [[0], [1]]  # a tile above the size still gets its own group


def test_refinement_steps_are_capped_in_stroke_steps():
    """Small paintings keep their steps; a big one's passes share the stroke-step cap."""
    cfg = engine.PaintConfig()
    assert cfg.iterations("optimize", [65, 135]) == [120, 120]  # 128 px, 200 strokes: under the cap
    _, budgets = engine.plan(1280, 851, 4000)
    steps = cfg.iterations("optimize", budgets)
    assert steps == sorted(steps, reverse=True) and steps[-1] >= 1
    assert sum(n * b for n, b in zip(steps, budgets)) <= cfg.step_budget * 1.05
    assert engine.PaintConfig(refine=3).iterations("optimize", budgets) == [3] * len(budgets)  # --refine wins


def test_auto_method_follows_the_agents_measured_auto_steps():
    from strokepaint import agent

    actor = agent.load(get_brush("bezier"))[0]
    choose = lambda w, h, n, **kw: engine.choose_method(engine.PaintConfig(strokes=n, **kw), actor, w, h)  # noqa: E731
    # an agent whose strokes pay only with few refinement steps each (the line/circle/triangle agents)
    actor.cfg = dataclasses.replace(actor.cfg, auto_steps=30)
    assert choose(1280, 851, 4000) == "agent"  # 7 steps a stroke, finest tiles ~53 px
    assert choose(128, 128, 200) == "optimize"  # 140 steps a stroke
    assert choose(1024, 683, 1000) == "agent"  # 28 steps a stroke
    assert choose(1024, 683, 700) == "optimize"  # 40 steps a stroke
    assert choose(128, 128, 2000) == "optimize"  # tiles of 16 px: too small for the agent to see
    assert choose(1280, 851, 4000, refine=60) == "optimize"  # the user gives each stroke many steps
    # an agent whose strokes always pay (the shipped bezier agent's setting)
    actor.cfg = dataclasses.replace(actor.cfg, auto_steps=0)
    assert choose(128, 128, 200) == "agent"
    assert choose(128, 128, 2000) == "agent"
    assert choose(1280, 851, 4000, refine=60) == "agent"
    assert choose(4000, 3000, 20_000) == "agent"  # at any size (measured up to 12 MP)
    actor.cfg = dataclasses.replace(actor.cfg, auto_steps=30)
    assert choose(2000, 1500, 10_000) == "optimize"  # 3 MP: measured only for the agent whose strokes always pay
    for auto_steps in (0, 30):
        actor.cfg = dataclasses.replace(actor.cfg, auto_steps=auto_steps)
        assert choose(1280, 851, 4000, method="optimize") == "optimize"
    assert engine.choose_method(engine.PaintConfig(strokes=4000), None, 1280, 851) == "optimize"  # no agent
    with pytest.raises(ValueError, match="auto_steps"):
        dataclasses.replace(actor.cfg, auto_steps=-1)
    # the agent's strokes are refined under their own, smaller cap
    cfg = engine.PaintConfig(strokes=4000)
    budgets = engine.plan_for(cfg, actor, 1280, 851)[1]
    assert sum(n * b for n, b in zip(cfg.iterations("agent", budgets), budgets)) <= cfg.agent_step_budget * 1.1  # (rounded per pass)


def test_the_agent_paints_tiles_in_chunks_with_the_same_strokes(monkeypatch):
    tools = engine.Tools.load("bezier", "cpu")
    whole = engine.paint(_picture(96, 64), strokes=120, method="agent", refine=0, fit_colours=False, tools=tools)
    assert len(engine.plan_for(engine.PaintConfig(strokes=120), tools.actor, 96, 64)[0][-1]) > 3  # more tiles than a chunk
    monkeypatch.setattr(engine, "AGENT_CHUNK", 3)
    chunked = engine.paint(_picture(96, 64), strokes=120, method="agent", refine=0, fit_colours=False, tools=tools)
    assert torch.allclose(whole.strokes, chunked.strokes, atol=5e-4)  # (batch sizes round differently)


def test_heavy_work_flushes_denormals():
    from strokepaint import runtime

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    runtime.device("cpu")
    assert (torch.tensor([1e-30]) * 1e-10).item() == 0.0  # a denormal result becomes 0 (~5x faster arithmetic)


def test_windows_crop_and_units_map_back_to_the_picture():
    pic = _picture(40, 30)
    tiles = engine.tiles_for(40, 30, 30)
    win = engine.Windows.around(tiles, 0.0, 40, 30)
    crops = win.crop(pic, 30)
    assert torch.allclose(crops[0], pic[:, :, :30], atol=1e-5)  # an unscaled window is the picture itself
    brush = get_brush("circle")
    units = engine.Units(brush, engine.Windows.around(tiles, 0.25, 40, 30), 40, 30)
    s = torch.tensor([[[0.5, 0.5, 0.1, 1.0, 0.2, 0.3, 0.4]]]).repeat(len(tiles), 1, 1)
    assert torch.allclose(units.decode(units.encode(s)), s, atol=1e-3)
    pic_units = units.to_picture(s)
    assert pic_units[0, 0, 0] == pytest.approx(15 / 40) and pic_units[1, 0, 0] == pytest.approx(25 / 40)  # tile centres
    assert pic_units[0, 0, 2] == pytest.approx(0.1 * 45 / 40)  # radius: window side / longest side


def test_strokes_stay_on_the_picture():
    brush = get_brush("bezier")
    win = engine.Windows.around(engine.tiles_for(64, 64, 64), 0.125, 64, 64)
    units = engine.Units(brush, win, 64, 64)
    anything = units.to_picture(units.decode(torch.randn(1, 50, brush.n_params) * 10))
    assert anything.min() >= 0 and anything.max() <= 1


def test_paint_small_picture_improves_and_is_reproducible():
    target = _picture(48, 32)
    p = strokepaint.paint(target, strokes=12, refine=15, seed=3)
    again = strokepaint.paint(target, strokes=12, refine=15, seed=3)
    assert p.strokes.shape == (12, 13) and (p.width, p.height) == (48, 32)
    assert torch.equal(p.strokes, again.strokes) and p.png() == again.png()
    img = p.image()
    assert img.shape == (3, 32, 48)
    assert ((img - target) ** 2).mean() < ((1 - target) ** 2).mean() / 3  # far better than the blank canvas
    assert torch.equal(img, raster.render(p.brush, p.strokes, 48, 32))  # pixels come from the rasterizer
    assert sum(p.passes) == 12


def test_refinement_lowers_the_error():
    target = _picture(64, 64)
    errs = [float(((strokepaint.paint(target, strokes=20, refine=k).image() - target) ** 2).mean()) for k in (0, 30)]
    assert errs[1] < errs[0] * 0.8


def test_tiles_paint_a_wide_picture_in_global_coordinates():
    target = _picture(200, 60)
    p = engine.paint(target, strokes=40, refine=3, grid=2)
    assert len(p.passes) == 2 and sum(p.passes) == 40
    x = p.strokes[:, [0, 2, 4]]
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.6 and x.min() < 0.4  # strokes over the whole width


def test_every_brush_paints():
    target = _picture(32, 32)
    for name in ("line", "circle", "triangle"):
        p = engine.paint(target, strokes=5, brush=name, refine=2)
        assert p.strokes.shape == (5, get_brush(name).n_params)


def test_pil_input_and_files(tmp_path):
    img = Image.new("RGB", (20, 10), (200, 30, 30))
    p = engine.paint(img, strokes=3, refine=1)
    p.save_png(tmp_path / "p.png")
    p.save_svg(tmp_path / "p.svg")
    p.save_strokes(tmp_path / "p.strokes.json")
    p.save_gif(tmp_path / "p.gif", count=3)
    assert Image.open(tmp_path / "p.png").size == (20, 10)
    gif = Image.open(tmp_path / "p.gif")
    assert gif.n_frames == 4 and gif.size == (20, 10)  # blank canvas + 3 steps, the last held
    from strokepaint import strokefile

    assert strokefile.load(tmp_path / "p.strokes.json").tensor().shape == (3, 13)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strokes": 0}, "strokes"),
        ({"strokes": -5}, "strokes"),
        ({"strokes": 10**9}, "strokes"),
        ({"method": "magic"}, "method"),
        ({"brush": "nope"}, "unknown brush"),
        ({"grid": -1}, "grid"),
        ({"refine": 1.5}, "refine=1.5: give a whole number"),
        ({"grid": None}, "grid=None"),
        ({"seed": None}, "seed=None"),
        ({"strokes": True}, "strokes=True"),
        ({"brush": None}, "brush=None"),
        ({"image": None}, "image of type NoneType"),
        ({"image": b"bytes"}, "image of type bytes"),
        ({"image": torch.full((3, 4, 4), 2.0)}, "floats must be in"),
        ({"image": torch.full((3, 4, 4), float("nan"))}, "NaN"),
        ({"image": torch.zeros(3, 0, 5)}, "expected"),
        ({"image": np.zeros((4, 4, 2))}, "expected"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        engine.paint(**{"image": _picture(8, 8), "strokes": 5, "refine": 1, **kwargs})


def test_uint8_numpy_and_tensor_pictures_paint_like_floats():
    """0..255 pictures (uint8 tensors, numpy arrays) are read as such, not as floats over 1;
    numpy integers are whole numbers; the caller's denormal setting is left as it was."""
    torch.set_flush_denormal(False)  # (as in a fresh interpreter)
    target = _picture(24, 16)
    as_uint8 = (target * 255).round().to(torch.uint8)
    want = engine.paint(as_uint8.float() / 255, strokes=6, refine=1).image()
    assert torch.equal(engine.paint(as_uint8, strokes=np.int64(6), refine=1, device=torch.device("cpu")).image(), want)
    assert torch.equal(engine.paint(as_uint8.permute(1, 2, 0).numpy(), strokes=6, refine=1).image(), want)
    assert torch.tensor([1e-40]).item() != 0.0


def test_saving_checks_its_arguments(tmp_path):
    p = engine.paint(_picture(8, 8), strokes=2, refine=1)
    with pytest.raises(UsageError, match="ending in .png"):
        p.save_png(tmp_path / "p.jpg")
    with pytest.raises(UsageError, match="scale"):
        p.save_svg(tmp_path / "p.svg", scale=0)
    assert not list(tmp_path.iterdir())


def test_agent_method_with_a_user_trained_agent(tmp_path, monkeypatch):
    """A (tiny, barely trained) agent in the user's folder is found and paints tiles in bundles."""
    from strokepaint import store
    from strokepaint.agent import AgentConfig
    from strokepaint.renderer import load
    from strokepaint.train_agent import AgentTraining, train

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray((_picture(40, 40).permute(1, 2, 0).numpy() * 255).astype("uint8")).save(photos / "a.png")
    brush = get_brush("circle")
    out = store.user_dir() / store.filename("circle", "agent")
    cfg = AgentConfig(resolution=16, width=4, critic_width=4, stages=2, steps=4)
    tc = AgentTraining(envs=4, batch=8, replay=64, warmup=8, val_images=2, validate_every=2)
    train(brush, load(brush)[0], photos, out, updates=2, cfg=cfg, tc=tc)
    p = engine.paint(_picture(64, 48), strokes=30, brush="circle", refine=0, method="agent")
    assert p.method == "agent" and p.strokes.shape == (30, 7) and sum(p.passes) == 30
    q = engine.paint(_picture(64, 48), strokes=30, brush="circle", refine=2, method="optimize")
    assert q.method == "optimize"


def test_phases_follow_the_method_the_tile_count_and_overlaps(monkeypatch):
    """The agent's passes of few tiles that do not overlap are painted in one phase; overlapping
    tiles (a side that is no whole number of tiles) and `optimize`'s refined passes in four."""
    assert not engine._overlapping(engine.tiles_for(128, 128, 32))
    assert engine._overlapping(engine.tiles_for(128, 85, 42.5))
    calls: list[tuple[int, int]] = []
    real = engine.phases
    monkeypatch.setattr(engine, "phases", lambda tiles, k: calls.append((len(tiles), k)) or real(tiles, k))
    tools = engine.Tools.load("bezier", "cpu")

    def ks(width: int, height: int, method: str) -> list[tuple[int, int]]:
        calls.clear()
        engine.paint(_picture(width, height), strokes=40, method=method, refine=1, tools=tools)
        return list(calls)

    assert all(k == 1 for _, k in ks(64, 64, "agent"))
    assert any(k == 4 and n > 1 for n, k in ks(64, 43, "agent"))
    assert all(k == 4 for _, k in ks(64, 64, "optimize"))


def test_colour_fit_recovers_the_colours_of_a_painting():
    """Shapes fixed, colours unknown: the least-squares fit finds the painting's colours again."""
    from conftest import random_strokes

    brush = get_brush("circle")
    truth = random_strokes(brush, 20, seed=1)
    truth[:, 3] = 1.0  # opaque
    target = raster.render(brush, truth, 40, 40)
    guess = truth.clone()
    guess[:, -3:] = 0.5
    fitted = engine.fit_colours(brush, guess, target, (1.0, 1.0, 1.0))
    err = float(((raster.render(brush, fitted, 40, 40) - target) ** 2).mean())
    assert err < 1e-6 < float(((raster.render(brush, guess, 40, 40) - target) ** 2).mean())


@pytest.mark.parametrize("solver", ["direct", "conjugate gradients"])
def test_colour_fit_by_squares_matches_the_dense_least_squares(solver, monkeypatch):
    """The fit sums its normal equations over squares with the strokes that reach each: the
    same colours as the dense problem over every stroke and pixel (a size that is not a multiple
    of the squares or of the raster blocks, overlapping translucent strokes, a coloured background),
    solved directly or, as for big paintings, by conjugate gradients."""
    from conftest import random_strokes

    if solver != "direct":
        monkeypatch.setattr(engine, "FIT_DENSE", 0)

    brush = get_brush("bezier")
    strokes = random_strokes(brush, 60, seed=3)
    w, h, bg = 75, 46, (0.2, 0.5, 0.9)
    target = torch.rand(3, h, w, generator=torch.Generator().manual_seed(4))
    a = raster.rasterize(brush, strokes[:, : brush.n_geometry], w, h).reshape(60, -1).double()
    keep = torch.ones(61, w * h, dtype=torch.float64)
    for i in range(59, -1, -1):
        keep[i] = keep[i + 1] * (1 - a[i])
    weights = a * keep[1:]
    rest = target.reshape(3, -1).double() - torch.tensor(bg, dtype=torch.float64)[:, None] * keep[0]
    old = strokes[:, -3:].double()
    lam = 1e-4 * float(weights.pow(2).sum(1).mean()) + 1e-12
    dense = torch.linalg.solve(weights @ weights.T + lam * torch.eye(60, dtype=torch.float64), weights @ rest.T + lam * old).clamp(0, 1)
    fitted = engine.fit_colours(brush, strokes, target, bg)
    assert torch.allclose(fitted[:, -3:].double(), dense, atol=1e-5)
    assert torch.equal(fitted[:, :-3], strokes[:, :-3])


def test_painting_pixels_are_the_rasterizers_with_the_fits_alpha_maps_reused():
    """paint keeps the colour fit's alpha maps for the final pixels: exactly what rendering the
    stroke file again gives."""
    tools = engine.Tools.load("bezier", "cpu")
    p = engine.paint(_picture(70, 50), strokes=40, method="agent", refine=2, tools=tools)
    assert p._alpha is not None
    assert torch.equal(p.image(), raster.render(p.brush, p.strokes, 70, 50, p.background))
    q = engine.paint(_picture(70, 50), strokes=40, method="agent", refine=2, tools=tools)
    q.strokes = q.strokes[:10]  # strokes changed after painting: their own pixels, not the kept maps'
    assert torch.equal(q.image(), raster.render(q.brush, q.strokes, 70, 50, q.background))


def test_colour_fit_leaves_colours_when_it_cannot_sum(monkeypatch):
    """No stroke on the picture, or more overlaps than FIT_MAX_ENTRIES: the colours stay."""
    from conftest import random_strokes

    brush = get_brush("circle")
    strokes = random_strokes(brush, 30, seed=2)
    target = torch.rand(3, 20, 20)
    nothing = (torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), torch.zeros(0, 8, 8))
    assert torch.equal(engine.fit_colours(brush, strokes, target, (1.0, 1.0, 1.0), nothing), strokes)
    assert not torch.equal(engine.fit_colours(brush, strokes, target, (1.0, 1.0, 1.0)), strokes)
    monkeypatch.setattr(engine, "FIT_MAX_ENTRIES", 10)
    assert torch.equal(engine.fit_colours(brush, strokes, target, (1.0, 1.0, 1.0)), strokes)


@pytest.mark.parametrize("agent", [False, True])
def test_brush_without_renderer_or_agent_is_refused(monkeypatch, agent):
    """Neither, or an agent without the renderer it paints through: the renderer is named."""
    from strokepaint import store

    real = store.find
    keep = {"agent"} if agent else set()
    monkeypatch.setattr(store, "find", lambda brush, kind, explicit=None: real(brush, kind, explicit) if kind in keep else None)
    with pytest.raises(UsageError, match="no trained renderer; train one with `strokepaint train-brush circle`"):
        engine.Tools.load("circle")


def test_agent_method_without_an_agent_is_refused(monkeypatch):
    from strokepaint import store

    real = store.find
    monkeypatch.setattr(store, "find", lambda brush, kind, explicit=None: None if kind == "agent" else real(brush, kind, explicit))
    with pytest.raises(UsageError, match="no trained agent"):
        engine.paint(_picture(8, 8), strokes=5, refine=1, brush="circle", method="agent")


@pytest.mark.parametrize("brush", ["bezier", "line", "circle", "triangle"])
def test_shipped_agents_paint_far_better_than_one_colour(brush):
    """Each shipped agent alone (no refinement, no colour fit) on a picture it never saw
    (measured: 0.04 bezier, 0.03 line, 0.03 circle, 0.02 triangle of one colour's error)."""
    from strokepaint import store

    assert store.find(brush, "agent")[1] == "shipped"
    target = _picture(128, 128)
    p = engine.paint(target, strokes=200, brush=brush, method="agent", refine=0, fit_colours=False)
    flat = target.mean((1, 2), keepdim=True).expand_as(target)
    assert ((p.image() - target) ** 2).mean() < 0.3 * ((flat - target) ** 2).mean()


def test_reseed_moves_strokes_that_do_not_show_to_the_top():
    from strokepaint.engine import _reseed

    b = get_brush("bezier")
    n, m, r = 1, 4, 16
    alpha = torch.zeros(n, m, r, r)
    alpha[0, 0] = 1.0  # stroke 0 is wholly covered by strokes 1 and 2: it does not show
    alpha[0, 1, :4] = 1.0
    alpha[0, 2, 4:] = 1.0
    live = torch.tensor([[1.0, 1.0, 1.0, 0.0]])  # stroke 3 is padding
    z = torch.arange(n * m * b.n_params, dtype=torch.float32).view(n, m, -1) / 100
    low, span = torch.zeros(1, 1, b.n_params), torch.ones(1, 1, b.n_params)
    target, canvas, inside = torch.rand(n, 3, r, r), torch.ones(n, 3, r, r), torch.ones(n, 1, r, r)
    m1, m2 = torch.ones_like(z), torch.ones_like(z)
    gen = torch.Generator().manual_seed(0)
    z2, m1b, m2b = _reseed(z, m1, m2, low, span, alpha, canvas, target, inside, live, (b, [3], gen, (), 0.1))
    assert torch.equal(z2[0, :2], z[0, 1:3])  # the visible strokes keep their order, first
    assert not torch.equal(z2[0, 2], z[0, 0]) and torch.equal(m1b[0, 2], torch.zeros(b.n_params))  # anew, on top
    assert torch.equal(z2[0, 3], z[0, 3]) and torch.equal(m2b, m2)  # padding stays last


def test_windows_are_drawn_at_most_at_the_working_canvas_pixels(monkeypatch):
    """A window of fewer working-canvas px than `PaintConfig.resolution` is drawn at its own size
    (no finer than the picture it is compared with), never below `min_resolution`; larger ones
    at `resolution`."""
    sizes: list[tuple[float, int]] = []
    real = engine._paint_tiles

    def spy(brush, renderer, actor, cfg, method, win, tgt, *rest, **kw):
        sizes.append((float(win.side.max()), tgt.shape[-1]))
        return real(brush, renderer, actor, cfg, method, win, tgt, *rest, **kw)

    monkeypatch.setattr(engine, "_paint_tiles", spy)
    tools = engine.Tools.load("bezier", "cpu")
    engine.paint(_picture(128, 128), strokes=200, refine=1, tools=tools)  # tiles of 128, 64 and 32 px
    assert sizes == [(160.0, 80), (80.0, 80), (40.0, 40)]
    sizes.clear()
    engine.paint(_picture(5, 5), strokes=10, refine=1, tools=tools)
    assert sizes and all(r == engine.PaintConfig().min_resolution for _, r in sizes)


def test_the_colour_fit_uses_the_alpha_maps_drawn_while_painting(monkeypatch):
    """When the working canvas is the picture, the strokes' exact alpha maps are kept as each
    phase is drawn on it and joined for the colour fit: the same as drawing them all again."""
    from strokepaint import raster

    drawn, real = [], raster.alpha_blocks
    monkeypatch.setattr(raster, "alpha_blocks", lambda brush, g, *a, **kw: drawn.append(len(g)) or real(brush, g, *a, **kw))
    tools = engine.Tools.load("bezier", "cpu")
    p = engine.paint(_picture(96, 64), strokes=120, refine=1, tools=tools)
    monkeypatch.undo()
    assert len(p.passes) > 1 and len(drawn) > 2 and sum(drawn) == 120  # each stroke drawn once, in runs
    strokes, (sid, bid, alpha) = p._alpha
    want = raster.alpha_blocks(tools.brush, strokes[:, : tools.brush.n_geometry], 96, 64)
    assert torch.equal(sid, want[0]) and torch.equal(bid, want[1]) and torch.equal(alpha, want[2])
    # beyond the fit's bound on blocks, none are kept and there is no fit, as without keeping them
    monkeypatch.setattr(engine, "FIT_MAX_PAIRS", len(sid) // 2)
    over = engine.paint(_picture(96, 64), strokes=120, refine=1, tools=tools)
    plain = engine.paint(_picture(96, 64), strokes=120, refine=1, fit_colours=False, tools=tools)
    assert over._alpha is None and torch.equal(over.strokes, plain.strokes)


def test_painting_save_checks_everything_before_writing(tmp_path, monkeypatch):
    """Strokes edited out of range: refused before any file is written (not a PNG without its
    stroke file); a write that fails is one line, its temp file removed, the earlier file kept."""
    import os

    from strokepaint.errors import Failure

    p = engine.paint(Image.new("RGB", (20, 10), (200, 30, 30)), strokes=3, refine=1)
    p.strokes[0, 0] = 7.0
    with pytest.raises(UsageError, match=r"p.strokes.json \(not written\): stroke 0: x0 = 7 is outside"):
        p.save(tmp_path / "p.png", tmp_path / "p.strokes.json", tmp_path / "p.svg")
    assert not list(tmp_path.iterdir())
    p.strokes[0, 0] = 0.5
    for call, message in (
        (lambda: p.save(png=tmp_path / "r.png", svg=tmp_path / "r.png"), "r.png: this is SVG; give a name ending in .svg"),
        (lambda: p.save(svg=tmp_path / "q.png"), "give a name ending in .svg"),
        (lambda: p.save_gif(tmp_path / "s.svg"), "give a name ending in .gif"),
        (lambda: p.save_strokes(tmp_path / "s.txt"), "a stroke file is JSON"),
    ):
        with pytest.raises(UsageError, match=message):
            call()
    assert not list(tmp_path.iterdir())
    (tmp_path / "p.png").write_bytes(b"earlier")

    def refuse(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(Failure, match=r"p.png: cannot write \(Operation not permitted\)"):
        p.save_png(tmp_path / "p.png")
    assert [f.name for f in tmp_path.iterdir()] == ["p.png"] and (tmp_path / "p.png").read_bytes() == b"earlier"


def test_denormals_are_flushed_while_painting_with_loaded_tools(monkeypatch):
    """Tools loaded once for many pictures: each painting flushes denormals (5x faster alpha maps), then restores."""
    tools = engine.Tools.load("bezier", "cpu")
    before = engine._flushes_denormals()
    seen = []
    run = engine.run
    monkeypatch.setattr(engine, "run", lambda *a, **k: seen.append(engine._flushes_denormals()) or run(*a, **k))
    try:
        torch.set_flush_denormal(False)
        engine.paint(_picture(16, 16), strokes=5, refine=1, tools=tools)
        assert seen == [True] and not engine._flushes_denormals()
    finally:
        torch.set_flush_denormal(before)
