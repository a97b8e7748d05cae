"""Stroke files: round trip and validation of bad files (one-line errors naming the problem)."""

import json

import pytest
from conftest import random_strokes

from strokepaint import strokefile
from strokepaint.errors import UsageError
from strokepaint.plugins import get_brush


def _doc(**over):
    b = get_brush("circle")
    doc = {
        "format": "strokepaint-strokes",
        "version": 1,
        "width": 64,
        "height": 48,
        "background": [1, 1, 1],
        "brush": {"name": "circle", "version": b.version},
        "params": [p.name for p in b.params],
        "strokes": [[0.5, 0.5, 0.1, 1, 0.2, 0.3, 0.4]],
    }
    doc.update(over)
    return doc


def test_round_trip(tmp_path):
    b = get_brush("bezier")
    s = random_strokes(b, 50).tolist()
    sf = strokefile.StrokeFile(320, 200, "bezier", b.version, s, (0.1, 0.2, 0.3))
    path = sf.save(tmp_path / "a.json")
    back = strokefile.load(path)
    assert (back.width, back.height, back.brush, back.background) == (320, 200, "bezier", (0.1, 0.2, 0.3))
    assert len(back.strokes) == 50
    assert max(abs(x - y) for r, q in zip(s, back.strokes) for x, y in zip(r, q)) < 1e-6
    assert sf.to_json() == back.to_json()  # stable text: byte-identical re-save


@pytest.mark.parametrize(
    "row, message",
    [
        ([1.5, 0.5, 0.1, 1, 0.2, 0.3, 0.4], "stroke 1: x = 1.5 is outside"),
        ([0.5, 0.5, float("nan"), 1, 0.2, 0.3, 0.4], "stroke 1: r is NaN"),
        ([0.5, 0.5], "stroke 1: expected a list of 7"),
    ],
)
def test_save_refuses_what_load_would(tmp_path, row, message):
    """Strokes edited out of range (from the Python API) are refused when saved, not later on load."""
    sf = strokefile.StrokeFile(64, 48, "circle", get_brush("circle").version, [[0.5, 0.5, 0.1, 1, 0.2, 0.3, 0.4], row])
    with pytest.raises(UsageError, match=message):
        sf.save(tmp_path / "a.strokes.json")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(format="other"), "not a stroke file"),
        (lambda d: d.update(version=99), "version 99 is not supported"),
        (lambda d: d.update(version="1"), "version"),
        (lambda d: d.update(width=0), "width"),
        (lambda d: d.update(height=10**9), "height"),
        (lambda d: d.update(background=[1, 1]), "background"),
        (lambda d: d.update(brush={"name": "nope", "version": "1.0"}), "brush 'nope' is not installed"),
        (lambda d: d.update(brush={"name": "circle", "version": "7.0"}), "version 7.0"),
        (lambda d: d.update(params=["a", "b"]), "params"),
        (lambda d: d.update(strokes={}), "must be a list"),
        (lambda d: d["strokes"].append([0.5, 0.5, 0.1]), "stroke 1: expected a list of 7 numbers"),
        (lambda d: d["strokes"].append([0.5, 0.5, 0.1, 1, 0.2, 0.3, "x"]), "stroke 1: B is not a number"),
        (lambda d: d["strokes"].append([0.5, 0.5, 0.1, True, 0.2, 0.3, 0.4]), "stroke 1: a is not a number"),
        (lambda d: d["strokes"].append([1.5, 0.5, 0.1, 1, 0.2, 0.3, 0.4]), "stroke 1: x = 1.5 is outside [0.0, 1.0]"),
        (lambda d: d["strokes"].append([0.5, 0.5, 0.9, 1, 0.2, 0.3, 0.4]), "stroke 1: r = 0.9 is outside [0.0, 0.5]"),
    ],
)
def test_bad_files(tmp_path, change, message):
    doc = _doc()
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError) as err:
        strokefile.load(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "token, what",
    [
        ("NaN", "NaN"),
        ("Infinity", "infinite"),
        ("-Infinity", "infinite"),
        ("1" * 400, "infinite or too large"),
        ("9" * 5000, "infinite or too large"),
    ],
)
def test_non_finite_and_huge_numbers(tmp_path, token, what):
    text = json.dumps(_doc()).replace("[0.5, 0.5, 0.1, 1, 0.2, 0.3, 0.4]", f"[0.5, 0.5, 0.1, 1, 0.2, 0.3, {token}]")
    path = tmp_path / "nan.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=f"stroke 0: B is {what}.*must be a finite number"):
        strokefile.load(path)


@pytest.mark.parametrize("key, value", [("width", "1" + "0" * 5000), ("height", "1" * 40), ("background", "[" + "1" * 400 + ", 1, 1]")])
def test_huge_whole_numbers_are_named(tmp_path, key, value):
    text = json.dumps(_doc() | {key: 0}).replace(f'"{key}": 0', f'"{key}": {value}')
    path = tmp_path / "big.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=f'"{key}" must be'):
        strokefile.load(path)


def test_not_json_missing_and_huge(tmp_path, monkeypatch):
    (tmp_path / "x.json").write_text("{ not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        strokefile.load(tmp_path / "x.json")
    with pytest.raises(UsageError, match="no such file"):
        strokefile.load(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UsageError, match="not a stroke file"):
        strokefile.load(tmp_path / "bin.json")
    monkeypatch.setattr(strokefile, "MAX_STROKES", 3)
    doc = _doc()
    doc["strokes"] = doc["strokes"] * 4
    (tmp_path / "many.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="4 strokes is more than the 3 allowed"):
        strokefile.load(tmp_path / "many.json")
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(UsageError):
        strokefile.load(tmp_path / "deep.json")
