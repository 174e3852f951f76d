"""The container, proved without a Docker engine: the Dockerfile is checked statically and its
recipe is replayed in a fresh virtual environment (the wheel built with the locked build backend,
the lock check, the base lock installed with --require-hashes, the wheel without dependencies),
where the image's default command and the code location's command run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim_platform_tests.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(name + " ")]


def test_dockerfile_is_pinned_non_root_and_secret_free():
    bases = [f.split()[0] for f in instructions("FROM")]
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", b) for b in bases), bases
    assert instructions("USER") == ["app"]
    assert not re.search(r"(?i)(ENV|ARG)\s+\S*(KEY|SECRET|PASSWORD|TOKEN|CONNECTION_STRING)", DOCKERFILE)
    assert instructions("CMD") == ['["sim-platform", "etl", "--input", "data", "--output", "output"]']
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (
        ".env",
        ".venv",
        ".git",
        "data",
        "output",
        ".blobstore",
        "sim_platform_tests",
        "deploy/compose/auth/*.htpasswd",
    ):
        assert entry in ignored


def pip_installs() -> list[str]:
    """Every `pip install` / `pip wheel` of the Dockerfile's RUN instructions, in order."""
    joined = re.sub(r"\\[ \t]*\n", " ", DOCKERFILE)  # continuation lines
    runs = [line for line in joined.splitlines() if line.startswith("RUN ")]
    return [m for run in runs for m in re.findall(r"pip (?:install|wheel)[^&]*", run)]


def test_dockerfile_installs_only_from_the_locks_with_hashes():
    installs = pip_installs()
    assert len(installs) == 4, installs  # build lock, wheel, dependency lock, wheel without dependencies
    for command in installs:
        if "-r " in command:
            assert "--require-hashes" in command and re.search(r"requirements/\S*\.lock\.txt", command), command
        else:
            assert "--no-deps" in command, f"resolves dependencies outside the lock: {command}"
    assert "--no-build-isolation" in installs[1]  # the wheel is built by the locked setuptools, not a fresh one
    assert "${EXTRAS:-base}.lock.txt" in installs[2]
    assert "lock.py check" in DOCKERFILE  # a stale lock fails the build
    for extra in ("", "k8s"):  # every lock the EXTRAS argument can pick exists
        assert (REPO / f"requirements/{extra or 'base'}.lock.txt").is_file()


@pytest.fixture(scope="module")
def image_env(tmp_path_factory) -> Path:
    """A fresh virtual environment built the way the Dockerfile builds the image."""
    root = tmp_path_factory.mktemp("image")
    dist = root / "dist"
    build = root / "build-venv"  # stage 1: the locked build backend, then the wheel
    subprocess.run([sys.executable, "-m", "venv", str(build)], check=True)
    pip(build, "install", "--require-hashes", "-r", str(REPO / "requirements/build.lock.txt"))
    src = root / "src"  # stage 1's COPY: pyproject.toml, README.md, sim_platform/
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "sim_platform", src / "sim_platform", ignore=shutil.ignore_patterns("__pycache__"))
    pip(build, "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir", "--wheel-dir", str(dist), str(src))
    venv = root / "venv"  # stage 2
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = subprocess.run(
        [
            str(venv / "bin/python"),
            str(REPO / "scripts/lock.py"),
            "check",
            "--pyproject",
            str(REPO / "pyproject.toml"),
            "--lock-dir",
            str(REPO / "requirements"),
        ],
        capture_output=True,
        text=True,
    )  # pip's vendored packaging only
    assert check.returncode == 0, check.stderr
    pip(venv, "install", "--require-hashes", "-r", str(REPO / "requirements/base.lock.txt"))
    wheels = list(dist.glob("sim_platform-*.whl"))
    assert len(wheels) == 1
    pip(venv, "install", "--no-deps", str(wheels[0]))
    return venv


def pip(venv: Path, *args: str) -> None:
    res = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "--disable-pip-version-check", "-q", *args], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-3000:]


def test_image_holds_exactly_the_base_lock(image_env):
    """What the image contains is what requirements/base.lock.txt pins: same names, same versions."""
    spec = importlib.util.spec_from_file_location("lock_script", REPO / "scripts/lock.py")
    lock_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock_script)
    locked = lock_script.pins((REPO / "requirements/base.lock.txt").read_text())
    listed = subprocess.run(
        [str(image_env / "bin/python"), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    installed = {re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in json.loads(listed)}
    assert installed.pop("sim-platform") == "0.1.0"
    for tool in ("pip", "setuptools", "wheel"):  # the interpreter's own installer, outside the lock
        if tool not in locked:
            installed.pop(tool, None)
    assert installed == locked


def test_default_command_processes_data_into_output(image_env, sample_data, tmp_path):
    app = tmp_path / "app"  # the image's WORKDIR, with the two volumes mounted
    shutil.copytree(sample_data / "2024/08/06", app / "data" / "2024/08/06")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    cmd = ["sim-platform", "etl", "--input", "data", "--output", "output"]  # the Dockerfile's CMD
    res = subprocess.run([str(image_env / "bin" / cmd[0]), *cmd[1:]], cwd=app, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "files written: 140" in res.stdout
    assert (app / "output/phase1_module1/2024/08/06").is_dir()
    # the wheel, not the checkout, is what runs
    where = subprocess.run(
        [str(image_env / "bin/python"), "-c", "import sim_platform; print(sim_platform.__file__)"],
        cwd=app,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(image_env) in where


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_code_location_command_serves(image_env, tmp_path):
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = subprocess.Popen(
        [
            str(image_env / "bin/dagster"),
            "code-server",
            "start",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "sim_platform.definitions",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 300  # a cold venv on a busy 2-core machine imports slowly
        while time.time() < deadline:
            check = subprocess.run(
                [str(image_env / "bin/dagster"), "api", "grpc-health-check", "-p", str(port)],
                env=env,
                capture_output=True,
                text=True,
            )
            if check.returncode == 0:
                break
            assert server.poll() is None, server.stdout.read()
            time.sleep(1)
        else:
            pytest.fail("code server did not become healthy in 300 s")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
