"""The blob sensor against Azurite and the local backend (one listing per tick, no rows read, no
cap, a day requested once with all its files), the cursor rules, and the declarative automation
that follows bronze with silver and silver with the plot and the features, evaluated against a real
instance. Both sensors are on by default, and the automation's runs go first in the run queue."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DefaultSensorStatus,
    Definitions,
    SensorResult,
    SkipReason,
    build_sensor_context,
    evaluate_automation_conditions,
    materialize,
)
from dagster._core.definitions import automation_tick_evaluation_context as automation_tick
from dagster._core.definitions.partitions.context import partition_loading_context

from sim_platform.core.bronze import days as bronze_days
from sim_platform.core.ingest import read
from sim_platform.core.ingest.blob_watch import GRACE, BlobCursor, days_in_name
from sim_platform.dagster_instance import automation_run_requests  # (the daemon's ranges and runs, as the instance loads them)
from sim_platform.definitions import defs
from sim_platform.defs.automation import pipeline_automation
from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.gold.assets import module_day_features, module_day_plot
from sim_platform.defs.landing.assets import raw_files
from sim_platform.defs.landing.sensors import new_blob_sensor
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform.defs.silver.checks import silver_check_specs
from sim_platform.storage import BlobInfo
from sim_platform.storage.azure_store import AzureBlobStore
from sim_platform.storage.local_store import LocalBlobStore
from sim_platform_tests.defs.conftest import make_platform
from sim_platform_tests.defs.helpers import module_days

SILVER, PLOT, FEATURES, BRONZE = resampled_5s.key, module_day_plot.key, module_day_features.key, telemetry_day.key


def _tick(instance, resources, cursor=None):
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
        return new_blob_sensor(ctx)


def _one_day(sample_two_days: Path, tmp_path: Path, day: str, files: int) -> Path:
    """A small landing set: the first `files` exports of one sample day."""
    out = tmp_path / f"land_{day}"
    rel = Path(day.replace("-", "/"))
    (out / rel).mkdir(parents=True)
    for f in sorted((sample_two_days / rel).glob("*.parquet"))[:files]:
        shutil.copy(f, out / rel / f.name)
    return out


@pytest.fixture
def cheap_ticks(monkeypatch):
    """Counts listings of the container; reading any row of any file fails the test."""
    listings = []
    for cls in (LocalBlobStore, AzureBlobStore):
        original = cls.list_blobs

        def counted(self, prefix="", _original=original):
            listings.append(prefix)
            return _original(self, prefix)

        monkeypatch.setattr(cls, "list_blobs", counted)

    def no_rows(*args, **kwargs):
        raise AssertionError("a sensor tick read rows of a file")

    monkeypatch.setattr(read, "read_file", no_rows)
    monkeypatch.setattr(read, "read_day", no_rows)
    monkeypatch.setattr(bronze_days, "read_day", no_rows)
    return listings


@pytest.mark.parametrize("backend", ["local", "azurite"])
def test_new_blob_sensor_requests_exactly_the_affected_days(backend, request, tmp_path, instance, sample_two_days, cheap_ticks):
    cs = request.getfixturevalue("azurite").connection_string() if backend == "azurite" else ""
    platform = make_platform(tmp_path / "home", connection_string=cs)
    with platform.blob.open():
        pass
    assert isinstance(_tick(instance, platform.resources), SkipReason)  # empty container

    platform.land(_one_day(sample_two_days, tmp_path, "2024-06-05", 40), "telemetry/")
    platform.land(_one_day(sample_two_days, tmp_path, "2024-06-20", 40), "telemetry/")
    cheap_ticks.clear()
    first = _tick(instance, platform.resources)
    assert cheap_ticks == ["raw/"]  # one listing, nothing else
    assert isinstance(first, SensorResult)
    days = {rr.partition_key: rr for rr in first.run_requests}
    assert set(days) == {"2024-06-05", "2024-06-20"}
    assert all(rr.asset_selection == [BRONZE] for rr in first.run_requests)
    assert all("dagster/priority" not in rr.tags for rr in first.run_requests)  # queue priority 0, below automation's
    # landing is reported, day by day: the link between landing and bronze
    reported = {e.partition: e for e in first.asset_events}
    assert set(reported) == {"2024-06-05", "2024-06-20"} and {e.asset_key for e in first.asset_events} == {raw_files.key}
    assert reported["2024-06-05"].metadata["new_or_changed"].value == 40
    assert not first.dynamic_partitions_requests  # bronze registers modules, from the data
    assert not (platform.paths.raw_cache_dir / "raw").exists()  # dated by name: nothing downloaded

    # nothing new: skip (and the same blobs would give the same run keys anyway)
    assert isinstance(_tick(instance, platform.resources, first.cursor), SkipReason)

    # a new export for 2024-06-20 only -> exactly that day, with a new run key
    extra = tmp_path / "extra" / "2024/06/20"
    extra.mkdir(parents=True)
    src = sorted((sample_two_days / "2024/06/20").glob("*.parquet"))[50]
    shutil.copy(src, extra / src.name)
    platform.land(tmp_path / "extra", "telemetry/")
    second = _tick(instance, platform.resources, first.cursor)
    assert [rr.partition_key for rr in second.run_requests] == ["2024-06-20"]
    assert second.run_requests[0].run_key != days["2024-06-20"].run_key

    # the same bytes again: no change; new content under an old name: its day re-runs
    changed = next(iter(sorted((tmp_path / "land_2024-06-05" / "2024/06/05").glob("*.parquet"))))
    platform.land(tmp_path / "land_2024-06-05", "telemetry/")
    assert isinstance(_tick(instance, platform.resources, second.cursor), SkipReason)
    changed.write_bytes(sorted((sample_two_days / "2024/06/05").glob("*.parquet"))[100].read_bytes())
    platform.land(tmp_path / "land_2024-06-05", "telemetry/")
    third = _tick(instance, platform.resources, second.cursor)
    assert [rr.partition_key for rr in third.run_requests] == ["2024-06-05"]
    assert third.run_requests[0].run_key != days["2024-06-05"].run_key


def test_a_day_is_requested_once_with_all_its_files(platform, instance, tmp_path, cheap_ticks):
    """900 files of one day landing together (more than the old 400-per-tick cap): one tick, one
    request whose run key covers all of them, and the next tick has nothing left to do."""
    folder = tmp_path / "many" / "2024/06/20"
    folder.mkdir(parents=True)
    for i in range(900):  # never read in a tick, so their content does not matter
        (folder / f"telemetry-export-metrics-1-2024-06-20-{i // 60:02d}-{i % 60:02d}-00-{i:04d}.parquet").write_bytes(b"x")
    platform.land(tmp_path / "many", "telemetry/")
    first = _tick(instance, platform.resources)
    (rr,) = first.run_requests
    assert rr.partition_key == "2024-06-20"
    assert first.asset_events[0].metadata["new_or_changed"].value == 900
    assert isinstance(_tick(instance, platform.resources, first.cursor), SkipReason)


def test_undated_run_files_are_dated_from_their_metadata(platform, instance, generated_runs: Path):
    """HDF5 run files carry no date in their names: the tick caches them (bronze reads them there)
    and reads the run's start and end attributes, not its samples."""
    platform.land(generated_runs, "runs/")
    result = _tick(instance, platform.resources)
    assert sorted(rr.partition_key for rr in result.run_requests) == ["2024-07-01", "2024-07-02"]
    assert sorted(p.name for p in (platform.paths.raw_cache_dir / "raw/runs").rglob("*.h5"))


