"""The one Definitions object: what it contains, and that the workspace file loads it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from dagster import AssetKey
from dagster._core.definitions.backfill_policy import BackfillPolicyType

from sim_platform.definitions import build_resources, defs
from sim_platform.environment import PlatformEnv
from sim_platform_tests.conftest import REPO


def _env(variables: dict) -> PlatformEnv:
    """Exactly these variables: neither the test process's environment nor a `.env` file."""
    return PlatformEnv.read(variables, env_file=None)


def test_assets_groups_policies_and_checks():
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {  # the layer is in the key and in the group
        "landing/raw_hdf5_runs": "landing",
        "landing/blob_synced_runs": "landing",
        "landing/raw_files": "landing",
        "bronze/telemetry_day": "bronze",
        "silver/resampled_5s": "silver",
        "gold/module_day_plot": "gold",
        "gold/module_day_features": "gold",
        "gold/ml_training_set": "gold",
    }
    for key in ("bronze/telemetry_day", "silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features"):
        assert graph.get(AssetKey.from_user_string(key)).backfill_policy.policy_type == BackfillPolicyType.SINGLE_RUN
    # the training set of a quarter depends on every module-day of the quarter
    assert graph.get(AssetKey.from_user_string("gold/ml_training_set")).parent_keys == {AssetKey(["gold", "module_day_features"])}
    checks = {c.name: c for c in defs.resolve_assets_def(AssetKey(["silver", "resampled_5s"])).check_specs}
    assert checks["cadence_and_schema"].blocking and not checks["completeness"].blocking
    assert {s.name for s in defs.sensors} == {"new_blob_sensor", "pipeline_automation"}
    assert {s.name for s in defs.schedules} == {"quarterly_training_set_schedule", "monthly_training_set_refresh"}


def test_layers_are_connected_and_automated():
    """landing -> bronze -> silver -> gold in the graph; what follows from data is a condition."""
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()}
    assert parents["landing/raw_files"] == {"landing/blob_synced_runs"}
    assert parents["bronze/telemetry_day"] == {"landing/raw_files"}
    assert parents["silver/resampled_5s"] == {"bronze/telemetry_day"}
    assert parents["gold/module_day_plot"] == parents["gold/module_day_features"] == {"silver/resampled_5s"}
    labels = {
        k: graph.get(AssetKey.from_user_string(k)).automation_condition.get_label()
        for k in ("bronze/telemetry_day", "silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features")
    }
    assert labels == {
        "bronze/telemetry_day": "daily at 30 1 * * * UTC",
        "silver/resampled_5s": "after upstream",
        "gold/module_day_plot": "after checked upstream",
        "gold/module_day_features": "after checked upstream",
    }
    # the steps that touch the container retry with backoff; bad data does not (Failure(allow_retries=False))
    for key in (
        "landing/blob_synced_runs",
        "bronze/telemetry_day",
        "silver/resampled_5s",
        "gold/module_day_plot",
        "gold/module_day_features",
        "gold/ml_training_set",
    ):
        policy = defs.resolve_assets_def(AssetKey.from_user_string(key)).op.retry_policy
        assert policy is not None and policy.max_retries >= 1 and policy.backoff is not None, key


def test_partition_days_come_from_configuration(tmp_path):
    """`partitions.start`/`end` in pipelines.yaml; the environment overrides them for one deployment."""
    import yaml

    from sim_platform.defs.partitions import day_range
    from sim_platform_tests.core.tabular_files import PACKAGED

    assert day_range(_env({})) == (date(2024, 6, 1), None)
    raw = yaml.safe_load(PACKAGED.read_text())
    raw["partitions"] = {"start": "2024-07-01", "end": "2024-08-01"}
    config = tmp_path / "p.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert day_range(_env({"SIM_PLATFORM_PIPELINES": str(config)})) == (date(2024, 7, 1), date(2024, 8, 1))
    assert day_range(_env({"SIM_PLATFORM_PIPELINES": str(config), "SIM_PLATFORM_START_DATE": "2024-07-15"})) == (
        date(2024, 7, 15),
        date(2024, 8, 1),
    )
    # a replayed data set: exactly its days, so the UI's dialogs open where the data is
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sim_platform.defs.partitions import daily_partitions as d, quarterly_partitions as q\n"
            "k = d.get_partition_keys(); print(k[0], k[-1], len(k), q.get_partition_keys())",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "SIM_PLATFORM_PIPELINES": str(config)},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["2024-07-01", "2024-07-31", "31", "['2024-07-01']"]


