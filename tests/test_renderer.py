"""Neural renderers: training (tiny configs, a few steps), weights files, resume, DDP, bad input,
and the quality of the shipped renderers against the exact rasterizers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from strokepaint import store
from strokepaint.brush import Brush, Param
from strokepaint.errors import Failure, UsageError
from strokepaint.plugins import get_brush
from strokepaint.renderer import NeuralRenderer, RendererConfig
from strokepaint.train_renderer import TrainConfig, eval_set, fidelity, make_strokes, train

TINY_SETTINGS = "frame=8 channels=[8,4] hidden=16 pool_start=64 fresh=4 batch=8 val=16 calibrate=2 warmup=1 eval_strokes=64"
TINY = [arg for kv in TINY_SETTINGS.split() for arg in ("--set", kv)] + ["--threads", "1"]
TINY_MODEL = RendererConfig(frame=8, channels=(8, 4), hidden=16)
TINY_TRAIN = TrainConfig(pool_start=64, fresh=4, batch=8, val=16, calibrate=2, warmup=1, eval_strokes=64)


def test_renderer_shapes_and_gradients():
    b = get_brush("bezier")
    m = NeuralRenderer(b, TINY_MODEL)
    g = b.sample(5, torch.Generator().manual_seed(0)).requires_grad_(True)
    out = m(g)
    assert out.shape == (5, 128, 128) and float(out.detach().min()) >= 0 and float(out.detach().max()) <= 1
    out.sum().backward()
    assert g.grad is not None and torch.isfinite(g.grad).all() and g.grad.abs().sum() > 0


def test_frozen_decoder_matches_autograd():
    """Painting freezes the renderer; its decoder then takes the fast route (1x1 convs as matrix
    products, input gradients by flipped convolutions): the same maps and gradients as nn.Conv2d."""
    b = get_brush("bezier")
    m = NeuralRenderer(b, RendererConfig(frame=16, hidden=32, channels=(8, 4), last_kernel=1)).double()
    assert [c.kernel_size for c in m.decoder if isinstance(c, torch.nn.Conv2d)] == [(3, 3), (1, 1)]
    for p in m.parameters():
        p.requires_grad_(False)
    g = b.sample(6, torch.Generator().manual_seed(1)).double()
    feats = m.features(g, m.box(g)).requires_grad_(True)
    fast = m.frame(feats)
    z = m.mlp(feats).view(-1, m.cfg.channels[0], m.cfg.start, m.cfg.start)
    ref = torch.sigmoid(m.decoder(z))[:, 0]
    assert torch.allclose(fast, ref, atol=1e-12)
    w = torch.rand(fast.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    (a,) = torch.autograd.grad((fast * w).sum(), feats)
    (r,) = torch.autograd.grad((ref * w).sum(), feats)
    assert torch.allclose(a, r, atol=1e-10) and r.abs().sum() > 0


def test_train_writes_weights_with_metadata(tmp_path, cli):
    r = cli("train-brush", "circle", "--steps", "3", *TINY)
    assert r.returncode == 0, r.stderr
    out = store.user_dir() / "circle.renderer.safetensors"
    assert out.is_file() and "wrote" in r.stderr
    meta = store.load_weights(out, "renderer")[1]
    assert meta["brush"] == "circle" and meta["steps"] == "3" and meta["schema"] == get_brush("circle").schema_hash()
    assert RendererConfig.from_json(meta["config"]).frame == 8
    assert set(json.loads(meta["fidelity"])) == {"mse", "rel_l2", "strokes"}
    rows = {b["name"]: b for b in json.loads(cli("brushes", "--json").stdout)}
    assert rows["circle"]["renderer"] == str(out) and rows["circle"]["renderer_source"] == "user"
    r = cli("eval-brush", "circle", "--json", "--strokes", "64")
    result = json.loads(r.stdout)
    assert {"brush", "strokes", "mse", "rel_l2", "strokes_per_s"} <= set(result) and result["strokes"] == 64


def test_same_seed_same_weights(tmp_path, cli):
    outs = []
    for i, seed in enumerate(("5", "5", "6")):
        out = tmp_path / f"r{i}.safetensors"
        assert cli("train-brush", "line", "--steps", "2", "--seed", seed, "--out", str(out), *TINY).returncode == 0
        outs.append(load_file(out))
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])
    assert not all(torch.equal(outs[0][k], outs[2][k]) for k in outs[0])


def test_interrupt_then_resume(tmp_path):
    out = tmp_path / "c.safetensors"
    brush = get_brush("circle")

    def stop_at_2(step, total, info):
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(brush, out, steps=5, model_cfg=TINY_MODEL, train_cfg=TINY_TRAIN, progress=stop_at_2)
    assert not out.exists() and (tmp_path / "c.safetensors.ckpt").is_file()
    meta = train(brush, out, resume=True)
    assert meta["steps"] == "5" and out.is_file()
    with pytest.raises(UsageError, match="finished at 5 steps"):  # nothing left of its budget
        train(brush, out, resume=True)
    with pytest.raises(UsageError, match="above 5"):
        train(brush, out, resume=True, steps=5)
    assert train(brush, out, resume=True, steps=7)["steps"] == "7"  # on to a new total


def test_kill_keeps_a_checkpoint(tmp_path):
    out = tmp_path / "k.safetensors"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [sys.executable, "-m", "strokepaint", "train-brush", "circle", "--steps", "1000000", "--out", str(out), *TINY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(12)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "--resume" in err and (tmp_path / "k.safetensors.ckpt").is_file() and not out.exists()
    state = torch.load(tmp_path / "k.safetensors.ckpt", weights_only=True)
    assert state["step"] >= 1


def test_torchrun_two_processes_agree(tmp_path):
    out = tmp_path / "ddp.safetensors"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29533",
            "-m",
            "strokepaint",
            "train-brush",
            "circle",
            "--steps",
            "3",
            "--out",
            str(out),
            *TINY,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    meta = store.load_weights(out, "renderer")[1]
    sums = json.loads(meta["rank_checksums"])
    assert meta["world_size"] == "2" and len(sums) == 2 and sums[0] == sums[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["circle", "--minutes", "0"], "--minutes"),
        (["circle", "--minutes", "-3"], "--minutes"),
        (["circle", "--steps", "0"], "--steps"),
        (["circle", "--steps", "3", "--minutes", "2"], "not both"),
        (["no-such-brush"], "unknown brush"),
        (["circle", "--steps", "2", "--out", "/proc/strokepaint/x.safetensors"], "cannot"),
        (["circle", "--resume", "--out", "/tmp/strokepaint-none/x.safetensors"], "no checkpoint"),
        (["circle", "--set", "frame=7"], "--set"),
        (["circle", "--set", "nonsense=1"], "--set"),
        (["circle", "--set", "lr=abc"], "lr takes a number"),
        (["circle", "--set", "lr=-1"], "cannot be negative"),
        (["circle", "--set", "batch=0"], "batch"),
        (["circle", "--set", "batch=2.5"], "whole number"),
        (["circle", "--set", "channels=[8,x]"], "channels takes a list"),
        (["circle", "--steps", "2", "--out", "/tmp/strokepaint-none/picture.png"], "ending in .safetensors"),
        (["circle", "--set", "hidden=100000000"], "too large for memory"),
        (["circle", "--set", "fresh=100000"], "fresh"),
    ],
)
def test_train_bad_input(cli, args, message):
    r = cli("train-brush", *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr  # (no progress bar line)


def test_weights_are_checked(tmp_path, cli):
    circle = tmp_path / "circle.safetensors"
    assert cli("train-brush", "circle", "--steps", "1", "--out", str(circle), *TINY).returncode == 0
    r = cli("eval-brush", "line", "--renderer", str(circle))
    assert r.returncode == 2 and "made for brush 'circle'" in r.stderr
    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(circle.read_bytes()[:200])
    r = cli("eval-brush", "circle", "--renderer", str(truncated))
    assert r.returncode == 2 and "truncated" in r.stderr
    (tmp_path / "junk.safetensors").write_text("hello")
    assert "not a safetensors" in cli("eval-brush", "circle", "--renderer", str(tmp_path / "junk.safetensors")).stderr
    assert "no such weights file" in cli("eval-brush", "circle", "--renderer", str(tmp_path / "none")).stderr
    tensors, meta = store.load_weights(circle, "renderer")
    store.save_weights(tmp_path / "old.safetensors", tensors, {**meta, "brush_version": "0.1"})
    r = cli("eval-brush", "circle", "--renderer", str(tmp_path / "old.safetensors"))
    assert r.returncode == 2 and "version 0.1" in r.stderr


class _Broken(Brush):
    name, version = "broken", "1.0"
    geometry = (Param("x", "x", "x"), Param("y", "y", "y"))

    def __init__(self, mode: str):
        self.mode = mode

    def sample(self, n, gen):
        g = torch.rand(n, 2, generator=gen)
        return {"sample_shape": g[:, :1], "sample_nan": g * float("nan"), "sample_range": g * 3, "sample_list": g.tolist()}.get(
            self.mode, g
        )

    def bounds(self, g):
        b = torch.cat([g - 5, g + 5], 1)
        return {"bounds_shape": b[:, :2], "bounds_nan": b * float("nan")}.get(self.mode, b)

    def sdf(self, g, x, y):
        d = torch.hypot(x - g[:, :1], y - g[:, 1:]) - 3
        if self.mode == "nan":
            d = d * float("nan")
        if self.mode == "shape":
            d = d[:, :1]
        if self.mode == "raises":
            raise ZeroDivisionError("a bug in the plugin")
        return d, torch.ones_like(x)


@pytest.mark.parametrize(
    "mode, message",
    [
        ("nan", "NaN"),
        ("shape", "returned shape"),
        ("raises", r"brush 'broken': its sdf\(\) failed: ZeroDivisionError: a bug in the plugin"),
        ("sample_shape", r"its sample\(\) returned shape \(8, 1\), expected \(8, 2\)"),
        ("sample_nan", r"its sample\(\) returned NaN"),
        ("sample_range", r"its sample\(\) returned values outside the declared ranges of x, y"),
        ("sample_list", r"its sample\(\) returned shape list"),
        ("bounds_shape", r"its bounds\(\) returned shape \(8, 2\), expected \(8, 4\)"),
        ("bounds_nan", r"its bounds\(\) returned NaN"),
    ],
)
def test_broken_plugin_rasterizer_is_reported(mode, message):
    with pytest.raises(Failure, match=message):
        make_strokes(_Broken(mode), 8, torch.Generator().manual_seed(0), 32)


def test_a_sampler_in_float64_may_reach_its_bounds_exactly():
    """Bounds that float32 cannot hold (359.9) are compared in the sampler's own precision."""
    from strokepaint.brush import call

    class Dial(Brush):
        name, version = "dial", "1.0"
        geometry = (Param("ang", "value", "angle", 0.0, 359.9),)

        def sample(self, n, gen):
            return torch.full((n, 1), 359.9, dtype=torch.float64)

    assert call(Dial(), "sample", 4, torch.Generator()).dtype == torch.float64


