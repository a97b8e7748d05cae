"""The command line: version, brushes, errors, fast start-up."""

import json
import subprocess
import sys

import pytest

from strokepaint import __version__


def test_version(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"strokepaint {__version__}"


def test_brushes_json(cli):
    r = cli("brushes", "--json")
    assert r.returncode == 0, r.stderr
    rows = {b["name"]: b for b in json.loads(r.stdout)}
    assert {"bezier", "line", "circle", "triangle"} <= set(rows)
    for row in rows.values():
        assert {"name", "version", "package", "params", "renderer", "agent"} <= set(row)
    assert rows["bezier"]["params"] == ["x0", "y0", "x1", "y1", "x2", "y2", "r0", "t0", "r1", "t1", "R", "G", "B"]
    assert rows["circle"]["package"] == "strokepaint"


def test_brushes_table(cli):
    r = cli("brushes")
    assert r.returncode == 0 and "bezier" in r.stdout and "triangle" in r.stdout


def test_brushes_names_weights_that_would_be_refused(cli, tmp_path):
    """A truncated user renderer and an agent of another brush are listed as refused, with why,
    instead of as the user's weights in use; the brushes without such files are unaffected."""
    from strokepaint import store

    shipped = store.shipped_dir()
    (tmp_path / "line.renderer.safetensors").write_bytes((shipped / "line.renderer.safetensors").read_bytes()[:100_000])
    (tmp_path / "triangle.agent.safetensors").write_bytes((shipped / "circle.agent.safetensors").read_bytes())
    (tmp_path / "circle.renderer.safetensors").write_bytes((shipped / "circle.renderer.safetensors").read_bytes() + b"\0")
    env = {"STROKEPAINT_HOME": str(tmp_path)}
    rows = {b["name"]: b for b in json.loads(cli("brushes", "--json", env=env).stdout)}
    assert "truncated" in rows["line"]["renderer_problem"] and rows["line"]["renderer_source"] == "user"
    assert "made for brush 'circle', not 'triangle'" in rows["triangle"]["agent_problem"]
    assert "not a safetensors weights file" in rows["circle"]["renderer_problem"]  # (a byte too many: safetensors refuses it too)
    assert rows["bezier"]["renderer_problem"] is None and rows["bezier"]["agent_problem"] is None
    table = cli("brushes", env=env)
    assert table.returncode == 0 and table.stdout.count("refused") >= 3 and "line's renderer is refused" in table.stdout


def test_unknown_command_is_usage_error(cli):
    r = cli("no-such-command")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_help_does_not_import_torch():
    code = (
        "import sys\nimport strokepaint.cli as c\nsys.argv = ['strokepaint', '--help']\n"
        "try:\n    c.main()\nexcept SystemExit:\n    pass\nprint('TORCH' if 'torch' in sys.modules else 'LIGHT')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().endswith("LIGHT"), r.stdout[-200:]


def test_bad_input_under_torchrun_is_reported_by_rank_0_alone(monkeypatch, capsys):
    """Every rank meets the same bad input: one line, not one per process; the exit code stays 2."""
    from strokepaint import cli as cli_module

    for rank, lines in (("1", 0), ("0", 1)):
        monkeypatch.setenv("RANK", rank)
        monkeypatch.setattr(sys, "argv", ["strokepaint", "train-agent", "--data", "/nonexistent-folder", "--updates", "1"])
        with pytest.raises(SystemExit) as e:
            cli_module.main()
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("not a folder") == lines, err
