"""One bad day never costs the other days, one bad (module, day) never costs the other modules,
and days without data are skipped, not failed.

Ranges with gaps (days without any raw file or bronze file) and one corrupt day, each in ONE run
(what a single-run backfill launches), against a real (SQLite) instance: the good days are written
and materialised, the gaps are reported and skipped, the run fails naming exactly the bad day and
why, and nothing partial is written for it (no bronze file, no hour file, no temp leftovers). In
silver, a module that breaks the hour-file contract fails its (module, day) alone, keeps its
previous hour files, and is the only partition the grid shows failed; rematerialising one
(module, day) rewrites that module's hour files and nothing else.
"""

import json
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from dagster import materialize
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from sim_platform.core.bronze.day_file import bronze_relpath
from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform_tests.defs.conftest import make_platform
from sim_platform_tests.defs.helpers import mat_days, mat_partitions, module_days, range_tags
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
    r = materialize(
        [resampled_5s], instance=instance, resources=platform.resources, tags=module_days(instance, "2024-06-04", "2024-06-06")
    )
    assert r.success
    assert mat_partitions(r, "silver/resampled_5s") == {
        f"2024-06-05|{pm}" for pm in instance.get_dynamic_partitions("phase_module")
    }
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
    tags = module_days(instance, "2024-06-04", "2024-06-20")
    r = materialize([resampled_5s], instance=instance, resources=platform.resources, tags=tags, raise_on_error=False)
    assert not r.success
    assert mat_days(r, "silver/resampled_5s") == {"2024-06-05"}
    message = _failure_message(r)
    assert "28 partition(s) failed, 28 written, 15 day(s) without bronze" in message
    assert "2024-06-20|phase1_module1: day 2024-06-20: not written" in message
    assert any((platform.silver_root / "phase1_module1/2024/06/05").glob("*.parquet"))
    assert not (platform.silver_root / "phase1_module1/2024/06/20").exists()
    assert not list((platform.home / "staging").rglob("*.pkl"))  # staged hour files are cleaned up
    assert {k.split("|")[0] for k in instance.get_materialized_partitions(resampled_5s.key)} == {"2024-06-05"}


def _strict_voltage_platform(home: Path) -> object:
    """A platform whose catalog refuses a module voltage above 100 V (`out_of_range: fail`); the
    plant's are about 50 V."""
    src = Path(__import__("sim_platform").__file__).parent / "config" / "pipelines.yaml"
    raw = yaml.safe_load(src.read_text())
    raw["catalog"]["signals"]["module_voltage"].update(bounds=[0, 100], out_of_range="fail")
    catalog = home.parent / "strict.yaml"
    home.parent.mkdir(parents=True, exist_ok=True)
    catalog.write_text(yaml.safe_dump(raw))
    return make_platform(home, config_path=str(catalog))


def _glitch(day_dir: Path, phase: str, module: str) -> None:
    """One export of the day reports 999 V for one module (a sensor glitch)."""
    f = sorted(day_dir.glob("*.parquet"))[5]
    t = pq.read_table(f)
    hit = [
        p == "module_voltage" and ["phase", phase] in tags and ["module", module] in tags
        for p, tags in zip(t["payload_type"].to_pylist(), t["tags"].to_pylist())
    ]
    assert any(hit)
    value = pc.if_else(pa.array(hit), pa.scalar("999.0"), t["value"])
    pq.write_table(t.set_column(t.schema.get_field_index("value"), "value", value), f)


def _stamps(root: Path, day: str) -> dict[str, tuple[int, str]]:
    """{hour file: (mtime_ns, sha256)} of the day."""
    from hashlib import sha256

    rel = day.replace("-", "/")
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.glob(f"*/{rel}/*.parquet"))
    }


def _grid(instance, asset) -> tuple[set[str], set[str]]:
    """(materialised, failed) partitions as the UI's partition grid shows them (the status cache)."""
    status = get_and_update_asset_status_cache_value(instance, asset.key, asset.partitions_def)
    pdef = asset.partitions_def
    done = set(status.deserialize_materialized_partition_subsets(pdef).get_partition_keys())
    failed = set(status.deserialize_failed_partition_subsets(pdef).get_partition_keys())
    return done, failed


def test_a_module_day_fails_alone_and_one_module_day_is_rebuilt_alone(tmp_path: Path, instance, sample_two_days: Path):
    day, bad, one = "2024-06-05", "2024-06-05|phase2_module5", "phase1_module3"
    data = tmp_path / "landing"
    shutil.copytree(sample_two_days / "2024/06/05", data / "2024/06/05")
    platform = _strict_voltage_platform(tmp_path / "home")
    platform.land(data, "telemetry/")
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key=day).success
    pms = instance.get_dynamic_partitions("phase_module")
    assert materialize([resampled_5s], instance=instance, resources=platform.resources, tags=module_days(instance, day)).success
    root = platform.silver_root
    before = _stamps(root, day)
    report_before = json.loads((root / "_quality/2024/06/05.json").read_text())

    # a glitch in one module: that (module, day) fails alone, the other 27 are written and materialised
    _glitch(data / "2024/06/05", "2", "5")
    platform.land(data, "telemetry/")
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key=day).success
    r = materialize(
        [resampled_5s], instance=instance, resources=platform.resources, tags=module_days(instance, day), raise_on_error=False
    )
    assert not r.success
    assert mat_partitions(r, "silver/resampled_5s") == {f"{day}|{pm}" for pm in pms} - {bad}
    message = _failure_message(r)
    assert "1 partition(s) failed, 27 written" in message and f"{bad}: not written" in message
    assert "phase2_module5/module_voltage" in message and "out_of_range: fail" in message
    after = _stamps(root, day)
    kept = {k: v for k, v in before.items() if k.startswith("phase2_module5/")}
    assert kept and {k: v for k, v in after.items() if k.startswith("phase2_module5/")} == kept  # untouched
    assert {k for k in after} == {k for k in before}
    cadence = next(c for c in r.get_asset_check_evaluations() if c.check_name == "cadence_and_schema")
    assert cadence.passed is False and list(cadence.metadata["failing"].value) == [bad]
    done, failed = _grid(instance, resampled_5s)
    assert failed == {bad} and done >= {f"{day}|{pm}" for pm in pms} - {bad}

    # one (module, day) rematerialised alone: its hour files are rewritten, nothing else is touched
    stamps = _stamps(root, day)
    r = materialize(
        [resampled_5s], instance=instance, resources=platform.resources, tags=module_days(instance, day, modules=[one])
    )
    assert r.success and mat_partitions(r, "silver/resampled_5s") == {f"{day}|{one}"}
    now = _stamps(root, day)
    changed = {k for k in now if now[k][0] != stamps[k][0]}
    assert changed and all(k.startswith(f"{one}/") for k in changed)
    assert {k: v[1] for k, v in now.items()} == {k: v[1] for k, v in stamps.items()}  # same bytes (same input)
    report = json.loads((root / "_quality/2024/06/05.json").read_text())
    assert report["hierarchies"] == report_before["hierarchies"]


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
