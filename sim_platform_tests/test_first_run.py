"""A user's first five minutes: the README's first command, exactly as written, on a copy of the
repository with nothing beside it (no ../shared, no venv, no server), in a fresh virtual environment
that `scripts/setup.sh` makes from the locks."""

from __future__ import annotations

import os
import re
import subprocess

from PIL import Image

from sim_platform_tests.conftest import REPO
from sim_platform_tests.test_docs_commands import bash_commands, working_tree_copy


def test_readme_command_one_on_a_bare_clone(tmp_path):
    command = bash_commands(REPO / "README.md")[0]
    assert command == "bash scripts/setup.sh && .venv/bin/sim-platform demo"
    clone = working_tree_copy(tmp_path / "clone")
    assert not (clone.parent / "shared").exists()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_", "DAGSTER_", "VIRTUAL_ENV"))
    }
    res = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "days: 7 (7 written)" in res.stdout
    assert "next:" in res.stdout and ".venv/bin/sim-platform ui" in res.stdout
    home = clone / ".sim_platform"
    assert len(list((home / "silver").glob("phase*_module*/2024/07/0[1-7]/[0-2][0-9].parquet"))) > 24 * 7
    assert len(list((home / "silver/_quality").rglob("*.json"))) == 7
    assert list((clone / ".blobstore/simulation-data/raw/telemetry").rglob("*.parquet"))
    (plot,) = list((home / "plots").glob("*.png"))
    assert re.search(re.escape(str(plot.relative_to(clone))), res.stdout)
    with Image.open(plot) as img:
        assert img.format == "PNG" and img.width >= 800
    # the rare week shows in the summary: the report lines are there, each short
    assert "fault states in system_state" in res.stdout
    assert max(len(line) for line in res.stdout.splitlines()) <= 300
