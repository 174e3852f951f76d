"""Bad input: the ETL names the file and the reason, goes on with the rest, leaves nothing partial."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim_platform.cli import main
from sim_platform_tests.core.telemetry_files import epoch, module_tags, write_export

GOOD_ROWS_05 = [(epoch("2024-07-05T10:00:01"), "module_voltage", "50.0", module_tags(1, 1))]
GOOD_ROWS_06 = [(epoch("2024-07-06T08:00:01"), "module_voltage", "51.0", module_tags(1, 1))]


def corrupt_parquet(p: Path):
    p.write_bytes(b"PAR1" + np.random.default_rng(0).bytes(5000))


def truncated_parquet(p: Path):
    write_export(p, GOOD_ROWS_06 * 500)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def unknown_layout_parquet(p: Path):
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), p)


def non_numeric_value(p: Path):
    write_export(p, GOOD_ROWS_06 + [(epoch("2024-07-06T08:00:02"), "module_voltage", "abc", module_tags(1, 2))])


def timestamps_out_of_range(p: Path):
    # nanoseconds: no reading of them (seconds or milliseconds, both accepted) gives a year before 2100
    write_export(p, [(epoch("2024-07-06T08:00:01") * 1_000_000_000, "module_voltage", "1.0", module_tags(1, 1))])


def empty_rows(p: Path):
    write_export(p, [])


def empty_bytes(p: Path):
    p.write_bytes(b"")


def malformed_tags(p: Path):
    write_export(p, [(epoch("2024-07-06T08:00:01"), "module_voltage", "1.0", [["phase", "1", "extra"], ["module", "1"]])])


def corrupt_hdf5(p: Path):
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + np.random.default_rng(1).bytes(4000))


def truncated_hdf5(p: Path, runs: Path):
    data = (runs / "run_01" / "sample_01.h5").read_bytes()
    p.write_bytes(data[: len(data) // 3])


def unknown_layout_hdf5(p: Path):
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(10))


CASES = {
    # name: (file name, maker, reason pattern, is the day of the bad file still written?)
    # A bad file fails its day, whether it is refused while planning or while reading: its day
    # (from its metadata, else from the date in its path) keeps its previous output. A run file
    # whose day cannot be told at all protects only days that already have output (none here).
    "corrupt parquet": ("2024/07/06/bad.parquet", corrupt_parquet, "corrupt or truncated parquet", False),
    "truncated parquet": ("2024/07/06/bad.parquet", truncated_parquet, "corrupt or truncated parquet", False),
    "unknown layout parquet": ("2024/07/06/bad.parquet", unknown_layout_parquet, "unknown layout", False),
    "non-numeric value": (
        "2024/07/06/bad.parquet",
        non_numeric_value,
        "non-numeric value 'abc' in numeric series module_voltage",
        False,
    ),
    "timestamps out of range": ("2024/07/06/bad.parquet", timestamps_out_of_range, "out of range", False),
    "empty file (no rows)": ("2024/07/06/bad.parquet", empty_rows, "empty file", False),
    "empty file (no bytes)": ("2024/07/06/bad.parquet", empty_bytes, "empty file: 0 bytes", False),
    "malformed tags": ("2024/07/06/bad.parquet", malformed_tags, "malformed tags", False),
    "corrupt hdf5": ("run_09/sample_01.h5", corrupt_hdf5, "corrupt or truncated HDF5", True),
    "truncated hdf5": ("run_09/sample_01.h5", truncated_hdf5, "corrupt or truncated HDF5", True),
    "unknown layout hdf5": ("run_09/sample_01.h5", unknown_layout_hdf5, "unknown layout", True),
}


@pytest.fixture
def batch(tmp_path):
    src = tmp_path / "in"
    write_export(src / "2024/07/05/good-05.parquet", GOOD_ROWS_05)
    write_export(src / "2024/07/06/good-06.parquet", GOOD_ROWS_06)
    return src, tmp_path / "out"


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_is_named_and_the_rest_goes_on(case, batch, generated_runs, capsys):
    src, out = batch
    rel, maker, reason, day_written = CASES[case]
    bad = src / rel
    bad.parent.mkdir(parents=True, exist_ok=True)
    maker(bad, generated_runs) if maker is truncated_hdf5 else maker(bad)

    code = main(["etl", "--input", str(src), "--output", str(out), "--workers", "1"])
    text = capsys.readouterr().out

    assert code == 1
    failed = [line for line in text.splitlines() if line.startswith(f"  {bad}")]
    assert failed and reason in failed[0], text
    assert (out / "phase1_module1/2024/07/05/10.parquet").is_file()  # the other day is done
    assert (out / "phase1_module1/2024/07/06/08.parquet").is_file() == day_written
    if not day_written:
        assert "day 2024-07-06: not written" in text
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_skip_bad_files_builds_the_day_from_its_good_files(batch, capsys):
    src, out = batch
    non_numeric_value(src / "2024/07/06/bad.parquet")
    code = main(["etl", "--input", str(src), "--output", str(out), "--workers", "1", "--skip-bad-files"])
    assert code == 1  # still a failure to report
    assert "non-numeric value" in capsys.readouterr().out
    assert (out / "phase1_module1/2024/07/06/08.parquet").is_file()


def test_failed_day_keeps_its_previous_output(batch, capsys):
    src, out = batch
    assert main(["etl", "--input", str(src), "--output", str(out), "--workers", "1"]) == 0
    before = (out / "phase1_module1/2024/07/06/08.parquet").read_bytes()
    non_numeric_value(src / "2024/07/06/bad.parquet")
    assert main(["etl", "--input", str(src), "--output", str(out), "--workers", "1"]) == 1
    assert (out / "phase1_module1/2024/07/06/08.parquet").read_bytes() == before


def test_name_collision_with_different_content_refuses_both(batch, capsys):
    src, out = batch
    write_export(src / "a/dup.parquet", GOOD_ROWS_06)
    write_export(src / "b/dup.parquet", GOOD_ROWS_05)
    code = main(["etl", "--input", str(src), "--output", str(out), "--workers", "1"])
    text = capsys.readouterr().out
    assert code == 1
    assert text.count("name collides with another input of different content") == 2


def test_name_collision_with_same_content_is_read_once(batch, capsys):
    src, out = batch
    write_export(src / "a/dup.parquet", GOOD_ROWS_06)
    shutil.copy(src / "a/dup.parquet", src / "b_dup.parquet")
    (src / "b").mkdir()
    shutil.move(src / "b_dup.parquet", src / "b/dup.parquet")
    assert main(["etl", "--input", str(src), "--output", str(out), "--workers", "1"]) == 0
    assert "same name and content" in capsys.readouterr().out


def test_missing_input_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["etl", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_other_files_are_ignored_not_failed(batch, capsys):
    src, out = batch
    (src / "README.md").write_text("notes")
    assert main(["etl", "--input", str(src), "--output", str(out), "--workers", "1"]) == 0
    assert "1 other files ignored" in capsys.readouterr().err
