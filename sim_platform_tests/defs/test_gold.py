"""The gold layer through Dagster: module-day features from silver, the quarterly training set in
the container and in the warehouse (embedded DuckDB, and a real PostgreSQL), and the schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import build_schedule_context, materialize

from sim_platform.core.etl import run_etl
from sim_platform.core.gold.features import FEATURE_SCHEMA
from sim_platform.core.gold.features import module_day_features as core_features
from sim_platform.core.gold.warehouse import open_warehouse
from sim_platform.core.store.layout import LocalTarget
from sim_platform.core.store.read import read_stored_day
from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.gold.assets import ml_training_set, module_day_features
from sim_platform.defs.gold.schedules import monthly_training_set_refresh, quarterly_training_set_schedule
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform_tests.defs.helpers import mat_partitions, module_days, range_tags
from sim_platform_tests.postgres import Postgres

DAYS = ("2024-07-01", "2024-07-02")


def _silver_and_features(platform, instance, runs: Path) -> list[str]:
    """Land the runs, build bronze, silver and features for both days; returns the phase_modules."""
    platform.land(runs, "runs/")
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, tags=range_tags(*DAYS)).success
    pms = instance.get_dynamic_partitions("phase_module")
    r = materialize(
        [resampled_5s, module_day_features], instance=instance, resources=platform.resources, tags=module_days(instance, *DAYS)
    )
    assert r.success
    assert mat_partitions(r, "gold/module_day_features") == {f"{d}|{pm}" for d in DAYS for pm in pms}
    events = [e for e in r.get_asset_materialization_events() if e.asset_key.to_user_string() == "gold/module_day_features"]
    rows = {
        e.event_specific_data.materialization.partition: e.event_specific_data.materialization.metadata["rows"].value
        for e in events
    }
    assert rows == {f"{d}|{pm}": int("_module" in pm) for d in DAYS for pm in pms}  # one row per module and day
    return pms


def _training_set(platform, instance):
    r = materialize([ml_training_set], instance=instance, resources=platform.resources, partition_key="2024-07-01")
    assert r.success
    (event,) = r.get_asset_materialization_events()
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


def test_features_and_training_set_in_duckdb(platform, instance, generated_runs: Path, tmp_path: Path):
    pms = _silver_and_features(platform, instance, generated_runs)
    modules = [pm for pm in pms if "_module" in pm]
    assert len(modules) == 24

    meta = _training_set(platform, instance)
    assert meta["quarter"] == "2024Q3" and meta["rows"] == 48 and meta["modules"] == 24 and meta["days"] == 2
    assert (meta["inserted"], meta["updated"], meta["deleted"]) == (48, 0, 0)
    assert meta["warehouse"].startswith("duckdb ") and "](data:image/png;base64,iVBORw0KGgo" in meta["throughput"]
    stored = pq.read_table(platform.home / "blobstore" / platform.blob.container / "gold/ml_training_set/2024Q3.parquet")
    assert stored.num_rows == 48 and stored.schema.names == FEATURE_SCHEMA.names

    # the same numbers as the core function over `sim-platform etl` output: nothing is computed twice
    etl_out = tmp_path / "etl"
    assert run_etl(platform.paths.raw_cache_dir, etl_out, workers=2).ok
    silver = LocalTarget(etl_out)
    day = date(2024, 7, 2)
    expected = core_features(
        read_stored_day(silver, "phase2_module5", day), read_stored_day(silver, "system", day), day, "phase2_module5"
    )
    got = stored.filter(pc.and_(pc.equal(stored["phase_module"], "phase2_module5"), pc.equal(stored["date"], day)))
    assert got.to_pylist() == expected.to_pylist()
    assert expected["discharge_energy_kwh"][0].as_py() > 0 and expected["run_hours"][0].as_py() > 0

    # a rerun replaces: still one row per key
    again = _training_set(platform, instance)
    assert (again["inserted"], again["updated"], again["deleted"]) == (0, 48, 0)
    with open_warehouse(None, platform.home / "gold/warehouse.duckdb") as wh:
        table = wh.read_table()
    assert table.num_rows == 48
    assert len({(r["date"], r["phase_module"]) for r in table.select(["date", "phase_module"]).to_pylist()}) == 48


def test_training_set_in_postgres(platform, instance, generated_runs: Path, monkeypatch):
    _silver_and_features(platform, instance, generated_runs)
    with Postgres() as pg:
        monkeypatch.setenv("SIM_PLATFORM_WAREHOUSE_URL", pg.url)
        meta = _training_set(platform, instance)
        assert meta["warehouse"].startswith("postgresql ") and meta["rows"] == 48
        again = _training_set(platform, instance)
        assert (again["inserted"], again["updated"]) == (0, 48)
        with open_warehouse(pg.url, "unused.duckdb") as wh:
            assert wh.row_count() == 48
            assert wh.sql("SELECT count(DISTINCT (date, phase_module)) FROM ml_training_set")[0][0] == 48
    assert not (platform.home / "gold/warehouse.duckdb").exists()


def test_training_set_without_features_fails_clearly(platform, instance):
    r = materialize(
        [ml_training_set], instance=instance, resources=platform.resources, partition_key="2024-07-01", raise_on_error=False
    )
    assert not r.success
    failure = [e for e in r.all_events if e.is_step_failure][0]
    assert "no module-day features for 2024Q3" in str(failure.event_specific_data.error)


@pytest.mark.parametrize(
    ("schedule", "tick", "partition"),
    [
        (quarterly_training_set_schedule, "2024-10-01", "2024-07-01"),  # the quarter that just ended
        (quarterly_training_set_schedule, "2025-01-01", "2024-10-01"),
        (monthly_training_set_refresh, "2024-08-01", "2024-07-01"),  # the quarter in progress
        (monthly_training_set_refresh, "2024-12-01", "2024-10-01"),
    ],
)
def test_training_set_schedules_pick_the_quarter(schedule, tick: str, partition: str):
    when = datetime.fromisoformat(tick).replace(hour=4, tzinfo=UTC)
    from sim_platform.definitions import defs

    with build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def()) as context:
        (request,) = list(schedule.evaluate_tick(context).run_requests)
    assert request.partition_key == partition
