"""Lint and format are part of the test command, so CI (`.ci/run`, the README's test command) enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sim_platform_tests.conftest import REPO

RUFF = str(Path(sys.executable).parent / "ruff")


def test_ruff_lint_is_clean():
    out = subprocess.run([RUFF, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_ruff_format_is_clean():
    out = subprocess.run([RUFF, "format", "--check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, "run `ruff format .`:\n" + out.stdout[-4000:] + out.stderr[-2000:]
