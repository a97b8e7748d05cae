"""`strokepaint train-agent` as a user runs it: tiny settings, a few updates."""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

from strokepaint import store

TINY = [
    "--strokes", "20",
    "--set", "resolution=16", "--set", "width=4", "--set", "critic_width=4", "--set", "stages=2",
    "--set", "envs=4", "--set", "batch=8", "--set", "replay=64", "--set", "warmup=8",
    "--set", "val_images=4", "--set", "validate_every=2",
]  # fmt: skip


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    for i in range(3):
        a = (torch.rand(40, 50 + i, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(a).save(folder / ("sub" if i else ".") / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def test_train_writes_agent_log_and_curve_then_resumes(cli, tmp_path, photos):
    out = tmp_path / "a.agent.safetensors"
    r = cli("train-agent", "--brush", "circle", "--data", str(photos), "--updates", "4", "--out", str(out), *TINY)
    assert r.returncode == 0, r.stderr
    assert "warning: --data" in r.stderr and "1 of 4 image files left out" in r.stderr and "broken.jpg" in r.stderr
    meta = store.load_weights(out, "agent")[1]
    assert meta["updates"] == "4" and meta["brush"] == "circle"
    assert json.loads(meta["config"])["steps"] == 4  # 20 strokes = 4 bundles of 5
    assert (tmp_path / "a.agent.safetensors.log.jsonl").read_text().count("\n") == 3  # updates 0, 2, 4
    assert (tmp_path / "a.agent.safetensors.curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = cli("train-agent", "--brush", "circle", "--data", str(photos), "--updates", "2", "--out", str(out), "--resume", "--reward", "wgan")
    assert r.returncode == 0, r.stderr
    assert "--reward is ignored with --resume" in r.stderr
    meta = store.load_weights(out, "agent")[1]
    assert meta["updates"] == "6" and json.loads(meta["training"])["reward"] == "log"  # resumed runs add up, with their settings
    second = tmp_path / "b.agent.safetensors"
    r = cli("train-agent", "--brush", "circle", "--data", str(photos), "--updates", "1", "--out", str(second), "--init", str(out), *TINY)
    assert r.returncode == 0 and "--set resolution=16 width=4 critic_width=4 stages=2 ignored with --init" in r.stderr, r.stderr
    r = cli("brushes", "--json", env={"STROKEPAINT_HOME": str(tmp_path)})
    assert r.returncode == 0


def test_torchrun_two_processes_agree(tmp_path, photos):
    out = tmp_path / "ddp.agent.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29541", "-m", "strokepaint"]
    r = subprocess.run(
        [*cmd, "train-agent", "--brush", "circle", "--data", str(photos), "--updates", "3", "--out", str(out), *TINY],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    meta = store.load_weights(out, "agent")[1]
    sums = json.loads(meta["rank_checksums"])
    assert meta["world_size"] == "2" and len(sums) == 2 and sums[0] == sums[1]


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "--data"),
        (["--data", "/nonexistent-folder"], "not a folder"),
        (["--data", "EMPTY"], "no readable images"),
        (["--data", "PHOTOS", "--strokes", "12"], "multiple of the bundle"),
        (["--data", "PHOTOS", "--reward", "gold"], "--reward"),
        (["--data", "PHOTOS", "--colours", "paint"], "--colours"),
        (["--data", "PHOTOS", "--set", "colours=paint"], "colours='paint'"),
        (["--data", "PHOTOS", "--set", "batch=100000", "--set", "replay=100000"], "too large for memory"),
        (["--data", "PHOTOS", "--set", "batch=64", "--set", "replay=32"], "more than the replay buffer"),
        (["--data", "PHOTOS", "--set", "gamma=2"], "gamma from 0 to 1"),
        (["--data", "PHOTOS", "--set", "params=3"], "expected key=value"),  # set from the brush, not by hand
        (["--data", "PHOTOS", "--renderer", "OTHER"], "brush"),
        (["--data", "PHOTOS", "--init", "/nonexistent.agent.safetensors"], "no such agent file"),
        (["--data", "PHOTOS", "--init", "OTHER_AGENT"], "brush"),
        (["--data", "PHOTOS", "--init", "OTHER_AGENT", "--resume"], "not both"),
    ],
)
def test_bad_input_is_one_line(cli, tmp_path, photos, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.png").write_text("not an image")
    other = store.find("line", "renderer")[0]  # a renderer trained for another brush
    other_agent = store.find("line", "agent")[0]
    subst = {"EMPTY": str(tmp_path / "empty"), "PHOTOS": str(photos), "OTHER": str(other), "OTHER_AGENT": str(other_agent)}
    out = tmp_path / "x.agent.safetensors"
    r = cli("train-agent", "--brush", "circle", "--updates", "1", "--out", str(out), *[subst.get(a, a) for a in args])
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("case", ["renderer", "text", "folder", "other brush", "shipped"])
def test_an_out_that_would_lose_a_file_is_refused_before_training(cli, tmp_path, photos, case):
    renderer = tmp_path / "r.safetensors"
    renderer.write_bytes(store.find("circle", "renderer")[0].read_bytes())
    other = tmp_path / "line.agent.safetensors"  # another brush's agent: hours of training
    other.write_bytes(store.find("line", "agent")[0].read_bytes())
    shipped = store.shipped_dir() / "circle.agent.safetensors"
    outs = {"renderer": renderer, "text": tmp_path / "notes.safetensors", "folder": tmp_path / "d.safetensors"}
    out = (outs | {"other brush": other, "shipped": shipped})[case]
    if case == "text":
        out.write_text("my notes")
    if case == "folder":
        out.mkdir()
    before = out.read_bytes() if out.is_file() else None
    args = ["--data", str(photos), "--updates", "1", "--renderer", str(renderer), "--out", str(out), *TINY]
    r = cli("train-agent", "--brush", "circle", *args)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    expected = {"renderer": "is also the --renderer", "text": "holds something other than weights", "folder": "is a folder"}
    expected |= {"other brush": "holds the line brush's agent, not circle's", "shipped": "shipped with strokepaint are not replaced"}
    assert expected[case] in r.stderr
    assert before is None or out.read_bytes() == before
    assert not store.checkpoint_path(out).exists()


def test_an_agent_trained_into_the_data_folder_is_compared_with_the_shipped_one(cli, tmp_path, photos):
    home = tmp_path / "home"
    r = cli("train-agent", "--brush", "circle", "--data", str(photos), "--updates", "2", *TINY, env={"STROKEPAINT_HOME": str(home)})
    assert r.returncode == 0, r.stderr
    assert "warning: it paints worse than the shipped agent" in r.stderr  # two updates of a tiny network
    assert "now uses it instead of the shipped agent" in r.stderr and (home / "circle.agent.safetensors").is_file()