@pytest.mark.parametrize("mode", ["sample_shape", "sample_nan", "bounds_shape", "bounds_nan"])
def test_broken_plugin_is_named_when_painting(mode):
    """Painting (optimisation seeds strokes from the brush's sampler) checks what the brush returns too."""
    from strokepaint.engine import PaintConfig, run

    brush = _Broken(mode)
    with pytest.raises(Failure, match=r"brush 'broken': its (sample|bounds)\(\) returned"):
        run(
            torch.rand(3, 16, 16),
            brush,
            NeuralRenderer(brush, RendererConfig(canvas=16, frame=8, hidden=8, channels=(4,))),
            PaintConfig(strokes=5, method="optimize", refine=1),
        )


def test_eval_without_renderer_is_a_clear_error(cli):
    r = cli("eval-brush", "triangle", "--renderer", "/nonexistent/x.safetensors")
    assert r.returncode == 2 and "no such weights file" in r.stderr


# ---- shipped renderers: quality against the exact rasterizer (the parity test) -----------------
SHIPPED = [b for b in ("bezier", "line", "circle", "triangle") if (store.shipped_dir() / store.filename(b, "renderer")).is_file()]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_renderer_quality(name, monkeypatch):
    from strokepaint import renderer as rnd

    model, meta, where = rnd.load(get_brush(name))
    assert where in ("shipped", "user")
    g, maps = eval_set(get_brush(name), model.cfg.canvas, 400)
    assert fidelity(model, g, maps)["rel_l2"] <= 0.03
    assert (store.shipped_dir() / store.filename(name, "renderer")).stat().st_size <= 16 * 2**20


