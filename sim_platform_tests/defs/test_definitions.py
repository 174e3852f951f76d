"""The one Definitions object: what it contains, and that the workspace file loads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey
from dagster._core.definitions.backfill_policy import BackfillPolicyType

from sim_platform.definitions import build_resources, defs

from sim_platform_tests.conftest import REPO


def test_assets_groups_policies_and_checks():
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {  # the layer is in the key and in the group
        "landing/raw_hdf5_runs": "landing",
        "landing/blob_synced_runs": "landing",
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
    assert {s.name for s in defs.sensors} == {"new_blob_sensor", "silver_after_bronze_sensor"}
    assert [s.name for s in defs.schedules] == [
        "daily_yesterday_schedule", "quarterly_training_set_schedule", "monthly_training_set_refresh"
    ]


def test_resources_follow_the_environment(tmp_path):
    res = build_resources({"SIM_PLATFORM_HOME": str(tmp_path), "SIM_PLATFORM_SILVER_BACKEND": "local"})
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
    silver = build_resources(env)["silver_store"]
    assert (silver.backend, silver.root) == ("blob", "hours/")
    silver = build_resources({**env, "SIM_PLATFORM_SILVER_BACKEND": "local"})["silver_store"]
    assert (silver.backend, silver.root) == ("local", str(tmp_path / "silver"))


def test_workspace_yaml_loads():
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "sim_platform" in out.stdout + out.stderr
