"""Sensor ticks with `build_sensor_context` against Azurite and the local backend, the cursor rules,
the bronze -> silver follow-up, and the daily schedule."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import RunRequest, SensorResult, SkipReason, build_schedule_context, build_sensor_context, materialize

from sim_platform.defs.assets import module_day_plot, resampled_5s, telemetry_day
from sim_platform.defs.gold_assets import module_day_features
from sim_platform.defs.blob_watch import GRACE, BlobCursor, contiguous_blocks
from sim_platform.defs.partitions import split_key
from sim_platform.defs.schedules import daily_schedule
from sim_platform.defs.sensors import PHASE_MODULES_TAG, new_blob_sensor, silver_after_bronze_sensor
from sim_platform.storage import BlobInfo
from sim_platform_tests.defs.conftest import make_platform
from sim_platform_tests.defs.helpers import mat_partitions


def _tick(sensor, instance, resources, cursor=None):
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
        result = sensor(ctx)
    return result


def _apply(result: SensorResult, instance) -> None:
    """What the sensor daemon does with dynamic partition requests."""
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))


def _one_day(sample_two_days: Path, tmp_path: Path, day: str, files: int) -> Path:
    """A small landing set: the first `files` exports of one sample day."""
    out = tmp_path / f"land_{day}"
    rel = Path(day.replace("-", "/"))
    (out / rel).mkdir(parents=True)
    for f in sorted((sample_two_days / rel).glob("*.parquet"))[:files]:
        shutil.copy(f, out / rel / f.name)
    return out


@pytest.mark.parametrize("backend", ["local", "azurite"])
def test_new_blob_sensor_requests_exactly_the_affected_days(backend, request, tmp_path, instance, sample_two_days):
    cs = request.getfixturevalue("azurite").connection_string() if backend == "azurite" else ""
    platform = make_platform(tmp_path / "home", connection_string=cs)
    with platform.blob.open():
        pass
    assert isinstance(_tick(new_blob_sensor, instance, platform.resources), SkipReason)  # empty container

    platform.land(_one_day(sample_two_days, tmp_path, "2024-06-05", 40), "telemetry/")
    platform.land(_one_day(sample_two_days, tmp_path, "2024-06-20", 40), "telemetry/")
    first = _tick(new_blob_sensor, instance, platform.resources)
    assert isinstance(first, SensorResult)
    days = {rr.partition_key: rr for rr in first.run_requests}
    assert set(days) == {"2024-06-05", "2024-06-20"}
    assert all(rr.asset_selection == [telemetry_day.key] for rr in first.run_requests)
    pms = set(days["2024-06-05"].tags[PHASE_MODULES_TAG].split(","))
    assert {"phase1_module1", "system"} <= pms
    (add,) = first.dynamic_partitions_requests
    assert add.partitions_def_name == "phase_module" and set(add.partition_keys) >= pms
    _apply(first, instance)

    # nothing new: skip (and the same blobs would give the same run keys anyway)
    assert isinstance(_tick(new_blob_sensor, instance, platform.resources, first.cursor), SkipReason)

    # a new export for 2024-06-20 only -> exactly that day, with a new run key
    extra = tmp_path / "extra" / "2024/06/20"
    extra.mkdir(parents=True)
    src = sorted((sample_two_days / "2024/06/20").glob("*.parquet"))[50]
    shutil.copy(src, extra / src.name)
    platform.land(tmp_path / "extra", "telemetry/")
    second = _tick(new_blob_sensor, instance, platform.resources, first.cursor)
    assert [rr.partition_key for rr in second.run_requests] == ["2024-06-20"]
    assert second.run_requests[0].run_key != days["2024-06-20"].run_key
    assert not second.dynamic_partitions_requests  # no new module

    # a changed blob (new etag) re-runs its day
    changed = next(iter(sorted((tmp_path / "land_2024-06-05" / "2024/06/05").glob("*.parquet"))))
    changed.write_bytes((sample_two_days / "2024/06/05" / changed.name).read_bytes() + b"")  # same bytes: no change
    platform.land(tmp_path / "land_2024-06-05", "telemetry/")
    assert isinstance(_tick(new_blob_sensor, instance, platform.resources, second.cursor), SkipReason)
    other = sorted((sample_two_days / "2024/06/05").glob("*.parquet"))[100]
    changed.write_bytes(other.read_bytes())  # new content under an old name
    platform.land(tmp_path / "land_2024-06-05", "telemetry/")
    third = _tick(new_blob_sensor, instance, platform.resources, second.cursor)
    assert [rr.partition_key for rr in third.run_requests] == ["2024-06-05"]
    assert third.run_requests[0].run_key != days["2024-06-05"].run_key


def _info(name: str, lm: datetime, etag: str = "e1") -> BlobInfo:
    return BlobInfo(name, 10, lm, etag, None)


def test_cursor_equal_timestamps_late_arrivals_and_changes():
    t = datetime(2024, 7, 1, 12, tzinfo=timezone.utc)
    cursor = BlobCursor()
    a, b = _info("raw/a.parquet", t), _info("raw/b.parquet", t)
    assert cursor.new_blobs([b, a], limit=1) == [a]  # oldest first, ties by name
    cursor.advance([a])
    cursor = BlobCursor.parse(cursor.dump())
    assert cursor.new_blobs([a, b], limit=10) == [b]  # same timestamp as the watermark: not skipped
    cursor.advance([b])
    late = _info("raw/late.parquet", t - GRACE / 2)  # arrives now with an older timestamp
    assert cursor.new_blobs([a, b, late], limit=10) == [late]
    too_old = _info("raw/old.parquet", t - GRACE * 2)
    assert cursor.new_blobs([too_old], limit=10) == []  # beyond the grace window (documented limit)
    changed = _info("raw/a.parquet", t + timedelta(seconds=1), etag="e2")
    assert cursor.new_blobs([changed, b], limit=10) == [changed]
    cursor.advance([late, changed])
    assert set(cursor.seen) == {"raw/a.parquet", "raw/b.parquet", "raw/late.parquet"}
    cursor.advance([_info("raw/z.parquet", t + GRACE * 3)])
    assert set(cursor.seen) == {"raw/z.parquet"}  # bounded memory


def test_contiguous_blocks():
    order = ["phase1", "phase1_module1", "phase1_module2", "phase2", "system"]
    assert contiguous_blocks({"phase1_module1", "phase1_module2", "system"}, order) == [
        ("phase1_module1", "phase1_module2"),
        ("system", "system"),
    ]
    assert contiguous_blocks(set(order), order) == [("phase1", "system")]


def test_bronze_run_is_followed_by_silver_for_its_modules(platform, instance, sample_two_days, tmp_path):
    platform.land(_one_day(sample_two_days, tmp_path, "2024-06-05", 30), "telemetry/")
    first = _tick(new_blob_sensor, instance, platform.resources)
    _apply(first, instance)
    (rr,) = first.run_requests
    # run what the daemon would run, with the tags it would set
    tags = {**rr.tags, "dagster/run_key": rr.run_key, "dagster/sensor_name": "new_blob_sensor"}
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key=rr.partition_key, tags=tags).success
    follow = _tick(silver_after_bronze_sensor, instance, platform.resources)
    assert follow.run_requests, follow
    wanted = set(rr.tags[PHASE_MODULES_TAG].split(","))
    covered = set()
    order = instance.get_dynamic_partitions("phase_module")
    for req in follow.run_requests:
        assert req.asset_selection == [resampled_5s.key, module_day_plot.key, module_day_features.key]
        start = split_key(req.tags["dagster/asset_partition_range_start"])
        end = split_key(req.tags["dagster/asset_partition_range_end"])
        assert start[0] == end[0] == "2024-06-05"
        covered |= set(order[order.index(start[1]) : order.index(end[1]) + 1])
    assert covered == wanted
    # execute the first follow-up run (one partition range, one run) and see it materialise
    first_req = follow.run_requests[0]
    small = {k: v for k, v in first_req.tags.items()}
    small["dagster/asset_partition_range_end"] = small["dagster/asset_partition_range_start"]
    r = materialize([resampled_5s, module_day_plot, module_day_features], instance=instance, resources=platform.resources, tags=small)
    assert r.success and len(mat_partitions(r, "gold/module_day_plot")) == 1
    assert len(mat_partitions(r, "gold/module_day_features")) == 1
    # the follow-up sensor does not request the same materialisation twice
    again = _tick(silver_after_bronze_sensor, instance, platform.resources, follow.cursor)
    assert isinstance(again, SkipReason)


def test_daily_schedule_processes_yesterday(instance):
    ctx = build_schedule_context(instance=instance, scheduled_execution_time=datetime(2024, 7, 2, 1, 30, tzinfo=timezone.utc))
    data = daily_schedule.evaluate_tick(ctx)
    (req,) = data.run_requests
    assert isinstance(req, RunRequest) and req.partition_key == "2024-07-01"
    assert daily_schedule.cron_schedule == "30 1 * * *"