def test_definitions_load_quietly(tmp_path):
    """No Dagster beta/preview/deprecation notice, and no deprecation of our own, at load."""
    res = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import sim_platform.definitions as d; d.defs.resolve_asset_graph()"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path), "SIM_PLATFORM_HOME": str(tmp_path / "home")},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Warning" not in res.stderr


def test_resources_follow_the_environment(tmp_path):
    res = build_resources(_env({"SIM_PLATFORM_HOME": str(tmp_path), "SIM_PLATFORM_SILVER_BACKEND": "local"}))
    assert res["paths"].bronze_dir == tmp_path / "bronze"
    assert res["silver_store"].spec().root == str(tmp_path / "silver")
    assert res["paths"].pipelines().destinations.gold.prefix == "gold/"
    assert res["warehouse"].describe() == f"duckdb {tmp_path / 'gold/warehouse.duckdb'}"


def test_silver_goes_where_the_pipelines_file_says(tmp_path):
    """`destinations.silver` decides folder or container; the environment of a deployment still wins."""
    import yaml

    from sim_platform_tests.core.tabular_files import PACKAGED

    raw = yaml.safe_load(PACKAGED.read_text())
    raw["destinations"]["silver"] = {"blob_prefix": "hours"}
    config = tmp_path / "p.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {"SIM_PLATFORM_HOME": str(tmp_path), "SIM_PLATFORM_PIPELINES": str(config)}
    silver = build_resources(_env(env))["silver_store"]
    assert (silver.backend, silver.root) == ("blob", "hours/")
    silver = build_resources(_env({**env, "SIM_PLATFORM_SILVER_BACKEND": "local"}))["silver_store"]
    assert (silver.backend, silver.root) == ("local", str(tmp_path / "silver"))


def test_workspace_yaml_loads():
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "sim_platform" in out.stdout + out.stderr


def test_dg_project_layout():
    """`[tool.dg]` names modules that exist, and the dg CLI (dagster-dg-cli, a dependency) loads and lists them."""
    import importlib
    import json
    import tomllib

    dg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dg"]
    assert dg["directory_type"] == "project"
    project = dg["project"]
    for key in ("root_module", "defs_module", "code_location_target_module"):
        importlib.import_module(project[key])
    layers = {p.name for p in (REPO / "sim_platform/defs").iterdir() if (p / "__init__.py").is_file()}
    assert layers == {"landing", "bronze", "silver", "gold"}
    dg_bin = str(Path(sys.executable).parent / "dg")
    out = subprocess.run([dg_bin, "check", "defs"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "All definitions loaded successfully" in out.stdout + out.stderr, out.stderr[-2000:]
    assert "Warning" not in out.stdout + out.stderr, out.stdout + out.stderr  # a quiet start
    out = subprocess.run([dg_bin, "list", "defs", "--json"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    listed = json.loads(out.stdout)
    assert {a["asset_key"] for a in listed["assets"]} == {
        "landing/raw_hdf5_runs",
        "landing/blob_synced_runs",
        "landing/raw_files",
        "bronze/telemetry_day",
        "silver/resampled_5s",
        "gold/module_day_plot",
        "gold/module_day_features",
        "gold/ml_training_set",
    }
    assert {s["name"] for s in listed["sensors"]} == {"new_blob_sensor", "pipeline_automation"}
