"""The agent's training loop (model-based DDPG) runs end to end with tiny networks, for both
rewards, and writes actor weights with their configuration. (Groundwork for the agent issue: no
shipped agent and no command yet.)"""

import dataclasses
import json
import math

import pytest
import torch
from PIL import Image

from strokepaint import store
from strokepaint.agent import Actor, AgentConfig, Critic, Discriminator, act, decode, observe, paint_bundle, update_settings
from strokepaint.errors import UsageError
from strokepaint.plugins import get_brush
from strokepaint.renderer import NeuralRenderer, RendererConfig
from strokepaint.train_agent import VAL_SEED, AgentTraining, Targets, init_chain, train

TINY = AgentConfig(resolution=16, width=4, stages=2, steps=4)
TINY_RENDERER = RendererConfig(frame=8, channels=(8, 4), hidden=16)


def _photos(folder, n=3):
    folder.mkdir()
    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        a = (torch.rand(30 + i, 40, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(a).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_text("not an image")
    return folder


def test_shapes():
    cfg = AgentConfig(resolution=32, width=8, stages=3, params=13)
    obs = observe(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.tensor([0, 3]), cfg.steps)
    assert obs.shape == (2, 9, 32, 32)
    assert Actor(cfg)(obs).shape == (2, 5, 13)
    assert Critic(cfg)(obs).shape == (2,)
    assert Discriminator(cfg)(obs[:, :3], obs[:, 3:6]).shape == (2,)


def test_actions_paint_through_the_renderer():
    b = get_brush("circle")
    rnd = NeuralRenderer(b, TINY_RENDERER)
    a = torch.rand(2, 5, b.n_params, requires_grad=True)
    canvas, _ = paint_bundle(rnd, torch.ones(2, 3, 16, 16), decode(b, a))
    assert canvas.shape == (2, 3, 16, 16)
    canvas.sum().backward()
    assert a.grad.abs().sum() > 0  # the actor learns through the renderer


def test_act_stops_each_target_at_its_own_count_of_actions():
    """Per-target counts: a target's actions are those it gets painting alone for that many, its
    later strokes are padding (0.5) and a target given none keeps its canvas; the caller's canvas
    is not painted on."""
    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    torch.manual_seed(0)
    actor = Actor(dataclasses.replace(TINY, params=b.n_params))
    target, canvas = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    given = canvas.clone()
    painted, strokes = act(actor, rnd, b, target, [2, 1, 0], canvas=canvas)
    assert torch.equal(canvas, given) and torch.equal(painted[2], given[2])
    k = TINY.bundle
    assert strokes.shape == (3, 2 * k, b.n_params)
    for i, n in ((0, 2), (1, 1)):
        alone_canvas, alone = act(actor, rnd, b, target[i : i + 1], n, canvas=given[i : i + 1])
        assert torch.allclose(strokes[i, : n * k], alone[0], atol=1e-5)
        assert torch.allclose(painted[i], alone_canvas[0], atol=1e-5)
    assert (strokes[1, k:] == 0.5).all() and (strokes[2] == 0.5).all()


def test_fitted_colours_are_the_strokes_returned_and_the_actor_learns_through_them():
    """colours `fit`: the strokes come back in the colours they were painted in, and the geometry
    still gets a gradient (through the renderer and through the colour formula)."""
    b = get_brush("circle")
    rnd = NeuralRenderer(b, TINY_RENDERER)
    a = torch.rand(2, 5, b.n_params, requires_grad=True)
    target = torch.rand(2, 3, 16, 16)
    canvas, strokes = paint_bundle(rnd, torch.ones(2, 3, 16, 16), decode(b, a), target)
    again, _ = paint_bundle(rnd, torch.ones(2, 3, 16, 16), strokes.detach())
    assert torch.allclose(canvas, again, atol=1e-6)
    assert not torch.allclose(strokes[..., b.n_geometry :], decode(b, a)[..., b.n_geometry :])
    ((canvas - target) ** 2).sum().backward()
    assert a.grad[..., : b.n_geometry].abs().sum() > 0


@pytest.mark.parametrize("reward, colours", [("wgan", "actor"), ("l2", "actor"), ("log", "fit")])
def test_training_loop_runs(tmp_path, reward, colours):
    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    out = tmp_path / "agent.safetensors"
    seen = []
    meta = train(
        b,
        rnd,
        _photos(tmp_path / "photos"),
        out,
        updates=4,
        cfg=dataclasses.replace(TINY, colours=colours),
        tc=AgentTraining(envs=4, batch=8, replay=64, warmup=8, reward=reward, val_images=4, validate_every=2),
        progress=lambda u, total, info: seen.append(info),
    )
    assert meta["updates"] == "4" and len(seen) == 4
    tensors, stored = store.load_weights(out, "agent")
    assert json.loads(stored["config"])["params"] == 13
    assert json.loads(stored["config"])["colours"] == colours
    history = json.loads(stored["history"])
    assert [h["update"] for h in history] == [0, 2, 4] and all(h["val_mse"] > 0 for h in history)
    assert all(torch.isfinite(t).all() for t in tensors.values())


def test_the_written_actor_is_the_best_validated_one_and_resume_keeps_it(tmp_path):
    import random

    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    photos, out = _photos(tmp_path / "photos"), tmp_path / "agent.safetensors"
    tc = AgentTraining(envs=4, batch=8, replay=64, warmup=8, val_images=4, validate_every=1, lr_actor=0.05, average=0.3)
    train(b, rnd, photos, out, updates=4, cfg=TINY, tc=tc)
    train(b, rnd, photos, out, updates=4, resume=True)  # the best may come from either run
    tensors, meta = store.load_weights(out, "agent")
    history = json.loads(meta["history"])
    # every validation scores the actor, its target copy and its running average; val_mse is the best
    assert all(h["val_mse"] == min(h["val_actor"], h["val_target"], h["val_average"]) for h in history)
    best = min(history, key=lambda h: h["val_mse"])
    assert float(meta["val_mse"]) == pytest.approx(best["val_mse"], abs=1e-6)
    assert int(meta["actor_update"]) == best["update"]
    assert best[f"val_{meta['actor_source']}"] == best["val_mse"]
    actor = Actor(AgentConfig.from_json(meta["config"]))
    actor.load_state_dict(tensors)
    val = Targets(photos, TINY.resolution, random.Random(0)).sample(4, random.Random(VAL_SEED))
    painted, _ = act(actor, rnd, b, val, TINY.steps)
    assert float(((painted - val) ** 2).mean()) == pytest.approx(best["val_mse"], rel=1e-4)


def test_an_interrupted_run_writes_the_agent_so_far_and_a_checkpoint_to_resume(tmp_path):
    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    photos, out = _photos(tmp_path / "photos"), tmp_path / "agent.safetensors"
    tc = AgentTraining(envs=4, batch=8, replay=64, warmup=8, val_images=4, validate_every=2)

    def stop_at_3(update, total, info):
        if update == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(b, rnd, photos, out, updates=10, cfg=TINY, tc=tc, progress=stop_at_3)
    _, meta = store.load_weights(out, "agent")
    assert meta["updates"] == "3" and [h["update"] for h in json.loads(meta["history"])] == [0, 2, 3]
    meta = train(b, rnd, photos, out, updates=2, resume=True)
    assert meta["updates"] == "5"


def test_ctrl_c_again_while_the_interrupted_run_is_written_is_ignored(tmp_path, monkeypatch):
    """Impatient users press Ctrl-C several times: the second one (here while the checkpoint is
    written) must not cut the writing short, and Ctrl-C works again afterwards."""
    import os
    import signal

    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    photos, out = _photos(tmp_path / "photos"), tmp_path / "agent.safetensors"
    tc = AgentTraining(envs=4, batch=8, replay=64, warmup=8, val_images=4, validate_every=2)
    real_save = store.save_checkpoint
    stopping = {"now": False}

    def impatient(path, state):
        if stopping["now"]:
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, delivered at once
        return real_save(path, state)

    def stop_at_3(update, total, info):
        if update == 3:
            stopping["now"] = True
            raise KeyboardInterrupt

    monkeypatch.setattr(store, "save_checkpoint", impatient)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)  # (as in a terminal; a background job ignores it)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(b, rnd, photos, out, updates=10, cfg=TINY, tc=tc, progress=stop_at_3)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)
    assert store.load_weights(out, "agent")[1]["updates"] == "3" and store.checkpoint_path(out).is_file()


def test_a_run_interrupted_before_its_first_update_writes_no_agent(tmp_path, monkeypatch):
    """An untrained actor must not replace the agent at --out (by default the one paint uses)."""
    from strokepaint.train_agent import Learner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Learner, "update", interrupted)
    b = get_brush("bezier")
    out = tmp_path / "agent.safetensors"
    tc = AgentTraining(envs=4, batch=8, replay=64, warmup=8, val_images=4, validate_every=2)
    with pytest.raises(KeyboardInterrupt):
        train(b, NeuralRenderer(b, TINY_RENDERER).eval(), _photos(tmp_path / "photos"), out, updates=10, cfg=TINY, tc=tc)
    assert not out.exists() and store.checkpoint_path(out).is_file()


