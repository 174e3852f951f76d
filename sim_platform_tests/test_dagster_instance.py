"""The embedded instance's event log (`sim_platform.dagster_instance.BatchedSqliteEventLogStorage`)
against Dagster's own SQLite event log: the same runs over (day, phase_module) rectangles on both
real instances, batched events on (`DAGSTER_EVENT_BATCH_SIZE`), give the same partitions
materialised, failed and planned, the same latest materialisations and the same run logs; its files
are read back by the stock class; the packaged dagster.yaml loads it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    MaterializeResult,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as END
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as START

from sim_platform.dagster_instance import BatchedSqliteEventLogStorage

PACKAGED = Path(__file__).resolve().parents[1] / "sim_platform" / "config" / "dagster.yaml"
MODULES = [f"phase1_module{m}" for m in range(1, 6)]
parts = MultiPartitionsDefinition(
    {
        "day": DailyPartitionsDefinition(start_date="2024-07-01", end_date="2024-07-11"),
        "phase_module": StaticPartitionsDefinition(MODULES),
    }
)


def key(day: str, pm: str) -> MultiPartitionKey:
    return MultiPartitionKey({"day": day, "phase_module": pm})


@asset(
    key_prefix="silver",
    partitions_def=parts,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[AssetCheckSpec("cadence", asset=AssetKey(["silver", "resampled"]), blocking=True)],
)
def resampled(context):
    """Every partition of the range with metadata, in one output (Dagster batches these events), and
    a blocking check's result."""
    for k in context.partition_keys:
        context.add_asset_metadata({"rows": len(str(k)), "module": k.keys_by_dimension["phase_module"]}, partition_key=k)
    return MaterializeResult(check_results=[AssetCheckResult(check_name="cadence", passed=True)])


@asset(key_prefix="gold", partitions_def=parts, backfill_policy=BackfillPolicy.single_run(), deps=[resampled])
def half_fails(context):
    """Materialises one module of each day, then fails: the rest of the range is failed."""
    for k in context.partition_keys:
        if k.keys_by_dimension["phase_module"] == MODULES[1]:
            yield AssetMaterialization(asset_key=context.asset_key, partition=k, metadata={"ok": True})
    raise RuntimeError("a module-day broke")


def _instance(home: Path, project: bool) -> DagsterInstance:
    home.mkdir(parents=True)
    text = "telemetry:\n  enabled: false\n"
    if project:
        text += "event_log_storage:\n  module: sim_platform.dagster_instance\n  class: BatchedSqliteEventLogStorage\n"
        text += f"  config:\n    dagster_home: {home}\n"
    (home / "dagster.yaml").write_text(text)
    return DagsterInstance.from_config(str(home))


def _runs(instance: DagsterInstance) -> None:
    first = materialize(
        [resampled], instance=instance, tags={START: key("2024-07-01", MODULES[0]), END: key("2024-07-10", MODULES[-1])}
    )
    assert first.success
    second = materialize(
        [resampled, half_fails],
        selection=[half_fails],
        instance=instance,
        tags={START: key("2024-07-03", MODULES[1]), END: key("2024-07-06", MODULES[-1])},
        raise_on_error=False,
    )
    assert not second.success


def _state(instance: DagsterInstance) -> dict:
    """What the UI shows of both assets, independent of storage ids and timestamps."""
    out = {}
    for asset_key in (resampled.key, half_fails.key):
        latest = instance.get_latest_materialization_event(asset_key)
        out[asset_key.to_user_string()] = {
            "materialized": sorted(instance.get_materialized_partitions(asset_key)),
            "status": {
                k: str(v) for k, v in instance.get_status_by_partition(asset_key, parts.get_partition_keys(), parts).items()
            },
            "planned": sorted(
                str(e.dagster_event.event_specific_data.partition)
                for run in instance.get_runs()
                for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
                if e.dagster_event.asset_key == asset_key
            ),
            "latest": (latest.dagster_event.partition, dict(latest.asset_materialization.metadata)) if latest else None,
            "rows": sorted(
                (str(r.partition_key), r.asset_materialization.metadata["rows"].value)
                for r in instance.fetch_materializations(asset_key, limit=1000).records
                if "rows" in r.asset_materialization.metadata
            ),
        }
    check = AssetCheckKey(resampled.key, "cadence")
    out["check"] = [
        (r.status.value, r.event.dagster_event_type.value if r.event else None)
        for r in instance.event_log_storage.get_asset_check_execution_history(check, limit=10)
    ]
    out["runs"] = sorted(
        tuple(e.dagster_event_type.value for e in instance.all_logs(run.run_id) if e.dagster_event) for run in instance.get_runs()
    )
    return out


