"""docker-compose.yml, validated by docker-compose itself (Debian package), and its wiring checked."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from sim_platform_tests.conftest import REPO


def compose(tmp_path, env_text: str, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose missing: install Debian package docker-compose (scripts/setup.sh --test does)"
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text(env_text)
    return subprocess.run([binary, "config", *args], cwd=tmp_path, capture_output=True, text=True)


def test_compose_file_is_valid_and_wired(tmp_path):
    res = compose(tmp_path, "DAGSTER_POSTGRES_PASSWORD=pw\nAZURITE_ACCOUNT_KEY=a2V5\n")
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    services = cfg["services"]
    assert set(services) == {"postgres", "azurite", "code", "webserver", "daemon"}
    for name in ("postgres", "azurite", "code"):
        assert services[name]["healthcheck"]["test"], name
    assert services["code"]["depends_on"] == {"postgres": {"condition": "service_healthy"}, "azurite": {"condition": "service_healthy"}}
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"] == {"code": {"condition": "service_healthy"}}
        assert services[name]["image"] == services["code"]["image"]  # one image serves every service
    assert any(p["published"] == 3000 for p in services["webserver"]["ports"])
    env = services["daemon"]["environment"]
    assert "BlobEndpoint=http://azurite:10000/" in env["AZURE_STORAGE_CONNECTION_STRING"]
    assert env["SIM_PLATFORM_SILVER_BACKEND"] == "blob"
    assert env["SIM_PLATFORM_WAREHOUSE_URL"] == "postgresql+psycopg2://dagster:pw@postgres:5432/dagster"  # gold -> PostgreSQL
    assert "pgdata" in cfg["volumes"]
    mounts = " ".join(services["code"]["volumes"] if isinstance(services["code"]["volumes"][0], str)
                      else [v["source"] + ":" + v["target"] for v in services["code"]["volumes"]])
    assert "deploy/compose/dagster.yaml" in mounts and (REPO / "deploy/compose/dagster.yaml").is_file()


def test_compose_refuses_to_start_without_its_secrets(tmp_path):
    res = compose(tmp_path, "", "-q")
    assert res.returncode != 0
    assert "set DAGSTER_POSTGRES_PASSWORD in .env" in res.stderr or "set AZURITE_ACCOUNT_KEY in .env" in res.stderr


def test_deployment_instance_uses_postgres_and_a_queue():
    inst = yaml.safe_load((REPO / "deploy/compose/dagster.yaml").read_text())
    assert inst["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_POSTGRES_PASSWORD"}
    assert inst["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert inst["run_coordinator"]["config"]["max_concurrent_runs"] >= 1
    ws = yaml.safe_load((REPO / "deploy/compose/workspace.yaml").read_text())
    assert ws["load_from"][0]["grpc_server"] == {"host": "code", "port": 4000, "location_name": "sim_platform"}
