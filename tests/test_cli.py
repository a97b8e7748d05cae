"""The command line: version, brushes, errors, fast start-up."""

import json
import subprocess
import sys

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