def test_a_checkpoint_of_the_other_training_or_brush_is_refused(tmp_path):
    b = get_brush("circle")
    store.save_checkpoint(tmp_path / "r.ckpt", {"model_cfg": "{}", "brush": "circle", "schema": b.schema_hash()})
    with pytest.raises(UsageError, match="checkpoint of renderer training .*train-brush"):
        store.load_checkpoint(tmp_path / "r.ckpt", b, "agent")
    store.save_checkpoint(tmp_path / "a.ckpt", {"learner": {}, "brush": "line", "schema": "x"})
    with pytest.raises(UsageError, match="checkpoint of brush 'line', not 'circle'"):
        store.load_checkpoint(tmp_path / "a.ckpt", b, "agent")


@pytest.mark.parametrize("setting", [{"resolution": 0}, {"resolution": 24}, {"width": 0}, {"stages": 0}, {"bundle": 0}, {"steps": 0}])
def test_network_settings_out_of_range_are_refused(setting):
    with pytest.raises(ValueError, match="at least 1"):
        AgentConfig(**setting)


def test_no_readable_images(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.jpg").write_text("nope")
    with pytest.raises(UsageError, match="no readable images"):
        Targets(tmp_path / "empty", 16, __import__("random").Random(0))


def test_log_reward_is_the_relative_drop_in_squared_error():
    from strokepaint.train_agent import LOG_FLOOR, Learner

    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER)
    target = torch.zeros(2, 3, 4, 4)
    before, after = torch.full_like(target, 0.2), torch.full_like(target, 0.1)  # squared error 0.04 -> 0.01
    rewards = {r: Learner(b, rnd, TINY, AgentTraining(reward=r)).reward(before, after, target, None) for r in ("l2", "log")}
    assert torch.allclose(rewards["l2"], torch.tensor([0.03, 0.03]))
    expected = math.log(0.04 + LOG_FLOOR) - math.log(0.01 + LOG_FLOOR)
    assert torch.allclose(rewards["log"], torch.tensor([expected] * 2))