def test_unknown_kind_of_weights_refused(tmp_path):
    store.save_weights(tmp_path / "a.safetensors", {"x": torch.zeros(1)}, {"kind": "agent"})
    with pytest.raises(UsageError, match="not renderer weights"):
        store.load_weights(tmp_path / "a.safetensors", "renderer")


def test_every_builtin_has_a_shipped_renderer():
    assert SHIPPED == ["bezier", "line", "circle", "triangle"], f"shipped: {SHIPPED}"


@pytest.mark.parametrize("setting", [{"canvas": 0}, {"hidden": 0}, {"min_box": 0.0}, {"last_kernel": 2}])
def test_renderer_settings_out_of_range_are_refused(setting):
    with pytest.raises(ValueError, match="canvas is at least 16 px"):
        RendererConfig(**setting)


def test_weights_with_nan_are_neither_written_nor_loaded(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(Failure, match=r"not written: its weights hold NaN or infinite numbers \(w\)"):
        store.save_weights(tmp_path / "a.safetensors", {"w": torch.tensor([1.0, float("nan")])}, {"kind": "renderer"})
    assert not (tmp_path / "a.safetensors").exists()
    save_file(
        {"w": torch.tensor([float("inf")])},
        tmp_path / "b.safetensors",
        metadata={"kind": "renderer", "format_version": store.FORMAT_VERSION},
    )
    with pytest.raises(UsageError, match=r"b.safetensors: its weights hold NaN or infinite numbers \(w\)"):
        store.load_weights(tmp_path / "b.safetensors", "renderer")
    with pytest.raises(Failure, match=r"c.ckpt not written: the weights hold NaN or infinite numbers \(w\)"):
        store.save_checkpoint(tmp_path / "c.ckpt", {"model": {"w": torch.tensor([float("nan")])}, "step": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.safetensors"]


@pytest.mark.parametrize("channels", [(), (8, 0)])
def test_renderer_needs_channels(channels):
    with pytest.raises(ValueError, match="at least one channel count, each at least 1"):
        RendererConfig(frame=8, channels=channels)


def test_diverged_renderer_training_stops_and_writes_nothing(tmp_path, monkeypatch):
    brush = get_brush("circle")
    forward = NeuralRenderer.forward
    monkeypatch.setattr(NeuralRenderer, "forward", lambda self, *a, **k: forward(self, *a, **k) * float("nan"))
    with pytest.raises(Failure, match="training diverged at step 1 .*nothing written"):
        train(brush, tmp_path / "r.safetensors", steps=3, model_cfg=TINY_MODEL, train_cfg=TINY_TRAIN)
    assert not (tmp_path / "r.safetensors").exists()


def test_training_too_big_for_memory_is_refused_before_anything_is_written(tmp_path):
    """By train() itself (API callers too), not only by the CLI; the SIGTERM handler is left as it was."""
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(UsageError, match="too large for memory"):
        train(get_brush("line"), tmp_path / "r.safetensors", steps=1, model_cfg=TINY_MODEL, train_cfg=TrainConfig(pool=10**9))
    assert not list(tmp_path.iterdir()) and signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("setting", [{"fresh": -1}, {"fresh": 70_000}])
def test_fresh_strokes_per_step_within_the_pool(setting, tmp_path):
    with pytest.raises(ValueError, match="fresh"):
        TrainConfig(**setting)
    changed = TrainConfig()
    changed.fresh = setting["fresh"]  # after it was made: train() checks it again
    with pytest.raises(UsageError, match="TrainConfig: fresh"):
        train(get_brush("line"), tmp_path / "r.safetensors", steps=1, model_cfg=TINY_MODEL, train_cfg=changed)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("setting", [{"fresh": 5000}, {"val": 600_000}, {"eval_strokes": 600_000}])
def test_every_set_of_exact_maps_counts_towards_memory(setting):
    """fresh strokes are rasterized at once each step; validation and evaluation maps are kept."""
    from strokepaint.train_renderer import check_memory

    with pytest.raises(UsageError, match="too large for memory"):
        check_memory(RendererConfig(), TrainConfig(**setting))
    check_memory(RendererConfig(), TrainConfig())  # the defaults fit


@pytest.mark.parametrize("setting", [{"frame": 98304}, {"hidden": 100_000_000}])
def test_a_renderer_too_large_for_memory_is_refused(setting):
    from strokepaint.train_renderer import check_memory

    with pytest.raises(UsageError, match="renderer too large for memory"):
        check_memory(RendererConfig(**setting), TrainConfig())
