"""Every shell command shown in the README and in docs/ runs, as written.

Each page's ```bash blocks run line by line, in order, in a copy of the repository (its `.venv` the
test environment's, `../shared` beside it as in this checkout), with no Azure or SIM_PLATFORM_*
setting: what a user gets by pasting them. `/tmp/sim_docs` is moved into the test's own folder.
Blocks marked ```console need what no test machine has (a Docker engine, a cluster, a browser at
a person's desk) and say so in a comment; ```text blocks are synopses or output. The README's two
set-up commands are run by `test_first_run.py` (a clone with nothing beside it) and by CI itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sim_platform_tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: commands run elsewhere, and where
ELSEWHERE = {
    "bash scripts/setup.sh && .venv/bin/sim-platform demo": "sim_platform_tests/test_first_run.py",
    "bash scripts/setup.sh --test && .venv/bin/pytest": ".ci/run",
}


def bash_commands(page: Path) -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def working_tree_copy(dest: Path) -> Path:
    """The repository's files as they are now (tracked and new, not ignored), copied to `dest`."""
    files = (
        subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def sandbox(tmp_path: Path) -> Path:
    """A copy of the working tree beside a link to ../shared, using this test run's .venv."""
    work = working_tree_copy(tmp_path / "work" / "main")
    (work / ".venv").symlink_to(REPO / ".venv")
    shared = REPO.parent / "shared"
    if shared.exists():
        (work.parent / "shared").symlink_to(shared)
    return work


@pytest.mark.parametrize("page", [p for p in PAGES if bash_commands(p)], ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_command_of_the_page_runs(page, tmp_path):
    work = sandbox(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_", "DAGSTER_"))}
    env["PYTHONWARNINGS"] = "ignore"
    ran = 0
    for line in bash_commands(page):
        if line in ELSEWHERE:
            assert (REPO / ELSEWHERE[line]).exists()
            continue
        # setup.sh would install the sandbox copy into the shared .venv; only a bare clone may run it
        assert "scripts/setup.sh" not in line, f"{page.name}: `{line}` must be one of the commands run elsewhere"
        cmd = line.replace("/tmp/sim_docs", str(tmp_path / "sim_docs"))
        res = subprocess.run(
            ["bash", "-c", f"set -euo pipefail; {cmd}"], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert res.returncode == 0, (
            f"{page.name}: `{line}` failed ({res.returncode}):\n{res.stdout[-1500:]}\n{res.stderr[-2500:]}"
        )
        ran += 1
    assert ran or all(line in ELSEWHERE for line in bash_commands(page))


def test_the_readme_test_command_is_what_ci_runs():
    ci = (REPO / ".ci/run").read_text()
    assert "bash scripts/setup.sh --test && .venv/bin/pytest" in ci
    assert "bash scripts/setup.sh --test && .venv/bin/pytest" in bash_commands(REPO / "README.md")
    assert "bash scripts/setup.sh && .venv/bin/sim-platform demo" in bash_commands(REPO / "README.md")


def test_console_blocks_say_why_they_are_not_run():
    for page in PAGES:
        for block in re.findall(r"```console\n(.*?)```", page.read_text(), re.S):
            assert block.lstrip().startswith("#"), f"{page.name}: a console block without the comment saying what it needs"