def test_config_round_trips_and_older_agents_keep_their_tile_settings():
    cfg = AgentConfig(steps=10, tile_steps=3, later_step=2)
    assert AgentConfig.from_json(cfg.to_json()) == cfg
    old = json.loads(AgentConfig(steps=40).to_json())
    del old["tile_steps"], old["later_step"]  # written before the engine read them: 1/8 of the episode
    back = AgentConfig.from_json(json.dumps(old))
    assert (back.tile_steps, back.later_step) == (5, 5)


def test_settings_measured_after_training_are_written_into_the_agent_file(tmp_path):
    """`update_settings` (agent_tiles.py and auto_method.py --write): config fields replaced and
    checked, metadata entries set, the weights kept."""
    b = get_brush("bezier")
    actor = Actor(dataclasses.replace(TINY, params=b.n_params))
    path = tmp_path / "a.agent.safetensors"
    store.save_weights(path, actor.state_dict(), {"kind": "agent", "brush": b.name, "config": actor.cfg.to_json()})
    update_settings(path, {"tile_steps": 3, "auto_steps": 0}, tiles_measured="{}")
    tensors, meta = store.load_weights(path, "agent")
    cfg = AgentConfig.from_json(meta["config"])
    assert (cfg.tile_steps, cfg.auto_steps, cfg.width) == (3, 0, TINY.width) and meta["tiles_measured"] == "{}"
    assert all(torch.equal(tensors[k], v) for k, v in actor.state_dict().items())
    with pytest.raises(UsageError, match="cannot be updated"):
        update_settings(path, {"auto_steps": -1})


