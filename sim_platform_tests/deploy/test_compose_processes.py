"""The compose stack without containers: the same processes (PostgreSQL from Debian, Azurite,
`dagster code-server`, `dagster-webserver`, `dagster-daemon`) with the compose deployment's
`dagster.yaml`; a blob lands in Azurite, the sensors (turned on from the CLI, as a user would)
trigger the bronze run and, by declarative automation, silver; the runs' success is read back from
PostgreSQL itself, and the steps' stdout/stderr from Azurite, where the instance's
AzureBlobComputeLogManager put them."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from sim_platform.storage import StorageSettings, open_blob_store
from sim_platform.storage.azurite import free_port
from sim_platform_tests.conftest import REPO
from sim_platform_tests.core.telemetry_files import epoch, module_tags, write_export
from sim_platform_tests.postgres import PG_BIN, Postgres
from sim_platform_tests.processes import stop_processes

BIN = REPO / ".venv" / "bin"


def wait_for_code_server(port: int, env: dict, procs: list[subprocess.Popen]) -> None:
    """Until the code server answers its gRPC health check (or a process dies, or 180 s pass)."""
    check = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)]
    wait_for(lambda: subprocess.run(check, env=env, capture_output=True).returncode == 0, "the code server", 180, procs)


def code_server_command(port: int) -> list[str]:
    """The compose `code` service's command (docker-compose.yml), on a loopback port."""
    return [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port), "-m", "sim_platform.definitions"]


def wait_for(check, what: str, timeout: float, procs: list[subprocess.Popen]):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args[0]} exited early:\n{Path(p.log).read_text()[-4000:]}"
        value = check()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def start(name: str, commands: dict, env: dict, cwd: Path, logs: Path) -> subprocess.Popen:
    log = logs / f"{name}.log"
    proc = subprocess.Popen(commands[name], env=env, cwd=cwd, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def psql(pg: Postgres, sql: str) -> str:
    res = subprocess.run(
        [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d", "dagster", "-tAc", sql],
        capture_output=True,
        text=True,
    )
    return res.stdout.strip() if res.returncode == 0 else ""


def test_sensor_triggered_run_completes_with_state_in_postgres(tmp_path: Path, azurite):
    container = "compose-stack"
    conn = azurite.connection_string()
    with Postgres() as pg:  # its own /tmp folder: the server user cannot enter pytest's
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(REPO / "deploy/compose/dagster.yaml", home / "dagster.yaml")  # the compose file's instance
        code_port, web_port = free_port(), free_port()
        workspace = tmp_path / "workspace.yaml"  # deploy/compose/workspace.yaml, with the `code` host on loopback
        workspace.write_text(
            (REPO / "deploy/compose/workspace.yaml")
            .read_text()
            .replace("host: code", "host: 127.0.0.1")
            .replace("port: 4000", f"port: {code_port}")
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SIM_PLATFORM_"))},
            "DAGSTER_HOME": str(home),
            "SIM_PLATFORM_HOME": str(tmp_path / "platform"),
            "SIM_PLATFORM_SILVER_BACKEND": "blob",
            "AZURE_STORAGE_CONNECTION_STRING": conn,
            "AZURE_STORAGE_CONTAINER_NAME": container,
            "DAGSTER_POSTGRES_HOST": "127.0.0.1",
            "DAGSTER_POSTGRES_PORT": str(pg.port),
            "DAGSTER_POSTGRES_USER": "postgres",
            "DAGSTER_POSTGRES_PASSWORD": "trust-auth-ignores-it",
            "DAGSTER_POSTGRES_DB": "dagster",
        }
        logs = tmp_path / "logs"
        logs.mkdir()
        commands = {  # the compose services' commands
            "code": code_server_command(code_port),
            "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), "-w", str(workspace)],
            "daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
        }
        procs: list[subprocess.Popen] = []
        try:
            procs.append(start("code", commands, env, tmp_path, logs))
            wait_for_code_server(code_port, env, procs)
            for name in ("webserver", "daemon"):
                procs.append(start(name, commands, env, tmp_path, logs))

            def ui_up():
                try:
                    return urllib.request.urlopen(f"http://127.0.0.1:{web_port}/server_info", timeout=2).status == 200
                except OSError:
                    return False

            wait_for(ui_up, "the webserver", 120, procs)

            # a telemetry export lands in the container under raw/
            export = write_export(
                tmp_path / "upload/export-1.parquet",
                [(epoch("2024-07-05T10:00:01") + i, "module_voltage", "50.5", module_tags(1, 1)) for i in range(0, 600, 3)],
            )
            with open_blob_store(StorageSettings(container=container, connection_string=conn)) as store:
                store.create_container()
                store.upload_file("raw/2024/07/05/export-1.parquet", export)

            for name in ("new_blob_sensor", "pipeline_automation"):
                started = subprocess.run(
                    [str(BIN / "dagster"), "sensor", "start", name, "-w", str(workspace)],
                    env=env,
                    capture_output=True,
                    text=True,
                    cwd=tmp_path,
                )
                assert started.returncode == 0, started.stderr + started.stdout

            sql = (
                "select r.status from runs r join run_tags t on t.run_id = r.run_id "
                "where t.key = 'dagster/sensor_name' and t.value = 'new_blob_sensor'"
            )
            status = wait_for(
                lambda: (s := psql(pg, sql)) in ("SUCCESS", "FAILURE", "CANCELED") and s, "the sensor's run", 300, procs
            )
            assert status == "SUCCESS", (logs / "daemon.log").read_text()[-3000:]
            materialized = psql(
                pg,
                "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
                "and asset_key like '%telemetry_day%' and partition = '2024-07-05'",
            )
            assert int(materialized or 0) >= 1
            # declarative automation follows bronze with silver (every module of the day), under the real daemon
            silver_sql = (
                "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
                "and asset_key like '%resampled_5s%' and partition like '2024-07-05|%'"
            )
            wait_for(lambda: int(psql(pg, silver_sql) or 0) >= 1, "silver by automation", 300, procs)
            # compute logs of the bronze run are blobs in Azurite (dagster-azure's compute log manager)
            run_id = psql(
                pg,
                "select r.run_id from runs r join run_tags t on t.run_id = r.run_id "
                "where t.key = 'dagster/sensor_name' and t.value = 'new_blob_sensor'",
            )

            def logs_uploaded():
                with open_blob_store(StorageSettings(container="dagster-compute-logs", connection_string=conn)) as logs_store:
                    return [b.name for b in logs_store.list_blobs("dagster/storage/") if run_id in b.name]

            names = wait_for(logs_uploaded, "the compute logs in Azurite", 60, procs)
            assert any(n.endswith((".err", ".out")) for n in names), names
        finally:
            stop_processes(procs)