def test_batched_event_log_records_what_the_stock_one_does(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    states = {}
    for project in (False, True):
        with _instance(tmp_path / ("project" if project else "stock"), project) as instance:
            assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage) == project
            _runs(instance)
            states[project] = _state(instance)
    stock, ours = states[False], states[True]
    assert ours == stock
    assert ours["check"] == [("SUCCEEDED", "ASSET_CHECK_EVALUATION")]  # the check's history, as the stock log keeps it
    silver, gold = ours["silver/resampled"], ours["gold/half_fails"]
    assert len(silver["materialized"]) == 50 and len(silver["planned"]) == 50  # 10 days x 5 modules, one run
    assert gold["materialized"] == [f"2024-07-0{d}|{MODULES[1]}" for d in range(3, 7)]
    failed = sorted(k for k, v in gold["status"].items() if v == "AssetPartitionStatus.FAILED")
    assert len(failed) == 4 * 4 - 4  # the rest of the rectangle of 4 days x 4 modules

    # the project's files are Dagster's own: the stock class reads the same records back
    reader = SqliteEventLogStorage(str(tmp_path / "project" / "history" / "runs"))
    got = reader.fetch_materializations(resampled.key, limit=1000).records
    assert sorted(str(r.partition_key) for r in got) == silver["materialized"]
    reader.dispose()


def test_commits_are_not_synced_one_by_one(tmp_path):
    storage = BatchedSqliteEventLogStorage(str(tmp_path))
    with storage.index_connection() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL (the stock: 2, FULL)
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with sqlite3.connect(tmp_path / "history" / "runs" / "index.db") as plain:
        assert plain.execute("PRAGMA synchronous").fetchone()[0] == 2  # a plain connection keeps SQLite's default


def test_the_packaged_instance_uses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text(PACKAGED.read_text())
    assert yaml.safe_load(PACKAGED.read_text())["event_log_storage"]["class"] == "BatchedSqliteEventLogStorage"
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
        assert Path(instance.event_log_storage._base_dir) == tmp_path / "history" / "runs"


def test_opening_the_packaged_instance_makes_the_daemon_look_every_second(tmp_path):
    """The daemon opens its instance before its loops start; opening it (and nothing else of the
    project) is what installs the 1 s look, so a 5 s sensor ticks every 5 s, not every 5 or 10."""
    (tmp_path / "dagster.yaml").write_text(PACKAGED.read_text())
    code = (
        "import sys\n"
        "from dagster import DagsterInstance\n"
        "from dagster._daemon import asset_daemon, sensor\n"
        "before = (sensor.MIN_INTERVAL_LOOP_TIME, asset_daemon.MIN_INTERVAL_LOOP_SECONDS)\n"
        "assert 'sim_platform.dagster_instance' not in sys.modules\n"
        "with DagsterInstance.get():\n"
        "    print(before, (sensor.MIN_INTERVAL_LOOP_TIME, asset_daemon.MIN_INTERVAL_LOOP_SECONDS))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(5,", "5)", "(1,", "1)"]


def test_no_home_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(ValueError, match="DAGSTER_HOME is not set"):
        BatchedSqliteEventLogStorage()


def test_a_watcher_sees_a_run_log_grow_and_reads_touch_nothing(tmp_path):
    """The UI follows a run's log by watching its database file (`watch`): with the log kept in the
    write-ahead log, a committed write still changes the file, so a second storage on the same
    folder (as the webserver's beside the run's process) is told of every event."""
    from dagster import DagsterEvent, DagsterEventType, EventLogEntry
    from dagster._core.events import EngineEventData

    writer, reader = BatchedSqliteEventLogStorage(str(tmp_path)), BatchedSqliteEventLogStorage(str(tmp_path))
    seen = []

    def entry(i: int) -> EventLogEntry:
        event = DagsterEvent(
            DagsterEventType.ENGINE_EVENT.value, "job", message=f"event {i}", event_specific_data=EngineEventData()
        )
        return EventLogEntry(
            error_info=None, level="INFO", user_message="", run_id="run1", timestamp=time.time(), dagster_event=event
        )

    writer.store_event(entry(0))  # the run's database exists before it is watched, as in the UI
    reader.watch("run1", None, lambda e, cursor: seen.append(e.dagster_event.message))
    for i in range(1, 4):
        writer.store_event(entry(i))
    deadline = time.time() + 10
    while len(seen) < 4 and time.time() < deadline:
        time.sleep(0.05)
    assert seen == ["event 0", "event 1", "event 2", "event 3"]  # from the start (no cursor)
    db = Path(reader.path_for_shard("run1"))
    stamp = db.stat().st_mtime_ns
    time.sleep(0.05)
    assert len(reader.get_records_for_run("run1").records) == 4
    assert db.stat().st_mtime_ns == stamp  # a read is no change: no watcher is woken by reading
    reader.dispose()
    writer.dispose()
