"""What can be tested of the Kubernetes path without a cluster: the definitions load with the
dagster-k8s executor configured, and the Helm values carry the keys Dagster's chart reads."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from sim_platform_tests.conftest import REPO


def run_py(code: str, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    full.pop("AZURE_STORAGE_CONNECTION_STRING", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=REPO)


def test_definitions_load_with_the_k8s_executor(tmp_path):
    res = run_py(
        "from sim_platform.definitions import defs\n"
        "job = defs.resolve_implicit_global_asset_job_def()\n"
        "print(job.executor_def.name)",
        SIM_PLATFORM_EXECUTOR="k8s", DAGSTER_HOME=str(tmp_path), SIM_PLATFORM_HOME=str(tmp_path / "home"),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "k8s"
    validate = subprocess.run(
        [str(REPO / ".venv/bin/dagster"), "definitions", "validate", "-m", "sim_platform.definitions"],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "SIM_PLATFORM_EXECUTOR": "k8s", "DAGSTER_HOME": str(tmp_path), "SIM_PLATFORM_HOME": str(tmp_path / "home")},
    )
    assert validate.returncode == 0, validate.stderr + validate.stdout


def test_unknown_executor_is_a_clear_error(tmp_path):
    res = run_py("import sim_platform.definitions", SIM_PLATFORM_EXECUTOR="celery", DAGSTER_HOME=str(tmp_path))
    assert res.returncode != 0 and "SIM_PLATFORM_EXECUTOR='celery'" in res.stderr


def test_helm_values_have_the_keys_the_chart_expects():
    values = yaml.safe_load((REPO / "deploy/k8s/values.yaml").read_text())
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "sim_platform.definitions"]
    assert {"repository", "tag", "pullPolicy"} <= set(deployment["image"])
    assert isinstance(deployment["port"], int)
    assert {"name": "SIM_PLATFORM_EXECUTOR", "value": "k8s"} in deployment["env"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"] == [{"name": "sim-platform-azure"}]
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    queue = values["dagsterDaemon"]["runCoordinator"]
    assert queue["type"] == "QueuedRunCoordinator" and queue["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] > 0
