"""One corrupt blob: its day fails with a message naming the file; other days succeed; nothing
partial is written for the failed day (no bronze file, no silver hour file, no temp leftovers)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from dagster import materialize

from sim_platform.core.bronze import bronze_relpath
from sim_platform.defs.assets import resampled_5s, telemetry_day
from sim_platform.defs.partitions import silver_key
from sim_platform_tests.defs.helpers import mat_partitions, range_tags


def _corrupt_copy(sample_two_days: Path, tmp_path: Path) -> tuple[Path, str]:
    """The two sample days with one 2024-06-20 export damaged inside its data pages (footer intact,
    so its day is still known from metadata, as after bit rot or a faulty copy)."""
    data = tmp_path / "landing"
    shutil.copytree(sample_two_days, data)
    victim = sorted((data / "2024/06/20").glob("*.parquet"))[3]
    raw = bytearray(victim.read_bytes())
    for i in range(200, len(raw) // 2, 7):
        raw[i] ^= 0x5A
    victim.write_bytes(bytes(raw))
    return data, victim.name


def test_corrupt_blob_fails_its_day_only(platform, instance, sample_two_days: Path, tmp_path: Path):
    data, victim = _corrupt_copy(sample_two_days, tmp_path)
    platform.land(data, "telemetry/")
    good = materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key="2024-06-05")
    assert good.success
    bad = materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key="2024-06-20", raise_on_error=False)
    assert not bad.success
    failure = next(e for e in bad.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert victim in message and "2024-06-20" in message and "corrupt" in message.lower()
    bronze = platform.paths.bronze_dir
    assert (bronze / bronze_relpath(date(2024, 6, 5))).is_file()
    assert not (bronze / bronze_relpath(date(2024, 6, 20))).exists()
    assert not [p for p in bronze.rglob("*") if p.is_file() and p.name.startswith(".")]  # no temp leftovers

    # silver of the failed day refuses to run (no bronze), silver of the good day works
    refused = materialize([resampled_5s], instance=instance, resources=platform.resources, partition_key=str(silver_key("2024-06-20", "phase1_module1")), raise_on_error=False)
    assert not refused.success
    step_failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no bronze file for 2024-06-20" in step_failure.event_specific_data.error.message
    assert not (platform.silver_root / "phase1_module1/2024/06/20").exists()
    ok = materialize([resampled_5s], instance=instance, resources=platform.resources, partition_key=str(silver_key("2024-06-05", "phase1_module1")))
    assert ok.success and any((platform.silver_root / "phase1_module1/2024/06/05").glob("*.parquet"))


def test_corrupt_blob_in_a_multi_day_run(platform, instance, sample_two_days: Path, tmp_path: Path):
    """In one run over both days the run fails naming the day and file; the good day is complete."""
    data, victim = _corrupt_copy(sample_two_days, tmp_path)
    platform.land(data, "telemetry/")
    r = materialize([telemetry_day], instance=instance, resources=platform.resources, tags=range_tags("2024-06-05", "2024-06-20"), raise_on_error=False)
    assert not r.success and mat_partitions(r, "bronze/telemetry_day") == set()
    failure = next(e for e in r.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "1 of 16 day(s) failed" in message and victim in message and "day 2024-06-20 not written" in message
    assert (platform.paths.bronze_dir / bronze_relpath(date(2024, 6, 5))).is_file()
    assert not (platform.paths.bronze_dir / bronze_relpath(date(2024, 6, 20))).exists()