def _info(name: str, lm: datetime, etag: str = "e1") -> BlobInfo:
    return BlobInfo(name, 10, lm, etag, None)


def test_cursor_equal_timestamps_late_arrivals_and_changes():
    t = datetime(2024, 7, 1, 12, tzinfo=UTC)
    cursor = BlobCursor()
    a, b = _info("raw/a.parquet", t), _info("raw/b.parquet", t)
    assert cursor.new_blobs([b, a]) == [a, b]  # oldest first, ties by name
    cursor.advance([a])
    cursor = BlobCursor.parse(cursor.dump())
    assert cursor.new_blobs([a, b]) == [b]  # same timestamp as the watermark: not skipped
    cursor.advance([b])
    late = _info("raw/late.parquet", t - GRACE / 2)  # arrives now with an older timestamp
    assert cursor.new_blobs([a, b, late]) == [late]
    too_old = _info("raw/old.parquet", t - GRACE * 2)
    assert cursor.new_blobs([too_old]) == []  # beyond the grace window (documented limit)
    changed = _info("raw/a.parquet", t + timedelta(seconds=1), etag="e2")
    assert cursor.new_blobs([changed, b]) == [changed]
    cursor.advance([late, changed])
    assert set(cursor.seen) == {"raw/a.parquet", "raw/b.parquet", "raw/late.parquet"}
    cursor.advance([_info("raw/z.parquet", t + GRACE * 3)])
    assert set(cursor.seen) == {"raw/z.parquet"}  # bounded memory


def test_days_in_names():
    assert [
        d.isoformat() for d in days_in_name("raw/telemetry/2024/06/05/telemetry-export-metrics-1-2024-06-05-00-02-42-x.parquet")
    ] == ["2024-06-05"]
    assert days_in_name("raw/runs/run_01/sample_00.h5") == ()
    assert [d.isoformat() for d in days_in_name("raw/scada/2024-07-01/a.csv")] == ["2024-07-01"]


def _requested(defs, instance, cursor=None, when=None):
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor, evaluation_time=when)
    by_key = {k: {str(p) for p in result.get_requested_partitions(k)} for k in (BRONZE, SILVER, PLOT, FEATURES)}
    return result, by_key


