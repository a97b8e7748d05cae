"""The code is ruff-clean (lint and format), as the project asks."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the test extras: pip install '.[test]'"
    for cmd in (["check"], ["format", "--check"]):
        r = subprocess.run([ruff, *cmd, "."], capture_output=True, text=True, cwd=REPO, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
