"""One bad day never costs the other days, and days without data are skipped, not failed.

Ranges with gaps (days without any raw file or bronze file) and one corrupt day, each in ONE run
(what a single-run backfill launches), against a real (SQLite) instance: the good days are written
and materialised, the gaps are reported and skipped, the run fails naming exactly the bad day and
why, and nothing partial is written for it (no bronze file, no hour file, no temp leftovers).
"""

import shutil
from datetime import date
from pathlib import Path

import pytest
from dagster import materialize

from sim_platform.core.bronze.day_file import bronze_relpath
from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform_tests.defs.helpers import mat_partitions, range_tags
from sim_platform_tests.faults.test_fault_matrix import BAD


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


def _bronze_range(platform, instance, first: str, last: str):
    """Bronze over the days first .. last in one run (a single-run backfill), failures kept."""
    return materialize(
        [telemetry_day], instance=instance, resources=platform.resources, tags=range_tags(first, last), raise_on_error=False
    )


def _failure_message(result) -> str:
    return next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").event_specific_data.error.message


def _logs(instance, result) -> str:
    """Every message of the run, `context.log` lines included, as stored in the instance."""
    return "\n".join(e.user_message or "" for e in instance.all_logs(result.run_id))


def test_bronze_range_with_gaps_and_a_corrupt_day(platform, instance, sample_two_days: Path, tmp_path: Path):
    data, victim = _corrupt_copy(sample_two_days, tmp_path)
    platform.land(data, "telemetry/")
    # 2024-06-04 ... 2024-06-21: 18 days, raw files for two of them, one of which has a corrupt file
    r = _bronze_range(platform, instance, "2024-06-04", "2024-06-21")
    assert not r.success
    assert mat_partitions(r, "bronze/telemetry_day") == {"2024-06-05"}  # written and materialised all the same
    message = _failure_message(r)
    assert "1 of 18 day(s) failed (1 written, 16 without data)" in message
    assert "failed: 2024-06-20" in message and victim in message and "corrupt" in message.lower()
    assert "16 day(s) without any raw file, skipped: 2024-06-04, 2024-06-06" in _logs(instance, r)
    bronze = platform.paths.bronze_dir
    assert (bronze / bronze_relpath(date(2024, 6, 5))).is_file()
    assert not (bronze / bronze_relpath(date(2024, 6, 20))).exists()
    assert sorted(p.parent.name for p in bronze.rglob("*.parquet")) == ["05"]  # the gaps wrote nothing
    assert not [p for p in bronze.rglob("*") if p.is_file() and p.name.startswith(".")]  # no temp leftovers
    assert instance.get_materialized_partitions(telemetry_day.key) == {"2024-06-05"}


def test_silver_range_with_gaps_is_not_fatal(platform, instance, sample_two_days: Path):
    platform.land(sample_two_days, "telemetry/")
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key="2024-06-05").success
    # the example: 2024-06-04 ... 2024-06-06, bronze only for 06-05
    r = materialize([resampled_5s], instance=instance, resources=platform.resources, tags=range_tags("2024-06-04", "2024-06-06"))
    assert r.success
    assert mat_partitions(r, "silver/resampled_5s") == {"2024-06-05"}
    assert "2 day(s) without a bronze file, skipped (no upstream data): 2024-06-04, 2024-06-06" in _logs(instance, r)
    assert any((platform.silver_root / "phase1_module2/2024/06/05").glob("*.parquet"))
    assert not (platform.silver_root / "phase1_module1/2024/06/04").exists()


def test_silver_range_with_gaps_and_a_corrupt_day(platform, instance, sample_two_days: Path):
    """Bronze of 2024-06-20 is damaged after it was written (bit rot): that day fails, 06-05 is
    written and materialised, the days between are skipped."""
    platform.land(sample_two_days, "telemetry/")
    assert materialize(
        [telemetry_day], instance=instance, resources=platform.resources, tags=range_tags("2024-06-05", "2024-06-20")
    ).success
    damaged = platform.paths.bronze_dir / bronze_relpath(date(2024, 6, 20))
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 3 : len(raw) // 3 + 4096] = bytes(4096)
    damaged.write_bytes(bytes(raw[: len(raw) // 2]))  # truncated: the footer is gone
    tags = range_tags("2024-06-04", "2024-06-20")
    r = materialize([resampled_5s], instance=instance, resources=platform.resources, tags=tags, raise_on_error=False)
    assert not r.success
    assert mat_partitions(r, "silver/resampled_5s") == {"2024-06-05"}
    message = _failure_message(r)
    assert "1 day(s) failed, 1 written, 15 without bronze" in message
    assert "failed: 2024-06-20: day 2024-06-20: not written" in message
    assert any((platform.silver_root / "phase1_module1/2024/06/05").glob("*.parquet"))
    assert not (platform.silver_root / "phase1_module1/2024/06/20").exists()
    assert not list((platform.home / "staging").rglob("*.pkl"))  # staged hour files are cleaned up
    assert instance.get_materialized_partitions(resampled_5s.key) == {"2024-06-05"}


def _not_parquet(p: Path) -> None:
    """A new file named for the day that is not parquet at all (a failed upload, a stray copy)."""
    (p.parent / "telemetry-export-badbadbad.parquet").write_bytes(b"this is not a parquet file\n" * 40)


#: the fault matrix's bad inputs (`sim-platform etl`), and a stray non-parquet file
REFUSED = {**BAD, "not parquet at all": _not_parquet}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_file_fails_its_day_in_bronze_as_in_the_cli(platform, instance, sample_two_days: Path, tmp_path, case):
    """The CLI's contract through the Dagster path: bronze of 2024-06-20 is written, then one input
    of that day is spoiled in the container. The rerun over 06-05 .. 06-20 fails naming the file;
    06-20 keeps its previous bronze file byte for byte; 06-05 is written and materialised."""
    data = tmp_path / "landing"
    shutil.copytree(sample_two_days, data)
    platform.land(data, "telemetry/")
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key="2024-06-20").success
    kept = platform.paths.bronze_dir / bronze_relpath(date(2024, 6, 20))
    before = kept.read_bytes()
    victim = sorted((data / "2024/06/20").glob("*.parquet"))[2]
    REFUSED[case](victim)
    named = victim.name if case != "not parquet at all" else "telemetry-export-badbadbad.parquet"
    platform.land(data, "telemetry/")
    r = _bronze_range(platform, instance, "2024-06-05", "2024-06-20")
    assert not r.success
    message = _failure_message(r)
    assert "failed: 2024-06-20" in message and named in message, message
    assert "day 2024-06-20 not written" in message
    assert mat_partitions(r, "bronze/telemetry_day") == {"2024-06-05"}
    assert kept.read_bytes() == before  # the day is replaced whole or not at all
    assert not [p for p in platform.paths.bronze_dir.rglob("*") if p.is_file() and p.name.startswith(".")]
