"""The container, proved without a Docker engine: the Dockerfile is checked statically and its
recipe is replayed in a fresh virtual environment (wheel, dependencies from pyproject.toml, the
wheel without dependencies), where the image's default command and the code location's command run.
"""

from __future__ import annotations

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
    for entry in (".env", ".venv", ".git", "data", "output", ".blobstore", "sim_platform_tests"):
        assert entry in ignored


@pytest.fixture(scope="module")
def image_env(tmp_path_factory) -> Path:
    """A fresh virtual environment built the way the Dockerfile builds the image."""
    root = tmp_path_factory.mktemp("image")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--wheel-dir", str(dist), str(REPO)],
                   check=True, capture_output=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    req = subprocess.run([str(py), str(REPO / "scripts/requirements_from_pyproject.py"), str(REPO / "pyproject.toml")],
                         check=True, capture_output=True, text=True).stdout
    (root / "requirements.txt").write_text(req)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(root / "requirements.txt")], check=True, capture_output=True)
    wheels = list(dist.glob("sim_platform-*.whl"))
    assert len(wheels) == 1
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheels[0])], check=True, capture_output=True)
    return venv


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
    where = subprocess.run([str(image_env / "bin/python"), "-c", "import sim_platform; print(sim_platform.__file__)"],
                           cwd=app, capture_output=True, text=True, check=True).stdout
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
        [str(image_env / "bin/dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port), "-m", "sim_platform.definitions"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            check = subprocess.run([str(image_env / "bin/dagster"), "api", "grpc-health-check", "-p", str(port)],
                                   env=env, capture_output=True, text=True)
            if check.returncode == 0:
                break
            assert server.poll() is None, server.stdout.read()
            time.sleep(1)
        else:
            pytest.fail("code server did not become healthy in 120 s")
    finally:
        server.terminate()
        server.wait(timeout=30)