def test_automation_follows_bronze_with_silver_then_plots_and_features(platform, instance, sample_two_days, tmp_path):
    assets = Definitions(
        assets=[raw_files, telemetry_day, resampled_5s, module_day_plot, module_day_features], resources=platform.resources
    )
    platform.land(_one_day(sample_two_days, tmp_path, "2024-06-05", 30), "telemetry/")
    noon = datetime(2024, 6, 10, 12, tzinfo=UTC)  # days later: automation reaches back to any day
    result, req = _requested(assets, instance, when=noon)
    assert not req[SILVER] and not req[PLOT] and not req[FEATURES]  # nothing has landed in bronze yet

    assert materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key="2024-06-05").success
    result, req = _requested(assets, instance, result.cursor, noon)
    # every module of the day of the bronze update, historic as it is; plots and features ride along
    # in the same tick (one run over the day's rectangle), since they follow what will be requested
    day = {f"2024-06-05|{pm}" for pm in instance.get_dynamic_partitions("phase_module")}
    assert len(day) == 28 and req[SILVER] == req[PLOT] == req[FEATURES] == day
    # the runs the automation sensor launches for them (the function the daemon's tick calls once
    # the project's instance module is loaded): one, over the day's rectangle, not 28 per module
    assert automation_tick.build_run_requests is automation_run_requests
    subsets = [r.true_subset for r in result.results if not r.true_subset.is_empty]
    with partition_loading_context(dynamic_partitions_store=instance):
        (run,) = automation_run_requests(subsets, assets.resolve_asset_graph(), {"dagster/priority": "1"}, False)
    assert set(run.asset_selection) == {SILVER, PLOT, FEATURES} and run.tags["dagster/priority"] == "1"
    assert set(run.asset_check_keys) == {c.key for c in silver_check_specs(SILVER.path)}  # the checks ride along
    tags = module_days(instance, "2024-06-05")
    assert {k: run.tags[k] for k in tags} == tags
    assert materialize(
        [resampled_5s, module_day_plot, module_day_features], instance=instance, resources=platform.resources, tags=tags
    ).success
    result, req = _requested(assets, instance, result.cursor, noon)
    assert not req[SILVER] and not req[PLOT] and not req[FEATURES]  # handled once, nothing twice

    # silver alone (from the UI, say): plots and features follow it, once its blocking check passed
    assert materialize([resampled_5s], instance=instance, resources=platform.resources, tags=tags).success
    result, req = _requested(assets, instance, result.cursor, noon)
    assert req[PLOT] == req[FEATURES] == day and not req[SILVER]


def _own_nodes(condition):
    """The nodes of a condition that are about the asset itself (not under any_deps/all_deps)."""
    yield condition
    if type(condition).__name__ not in ("AnyDepsCondition", "AllDepsCondition"):
        for child in condition.children:
            yield from _own_nodes(child)


def test_no_condition_lists_every_missing_partition():
    """A tick must not enumerate an asset's own (day, module) keys: `newly_missing()` (in `eager()`)
    lists all of them every tick -- 25,600 for 914 days x 28 modules, 2.5 s a tick alone, 5-26 s in
    the daemon. Asking whether bronze's day is missing is cheap (one key per day), and stays."""
    for asset in (telemetry_day, resampled_5s, module_day_plot, module_day_features):
        (condition,) = asset.automation_conditions_by_key.values()
        kinds = {type(n).__name__ for n in _own_nodes(condition)}
        assert "MissingAutomationCondition" not in kinds, (asset.key, kinds)
        assert "SinceCondition" in kinds and "RunInProgressAutomationCondition" in kinds, kinds  # the walk goes deep


def test_both_sensors_are_on_by_default_and_automation_runs_go_first():
    """A new instance follows the data with nobody switching anything on (the README's first hour:
    `sim-platform ui` after `demo`; test_ui.py watches it happen). A day already in bronze goes on to
    silver and its plot before the queue starts the next bronze day: the automation's runs carry a
    higher queue priority than the blob sensor's (0, checked above)."""
    assert {s.name: s.default_status for s in defs.sensors} == {
        "new_blob_sensor": DefaultSensorStatus.RUNNING,
        "pipeline_automation": DefaultSensorStatus.RUNNING,
    }
    assert int(pipeline_automation.run_tags["dagster/priority"]) > 0


def test_daily_bronze_condition_builds_yesterday(platform, instance):
    at = datetime(2024, 7, 2, 1, 31, tzinfo=UTC)
    assets = Definitions(assets=[raw_files, telemetry_day], resources=platform.resources)
    first = evaluate_automation_conditions(defs=assets, instance=instance, evaluation_time=at - timedelta(minutes=2))
    result = evaluate_automation_conditions(defs=assets, instance=instance, evaluation_time=at, cursor=first.cursor)
    assert result.get_requested_partitions(BRONZE) == {"2024-07-01"}
    later = evaluate_automation_conditions(
        defs=assets, instance=instance, evaluation_time=at + timedelta(minutes=5), cursor=result.cursor
    )
    assert later.get_requested_partitions(AssetKey(["bronze", "telemetry_day"])) == set()  # once per tick of the cron
