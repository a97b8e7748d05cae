"""`strokepaint paint` and `strokepaint eval` as a user runs them (few strokes, few refinement steps)."""

import json
import math
import sys

import numpy as np
import pytest
from PIL import Image

FAST = ["--strokes", "10", "--refine", "3"]


def _photo(path, size=(40, 30), mode="RGB"):
    gen = np.random.default_rng(0)
    a = gen.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(a)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


def test_paint_writes_png_strokes_svg_gif(cli, tmp_path):
    src = _photo(tmp_path / "photo.jpg", (60, 40))
    before = src.read_bytes()
    r = cli("paint", str(src), *FAST, "--svg", str(tmp_path / "o.svg"), "--animate", str(tmp_path / "o.gif"))
    assert r.returncode == 0, r.stderr
    png = tmp_path / "photo.painted.png"
    assert Image.open(png).size == (60, 40) and str(png) in r.stderr  # says where it wrote
    sf = json.loads((tmp_path / "photo.painted.strokes.json").read_text())
    assert len(sf["strokes"]) == 10 and (sf["width"], sf["height"]) == (60, 40)
    assert (tmp_path / "o.svg").read_text().startswith("<svg") and Image.open(tmp_path / "o.gif").n_frames > 2
    assert src.read_bytes() == before  # the input is untouched
    # the stroke file re-exports to the same picture
    r = cli("export", str(tmp_path / "photo.painted.strokes.json"), "--png", str(tmp_path / "re.png"))
    assert r.returncode == 0, r.stderr
    a = np.asarray(Image.open(png), dtype=float)
    b = np.asarray(Image.open(tmp_path / "re.png").convert("RGB"), dtype=float)
    assert ((a - b) ** 2).mean() / 255**2 < 1e-3


def test_same_seed_same_bytes(cli, tmp_path):
    src = _photo(tmp_path / "p.png")
    for name in ("a", "b"):
        r = cli("paint", str(src), *FAST, "--seed", "7", "-o", str(tmp_path / f"{name}.png"))
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.strokes.json").read_bytes() == (tmp_path / "b.strokes.json").read_bytes()


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16", "1x1", "exif"])
def test_odd_images_paint_at_their_displayed_size(cli, tmp_path, mode):
    src = tmp_path / "odd.png"
    if mode == "1x1":
        Image.new("RGB", (1, 1), (10, 200, 30)).save(src)
        size = (1, 1)
    elif mode == "exif":
        src = tmp_path / "odd.jpg"
        img = Image.new("RGB", (30, 20), (10, 20, 200))
        exif = img.getexif()
        exif[0x0112] = 6  # rotate 90: displayed 20 x 30
        img.save(src, exif=exif)
        size = (20, 30)
    elif mode == "I;16":
        Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).save(src)  # 16-bit greyscale
        size = (30, 20)
    elif mode == "CMYK":
        src = tmp_path / "odd.jpg"
        Image.new("CMYK", (30, 20), (0, 100, 200, 0)).save(src)
        size = (30, 20)
    else:
        _photo(src, (30, 20), mode)
        size = (30, 20)
    out = tmp_path / "new" / "folder" / "out.png"  # a folder that does not exist yet
    r = cli("paint", str(src), *FAST, "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == size


def test_batch_skips_a_bad_image_and_says_so(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(folder / "a.png")
    _photo(folder / "b.jpg")
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    r = cli("paint", str(folder), *FAST, "--out-dir", str(tmp_path / "out"), "--svg", str(tmp_path / "svg"))
    assert r.returncode != 0
    assert "c.png" in r.stderr and "1 of 3 pictures failed" in r.stderr and "Traceback" not in r.stderr
    made = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert made == ["a.png", "a.strokes.json", "b.png", "b.strokes.json"]
    assert sorted(p.name for p in (tmp_path / "svg").iterdir()) == ["a.svg", "b.svg"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["MISSING"], "no such file"),
        (["NOTIMAGE"], "not an image"),
        (["TRUNCATED"], "truncated"),
        (["BOMB"], "decompression bomb"),
        (["GOOD", "--strokes", "0"], "--strokes"),
        (["GOOD", "--strokes", "-3"], "--strokes"),
        (["GOOD", "--strokes", "999999999"], "--strokes"),
        (["GOOD", "-o", "GOOD"], "output path is the input"),
        (["GOOD", "--brush", "nope"], "unknown brush"),
        (["GOOD", "-o", "OUT.jpg"], "PNG"),
        (["GOOD", "FULL", "-o", "OUT.png"], "--out-dir"),
        (["GOOD", "-o", "OUT.png", "--svg", "OUT.png"], "--svg writes SVG"),
        (["GOOD", "--svg", "OUT.svg", "--animate", "OUT.svg"], "--animate writes GIF"),
        (["GOOD", "--svg", "/proc/OUT.svg"], "cannot write"),
    ],
)
def test_bad_input_one_line_no_output(cli, tmp_path, args, message):
    good = _photo(tmp_path / "good.png")
    (tmp_path / "notimage.png").write_text("hello")
    full = tmp_path / "full.png"
    _photo(full, (64, 64))
    (tmp_path / "truncated.png").write_bytes(full.read_bytes()[:200])
    Image.new("1", (12_000, 12_000)).save(tmp_path / "bomb.png")  # 144 Mpx: over the limit
    subst = {
        "MISSING": str(tmp_path / "missing.png"),
        "NOTIMAGE": str(tmp_path / "notimage.png"),
        "TRUNCATED": str(tmp_path / "truncated.png"),
        "BOMB": str(tmp_path / "bomb.png"),
        "GOOD": str(good),
        "FULL": str(full),
        "OUT.svg": str(tmp_path / "out.svg"),
        "/proc/OUT.svg": "/proc/out.svg",
        "OUT.jpg": str(tmp_path / "out.jpg"),
        "OUT.png": str(tmp_path / "out.png"),
    }
    before = good.read_bytes()
    r = cli("paint", *FAST, *[subst.get(a, a) for a in args])
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not any((tmp_path / f"out.{x}").exists() for x in ("png", "jpg", "svg"))
    assert not any(p.name.endswith(".painted.png") or p.name.endswith(".tmp") for p in tmp_path.iterdir())
    assert good.read_bytes() == before


