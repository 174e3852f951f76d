"""The lock files of requirements/: they match pyproject.toml (the check CI runs through
scripts/setup.sh), the check fails on any drift with the command that fixes it, and what this venv,
CI and the image install is what the locks pin, hashes checked."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim_platform_tests.conftest import REPO

LOCK_DIR = REPO / "requirements"
SHAPES = ("base", "test", "k8s", "build")


def run_check(pyproject: Path, lock_dir: Path = LOCK_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts/lock.py"), "check", "--pyproject", str(pyproject), "--lock-dir", str(lock_dir)],
        capture_output=True,
        text=True,
    )


def pins(shape: str) -> dict[str, str]:
    text = (LOCK_DIR / f"{shape}.lock.txt").read_text()
    return {
        re.sub(r"[-_.]+", "-", m[0]).lower(): m[1] for m in re.findall(r"^([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?==(\S+)", text, re.M)
    }


@pytest.fixture
def pyproject_copy(tmp_path) -> Path:
    copy = tmp_path / "pyproject.toml"
    shutil.copy(REPO / "pyproject.toml", copy)
    return copy


def test_locks_match_pyproject():
    res = run_check(REPO / "pyproject.toml")
    assert res.returncode == 0, res.stderr
    # the same command through the documented wrapper
    wrapped = subprocess.run(["bash", "scripts/lock.sh", "--check"], cwd=REPO, capture_output=True, text=True)
    assert wrapped.returncode == 0, wrapped.stderr


def test_every_pin_has_hashes_and_one_version_across_locks():
    versions: dict[str, set[str]] = {}
    for shape in SHAPES:
        text = (LOCK_DIR / f"{shape}.lock.txt").read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 4)[4])  # after the 4 header lines
        for entry in entries:
            assert re.match(r"^[A-Za-z0-9][\w.\[\],-]*==\S+ \\\n\s+--hash=sha256:[0-9a-f]{64}", entry), entry[:200]
        assert "--index-url" not in text and "file://" not in text and "/opt/" not in text  # nothing of this machine
        for name, version in pins(shape).items():
            versions.setdefault(name, set()).add(version)
    assert {n: v for n, v in versions.items() if len(v) > 1} == {}
    assert set(pins("base")) < set(pins("k8s")) < set(pins("test"))  # test covers the k8s extra too


def test_check_fails_when_a_dependency_is_added(pyproject_copy):
    text = pyproject_copy.read_text()
    pyproject_copy.write_text(text.replace('"tqdm>=4.66",', '"tqdm>=4.66",\n    "xlsxwriter>=3",', 1))
    res = run_check(pyproject_copy)
    assert res.returncode == 1
    assert "compiled from other requirements" in res.stderr
    assert "has no pin for 'xlsxwriter>=3'" in res.stderr
    assert "bash scripts/lock.sh" in res.stderr  # the message names the fix


def test_check_fails_when_a_range_excludes_the_pin(pyproject_copy):
    pandas = pins("base")["pandas"]
    major = int(pandas.split(".")[0])
    pyproject_copy.write_text(pyproject_copy.read_text().replace('"pandas>=2.2"', f'"pandas>={major + 1}"', 1))
    res = run_check(pyproject_copy)
    assert res.returncode == 1
    assert f"pins pandas=={pandas}, which does not meet 'pandas>={major + 1}'" in res.stderr


def test_check_fails_when_a_test_extra_changes(pyproject_copy):
    pyproject_copy.write_text(pyproject_copy.read_text().replace('"pytest>=8",', '"pytest>=8",\n    "hypothesis>=6",', 1))
    res = run_check(pyproject_copy)
    assert res.returncode == 1
    assert "test.lock.txt" in res.stderr and "base.lock.txt" not in res.stderr  # only the shape that changed


def test_check_ignores_what_the_locks_do_not_cover(pyproject_copy):
    text = pyproject_copy.read_text()
    pyproject_copy.write_text(text.replace('description = "', 'description = "(edited) ', 1) + "\n# a comment\n")
    assert run_check(pyproject_copy).returncode == 0


def test_check_fails_on_an_edited_lock(tmp_path):
    locks = tmp_path / "requirements"
    shutil.copytree(LOCK_DIR, locks)
    base = locks / "base.lock.txt"
    text = base.read_text()
    # a pin without its hashes, and one dependency removed
    text = re.sub(r"^(pyyaml==\S+) \\\n(?:\s+--hash=\S+(?: \\)?\n)+", r"\1\n", text, count=1, flags=re.M | re.I)
    text = re.sub(r"^tqdm==\S+ \\\n(?:\s+--hash=\S+(?: \\)?\n)+", "", text, count=1, flags=re.M)
    base.write_text(text)
    res = run_check(REPO / "pyproject.toml", locks)
    assert res.returncode == 1
    assert "has no pin for 'tqdm>=4.66'" in res.stderr
    assert "pins without hashes: pyyaml" in res.stderr


def test_this_venv_holds_the_test_lock():
    """scripts/setup.sh --test (which .ci/run calls) installed exactly the pinned versions."""
    wrong = {}
    for name, version in pins("test").items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert wrong == {}, "run bash scripts/setup.sh --test (locked, installed)"


def test_setup_and_ci_install_from_the_locks():
    setup = (REPO / "scripts/setup.sh").read_text()
    code = "\n".join(line for line in setup.splitlines() if not line.lstrip().startswith("#"))
    installs = re.findall(r"pip install[^\n]*", code)
    assert all("--require-hashes -r" in i or "--no-deps" in i or "uv==" in i or "--upgrade pip" in i for i in installs), installs
    assert any("requirements/$SHAPE.lock.txt" in i for i in installs)
    assert code.index("scripts/lock.py check") < code.index('requirements/$SHAPE.lock.txt"')  # drift fails before installing
    assert "SHAPE=test" in code and "SHAPE=base" in code
    ci = (REPO / ".ci/run").read_text()
    assert "bash scripts/setup.sh --test && .venv/bin/pytest" in ci  # the README's test command, unchanged