def test_the_finest_agent_tiles_get_tile_steps_actions():
    from strokepaint.engine import PaintConfig, plan_for

    finest = {}
    for tile_steps in (2, 10):
        actor = Actor(AgentConfig(resolution=16, width=4, steps=10, tile_steps=tile_steps))
        passes, budgets = plan_for(PaintConfig(strokes=400), actor, 128, 128)
        assert budgets[-1] / len(passes[-1]) <= 2 * tile_steps * actor.cfg.bundle
        finest[tile_steps] = len(passes[-1])
    assert finest[2] > finest[10]


def _smooth_photos(folder, n=2, size=(160, 200)):
    folder.mkdir()
    gen = torch.Generator().manual_seed(1)
    for i in range(n):
        small = torch.rand(1, 3, 6, 8, generator=gen)
        a = torch.nn.functional.interpolate(small, size=size, mode="bicubic", align_corners=False)[0].clamp(0, 1)
        Image.fromarray((a.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()).save(folder / f"{i}.png")
    return folder


def test_zoom_is_a_tile_of_the_crop_with_its_painted_part_enlarged(tmp_path):
    """`zoom` (the coarse-to-fine curriculum): on a canvas that *is* its target, the enlarged part
    matches the new target, mirrored crops included, and a shifted part does not."""
    import random

    from strokepaint.train_agent import ZOOM_MIN_SIDE

    t = Targets(_smooth_photos(tmp_path / "photos"), 32, random.Random(0))
    gen, aligned, shifted, flips = random.Random(3), [], [], set()
    for _ in range(40):
        crops, (box,) = t.sample_boxes(1)
        z = t.zoom(box, crops[0], gen)
        if box.side // 2 < ZOOM_MIN_SIDE:
            assert z is None
            continue
        target, part, sub = z
        assert sub.side == box.side // 2 and sub.depth == box.depth + 1 and sub.flip == box.flip
        assert box.x <= sub.x <= box.x + box.side - sub.side and box.y <= sub.y <= box.y + box.side - sub.side
        aligned.append(float(((target - part) ** 2).mean()))
        shifted.append(float(((target - part.roll(3, 2)) ** 2).mean()))
        flips.add(box.flip)
    assert flips == {False, True} and len(aligned) > 20
    assert sum(aligned) < 0.2 * sum(shifted)


def test_training_with_zoom_runs(tmp_path):
    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    out = tmp_path / "agent.safetensors"
    tc = AgentTraining(envs=4, batch=8, replay=64, warmup=8, val_images=4, validate_every=2, zoom=1.0)
    meta = train(b, rnd, _smooth_photos(tmp_path / "photos"), out, updates=12, cfg=TINY, tc=tc)
    assert meta["updates"] == "12" and json.loads(meta["training"])["zoom"] == 1.0
    tensors, _ = store.load_weights(out, "agent")
    assert all(torch.isfinite(t).all() for t in tensors.values())


def test_anneal_lowers_the_learning_rates_on_a_cosine_to_a_tenth():
    from strokepaint.train_agent import Learner

    b = get_brush("circle")
    rnd = NeuralRenderer(b, TINY_RENDERER)
    tc = AgentTraining(anneal=100, lr_actor=1e-3, lr_critic=2e-3)
    learner = Learner(b, rnd, dataclasses.replace(TINY, params=b.n_params), tc)
    seen = []
    for done in (0, 50, 100, 500):
        learner.anneal(done)
        seen.append((learner.opt_a.param_groups[0]["lr"], learner.opt_c.param_groups[0]["lr"]))
    assert seen[0] == pytest.approx((1e-3, 2e-3))
    assert seen[1] == pytest.approx((0.55e-3, 1.1e-3))
    assert seen[2] == pytest.approx((1e-4, 2e-4)) and seen[3] == seen[2]


_RANGE = "zoom is a probability"
_IMITATE = "imitate is a weight"


@pytest.mark.parametrize(
    "setting, message",
    [({"zoom": 1.5}, _RANGE), ({"zoom": -0.1}, _RANGE), ({"anneal": -1}, _RANGE), ({"zoom_depth": -1}, _RANGE)]
    + [({"average": -1.0}, _RANGE), ({"average": 2.0}, _RANGE), ({"lookahead": 0}, _RANGE), ({"background": 5.0}, "grey level")]
    + [({"imitate": -1.0}, _IMITATE), ({"imitate_steps": 0}, _IMITATE), ({"imitate_lr": 0.0}, _IMITATE), ({"critic_warmup": -1}, _IMITATE)],
)
def test_training_settings_out_of_range_are_refused(setting, message):
    """By the config itself (`--set` turns its message into a one-line error: test_train_agent_cli)."""
    with pytest.raises(ValueError, match=message):
        AgentTraining(**setting)


def test_training_too_big_for_memory_is_refused_before_anything_is_written(tmp_path):
    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    with pytest.raises(UsageError, match="too large for memory"):
        train(b, rnd, tmp_path, tmp_path / "a.safetensors", updates=1, cfg=TINY, tc=AgentTraining(batch=10**7, replay=10**7))
    with pytest.raises(UsageError, match="val_images"):  # (the fixed validation crops are painted at once)
        train(b, rnd, tmp_path, tmp_path / "a.safetensors", updates=1, cfg=TINY, tc=AgentTraining(val_images=10**7))
    changed = AgentTraining()
    changed.zoom = 3.0  # after it was made: train() checks it again
    with pytest.raises(UsageError, match="zoom is a probability"):
        train(b, rnd, tmp_path, tmp_path / "a.safetensors", updates=1, cfg=TINY, tc=changed)
    assert not list(tmp_path.iterdir())


def test_lookahead_objective_is_the_discounted_rewards_then_the_critic():
    """`lookahead` n: the actor's objective r_0 + gamma r_1 + ... + gamma^n V(s_n), each action the
    actor's own from the canvas the previous one left; n = 1 is the paper's r + gamma V(s'); the
    episode's last action has no future."""
    from strokepaint.train_agent import Learner

    b = get_brush("circle")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    cfg = dataclasses.replace(TINY, params=b.n_params)
    torch.manual_seed(0)
    learner = Learner(b, rnd, cfg, AgentTraining(reward="l2", lookahead=2))
    learner.actor.eval()  # the same actions in both computations (BN statistics fixed)
    canvas, target = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    step = torch.tensor([0, cfg.steps - 2, cfg.steps - 1])
    g = learner.tc.gamma
    with torch.no_grad():
        q, a = learner.objective(canvas, target, step)
        assert torch.equal(a, learner.actor(observe(canvas, target, step, cfg.steps)))  # the first actions
        s1, _ = paint_bundle(rnd, canvas, decode(b, learner.actor(observe(canvas, target, step, cfg.steps))), target)
        s2, _ = paint_bundle(rnd, s1, decode(b, learner.actor(observe(s1, target, step + 1, cfg.steps))), target)
        r0, r1 = learner.reward(canvas, s1, target, None), learner.reward(s1, s2, target, None)
        v2 = learner.critic(observe(s2, target, step + 2, cfg.steps))
        v1 = learner.critic(observe(s1, target, step + 1, cfg.steps))
        expect = torch.stack([r0[0] + g * r1[0] + g**2 * v2[0], r0[1] + g * r1[1], r0[2]])
        assert torch.allclose(q, expect, atol=1e-6)
        learner.tc.lookahead = 1
        assert torch.allclose(learner.objective(canvas, target, step)[0], r0 + g * v1 * (step + 1 < cfg.steps), atol=1e-6)
    assert r1.abs().min() > 0  # the second action painted something: the sums above differ


def test_improved_actions_score_higher_and_the_actor_learns_towards_them():
    """`imitate`: a few Adam steps on the actions' logits raise r + gamma V(s'); an update with
    imitation reports how far the actor's logits were from them and changes the actor."""
    from strokepaint.train_agent import Learner

    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    torch.manual_seed(0)
    learner = Learner(b, rnd, TINY, AgentTraining(reward="l2", imitate=1.0, imitate_steps=5))
    canvas, target, step = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    learner.actor.eval()
    with torch.no_grad():
        a = learner.actor(observe(canvas, target, step, TINY.steps))
    for m in (learner.critic, learner.disc_t):
        m.requires_grad_(False)
    goal = learner.improved(canvas, target, step, a)
    with torch.no_grad():
        before = learner.action_value(canvas, target, step, a)
        after = learner.action_value(canvas, target, step, torch.sigmoid(goal))
    assert after.sum() > before.sum() and not torch.equal(goal, torch.logit(a, 1e-4))
    for m in (learner.critic, learner.disc_t):
        m.requires_grad_(True)
    old = [p.detach().clone() for p in learner.actor.parameters()]
    info = learner.update((canvas, canvas, target, step))
    assert info["imitation"] > 0 and math.isfinite(info["q"])
    assert any(not torch.equal(p, q) for p, q in zip(learner.actor.parameters(), old))


def test_a_run_from_another_agent_starts_from_its_actor_and_first_trains_the_critic_alone(tmp_path):
    """`init`: the actor (and its copies) start as the given agent, with its network settings;
    for `critic_warmup` updates only the critic and D learn; the metadata says where it started."""
    b = get_brush("bezier")
    rnd = NeuralRenderer(b, TINY_RENDERER).eval()
    photos = _photos(tmp_path / "photos")
    tc = AgentTraining(envs=4, batch=8, replay=64, warmup=8, val_images=4, validate_every=2)
    first = tmp_path / "first.agent.safetensors"
    train(b, rnd, photos, first, updates=2, cfg=TINY, tc=tc)
    start, _ = store.load_weights(first, "agent")
    wider = dataclasses.replace(TINY, width=8)  # the caller's networks; the agent's win
    out = tmp_path / "second.agent.safetensors"
    meta = train(b, rnd, photos, out, updates=3, cfg=wider, tc=dataclasses.replace(tc, critic_warmup=3), init=first)
    tensors, _ = store.load_weights(out, "agent")
    assert json.loads(meta["config"])["width"] == TINY.width
    assert tensors.keys() == start.keys() and all(torch.equal(tensors[k], start[k]) for k in start)  # the actor waited
    init = json.loads(meta["init"])
    assert init["file"] == first.name and init["updates"] == "2"
    ckpt = store.load_checkpoint(store.checkpoint_path(out), b, "agent")
    assert json.loads(ckpt["init"])["file"] == first.name  # a resumed run still knows
    meta = train(b, rnd, photos, out, updates=2, resume=True)  # past the warm-up: now the actor learns
    ckpt = store.load_checkpoint(store.checkpoint_path(out), b, "agent")
    assert any(not torch.equal(ckpt["learner"]["actor"][k], start[k]) for k in start)
    assert json.loads(meta["init"])["file"] == first.name
    other_bundle = dataclasses.replace(TINY, bundle=2, steps=10)  # 20 strokes: the starting agent's 4 bundles of 5
    meta = train(b, rnd, photos, tmp_path / "b2.agent.safetensors", updates=1, cfg=other_bundle, tc=tc, init=first)
    assert (json.loads(meta["config"])["bundle"], json.loads(meta["config"])["steps"]) == (5, 4)
    with pytest.raises(UsageError, match="multiple of the starting agent's bundle size 5"):
        train(b, rnd, photos, tmp_path / "b3.agent.safetensors", updates=1, cfg=dataclasses.replace(TINY, bundle=2, steps=3), init=first)
    third = tmp_path / "third.agent.safetensors"  # a chain: its training time adds up over both
    meta3 = train(b, rnd, photos, third, updates=1, tc=tc, init=out)
    first_meta, second_meta = store.load_weights(first, "agent")[1], store.load_weights(out, "agent")[1]
    files, seconds = init_chain(meta3)
    assert files == [out.name, first.name]
    assert seconds == pytest.approx(float(first_meta["train_seconds"]) + float(second_meta["train_seconds"]))
    assert init_chain({"init": "{not json"}) == ([], 0.0) and init_chain({}) == ([], 0.0)