def test_folders_painted_again_and_alike_names(cli, tmp_path):
    """A folder painted twice paints its pictures, not its earlier paintings; photo.jpg beside
    photo.png get names of their own; --out-dir keeps the folder's layout."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.png", "a.jpg", "sub/a.png"):
        _photo(folder / name)
    for _ in range(2):
        r = cli("paint", str(folder), *FAST)
        assert r.returncode == 0, r.stderr
    assert "left out 3 earlier paintings" in r.stderr
    made = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.painted.png"))
    assert made == ["a.jpg.painted.png", "a.png.painted.png", "sub/a.painted.png"]
    r = cli("paint", str(folder), *FAST, "--out-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a.jpg.png", "a.png.png", "sub/a.png"]
    r = cli("paint", str(folder / "a.png"), str(folder / "sub" / "a.png"), *FAST, "--out-dir", str(tmp_path / "two"))
    assert r.returncode == 2 and "would both be written to" in r.stderr and not (tmp_path / "two").exists()
    only = tmp_path / "only"  # painted into itself, twice: the first run's a.png (its stroke file beside it) is no input
    only.mkdir()
    _photo(only / "a.jpg")
    for _ in range(2):
        r = cli("paint", str(only), *FAST, "--out-dir", str(only))
        assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in only.iterdir()) == ["a.jpg", "a.png", "a.strokes.json"] and "left out 1 earlier painting " in r.stderr
    r = cli("paint", str(folder / "sub"), *FAST, "--out-dir", str(tmp_path))  # the output folder holds the folder named: it hides nothing
    assert r.returncode == 0 and (tmp_path / "a.png").is_file() and "left out 1 earlier painting " in r.stderr, r.stderr


def test_usage_errors_are_one_line(cli, tmp_path):
    for args in (["paint", "-n", "abc", "x.png"], ["paint"], ["paint", "--bogus", "x.png"], ["export", "--scale"]):
        r = cli(*args)
        assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    r = cli("--debug", "paint", str(tmp_path / "missing.png"))
    assert r.returncode == 2 and "Traceback" in r.stderr and "no such file" in r.stderr


def test_eval_json(cli, tmp_path):
    folder = tmp_path / "dev"
    folder.mkdir()
    _photo(folder / "x.png", (50, 40))
    Image.new("RGB", (40, 40), (90, 160, 30)).save(folder / "y.png")  # flat: far lower error than the noise
    r = cli("eval", str(folder), "--strokes", "5,10", "--refine", "2", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(i["name"], i["strokes"]) for i in doc["images"]] == [("x.png", 5), ("x.png", 10), ("y.png", 5), ("y.png", 10)]
    assert all(i["mse"] > 0 and i["psnr"] > 0 and i["seconds"] > 0 for i in doc["images"])
    assert set(doc["mean"]) == {"5", "10"}
    mean = doc["mean"]["5"]  # the PSNR of the mean MSE (a mean of PSNRs is lifted by one easy picture)
    assert mean["psnr"] == pytest.approx(10 * math.log10(1 / mean["mse"]), abs=0.02)
    rows = [i["psnr"] for i in doc["images"] if i["strokes"] == 5]
    assert abs(sum(rows) / len(rows) - mean["psnr"]) > 1
    r = cli("eval", str(folder), "--strokes", "5,x")
    assert r.returncode == 2 and "--strokes" in r.stderr
    (folder / "z.png").write_text("not a picture")  # reported, left out of the means, and the exit code says so
    r = cli("eval", str(folder), "--strokes", "5", "--refine", "2", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and "z.png" in r.stderr and [f["name"] for f in doc["failed"]] == ["z.png"]
    assert [i["name"] for i in doc["images"]] == ["x.png", "y.png"]
    r = cli("eval", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "no such folder" in r.stderr


def test_a_brush_without_an_agent_paints_by_optimisation_and_says_so(monkeypatch, tmp_path, capsys):
    """Every built-in brush ships an agent: hide them, as for a freshly trained plugin brush."""
    from strokepaint import cli, store

    real = store.find
    monkeypatch.setattr(store, "find", lambda brush, kind, explicit=None: None if kind == "agent" else real(brush, kind, explicit))
    photo, out = _photo(tmp_path / "p.png"), tmp_path / "out.png"

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["strokepaint", "paint", str(photo), "--brush", "circle", "-n", "5", *args])
        with pytest.raises(SystemExit) as e:
            cli.main()
        return e.value.code, capsys.readouterr().err

    code, err = run("--method", "agent", "-o", str(out))
    assert code == 2 and "no trained agent" in err and "--method optimize" in err and not out.exists()
    code, err = run("--refine", "2", "-o", str(out))
    assert code == 0 and "painting by optimisation alone" in err and out.exists()


def test_paint_and_eval_take_other_weights(cli, tmp_path):
    """--agent / --renderer: weights outside the data folder (a trained agent's --out), checked as always."""
    from strokepaint import store

    shipped = store.shipped_dir()
    _photo(tmp_path / "a.png")
    agent, renderer = str(shipped / "bezier.agent.safetensors"), str(shipped / "bezier.renderer.safetensors")
    r = cli("paint", str(tmp_path / "a.png"), *FAST, "--agent", agent, "--renderer", renderer, "--method", "agent")
    assert r.returncode == 0 and (tmp_path / "a.painted.png").is_file(), r.stderr
    r = cli("paint", str(tmp_path / "a.png"), *FAST, "--agent", str(shipped / "line.agent.safetensors"))
    assert r.returncode == 2 and "line.agent.safetensors" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = cli("paint", str(tmp_path / "a.png"), *FAST, "--agent", agent, "--method", "optimize")
    assert r.returncode == 2 and "no agent is used" in r.stderr
    r = cli("eval", str(tmp_path), "--strokes", "5", "--refine", "0", "--agent", str(tmp_path / "missing.safetensors"))
    assert r.returncode == 2 and "missing.safetensors: no such weights file" in r.stderr
