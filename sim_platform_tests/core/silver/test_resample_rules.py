"""The binning, deduplication and fill rules, on hand-made exports whose output is known exactly."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim_platform.core.etl import run_etl
from sim_platform_tests.core.telemetry_files import MASTER, epoch, module_tags, write_export

P1M3 = module_tags(1, 3)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    src = tmp_path_factory.mktemp("in")
    rows = [
        # three copies of one sample and two of another: mean of the *distinct* samples is 51
        *[(epoch("2024-07-05T10:00:01"), "module_voltage", "50.0", P1M3)] * 3,
        *[(epoch("2024-07-05T10:00:03"), "module_voltage", "52.0", P1M3)] * 2,
        (epoch("2024-07-05T10:00:05"), "module_voltage", "54", P1M3),
        # another module's sample must not leak into phase1_module3
        (epoch("2024-07-05T10:00:01"), "module_voltage", "99.0", module_tags(1, 4)),
        # text: the last sample in the bin wins
        (epoch("2024-07-05T10:00:02"), "system_state", "IDLE", [MASTER]),
        (epoch("2024-07-05T10:00:04"), "system_state", "RUN", [MASTER]),
        # a sample just before midnight: not carried into the next day
        (epoch("2024-07-05T23:59:58"), "module_voltage", "50.5", P1M3),
        # series the catalog does not know: kept, numeric and text
        (epoch("2024-07-05T10:00:00"), "module_new_metric", "1.5", P1M3),
        (epoch("2024-07-05T10:00:00"), "module_mode", "auto", P1M3),
        (epoch("2024-07-05T10:00:00"), "cell_voltage", "3.5", module_tags(1, 3, ("battery", "1"), ("cell", "3"))),
    ]
    write_export(src / "a" / "b" / "export-1.parquet", rows[:7])
    write_export(src / "export-2.parquet", rows[7:])  # same day, another folder depth
    write_export(src / "export-3.parquet", [(epoch("2024-07-06T00:10:00"), "module_voltage", "49.0", P1M3)])
    dst = tmp_path_factory.mktemp("out")
    summary = run_etl(src, dst, workers=1)
    assert summary.ok, summary.failures
    return dst, summary


def hour(out_root, hierarchy, day, hh) -> pd.DataFrame:
    return pq.read_table(out_root / hierarchy / f"{day:%Y/%m/%d}" / f"{hh:02d}.parquet").to_pandas().set_index("timestamp")


def at(frame, hhmmss, day="2024-07-05"):
    return frame.loc[pd.Timestamp(f"{day}T{hhmmss}", tz="UTC")]


def test_mean_of_distinct_samples_per_bin(out):
    f = hour(out[0], "phase1_module3", date(2024, 7, 5), 10)
    assert at(f, "10:00:00")["module_voltage"] == pytest.approx(51.0)
    assert at(f, "10:00:05")["module_voltage"] == pytest.approx(54.0)


def test_fill_carries_only_within_the_limit(out):
    f = hour(out[0], "phase1_module3", date(2024, 7, 5), 10)
    # last real sample 10:00:05, limit 120 s: bins labelled before 10:02:05 are filled
    assert at(f, "10:02:00")["module_voltage"] == pytest.approx(54.0)
    assert math.isnan(at(f, "10:02:05")["module_voltage"])
    assert f["module_voltage"].notna().sum() == 1 + 1 + 23  # 10:00:00, 10:00:05, then 23 filled bins


def test_no_fill_across_midnight(out):
    f = hour(out[0], "phase1_module3", date(2024, 7, 6), 0)
    assert math.isnan(at(f, "00:00:00", "2024-07-06")["module_voltage"])
    assert at(f, "00:10:00", "2024-07-06")["module_voltage"] == pytest.approx(49.0)


def test_text_takes_last_sample_in_bin(out):
    f = hour(out[0], "system", date(2024, 7, 5), 10)
    assert at(f, "10:00:00")["system_state"] == "RUN"


def test_hour_files_only_where_raw_samples_are(out):
    root = out[0]
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert set(names) == {
        "phase1_module3/2024/07/05/10.parquet",
        "phase1_module3/2024/07/05/23.parquet",
        "phase1_module3/2024/07/06/00.parquet",
        "phase1_module4/2024/07/05/10.parquet",
        "system/2024/07/05/10.parquet",
    }


def test_every_file_has_the_exact_grid(out):
    for path in out[0].rglob("*.parquet"):
        ts = pq.read_table(path).column("timestamp").to_pandas()
        hour_start = pd.Timestamp(
            f"{path.parent.parent.parent.name}-{path.parent.parent.name}-{path.parent.name}T{path.stem}:00:00", tz="UTC"
        )
        assert str(ts.dtype) == "datetime64[ns, UTC]"
        assert list(ts) == list(pd.date_range(hour_start, periods=720, freq="5s", tz="UTC"))


def test_module_file_holds_only_its_module(out):
    f3 = hour(out[0], "phase1_module3", date(2024, 7, 5), 10)
    f4 = hour(out[0], "phase1_module4", date(2024, 7, 5), 10)
    assert 99.0 not in set(f3["module_voltage"].dropna())
    assert at(f4, "10:00:00")["module_voltage"] == 99.0


def test_declared_columns_present_unknown_series_appended(out):
    root, summary = out
    f = hour(root, "phase1_module3", date(2024, 7, 5), 10)
    cols = list(f.columns)
    assert cols[:3] == ["module_voltage", "module_current", "module_state_of_charge"]
    assert f["cell_voltage_battery1_cell1"].isna().all()  # declared, never observed: null
    assert at(f, "10:00:00")["cell_voltage_battery1_cell3"] == 3.5
    assert cols[-2:] == ["module_mode", "module_new_metric"]  # not in the catalog: kept, sorted, last
    assert at(f, "10:00:00")["module_mode"] == "auto"
    assert at(f, "10:00:00")["module_new_metric"] == 1.5
    unknown = {c for d in summary.days for c in d.unknown_columns}
    assert unknown == {"phase1_module3/module_mode", "phase1_module3/module_new_metric"}


def test_distinct_rows_all_land(out):
    _, summary = out
    # 3 distinct voltages (+1 other module) + 2 states + 1 pre-midnight + 3 others on day 1; 1 on day 2
    assert [(d.day.isoformat(), d.raw_rows, d.distinct_rows) for d in summary.days] == [
        ("2024-07-05", 13, 10),
        ("2024-07-06", 1, 1),
    ]


def test_a_sample_in_two_files_counts_once_where_their_windows_meet(tmp_path):
    """Exports cover consecutive windows that meet at one second; a sample of that second can be in
    both files. Only the shared second is deduplicated across files (`rawdata.shared_time`), and a
    sample there still counts once; a file that overlaps another widely is deduplicated where it does."""
    import numpy as np

    from sim_platform.core.ingest.rawdata import RawBatch, shared_time

    edge = epoch("2024-07-05T10:15:00")
    first = [(edge - 10, "module_voltage", "50.0", P1M3), (edge, "module_voltage", "52.0", P1M3)]
    second = [(edge, "module_voltage", "52.0", P1M3), (edge + 10, "module_voltage", "54.0", P1M3)]
    late = [(edge - 10, "module_voltage", "50.0", P1M3), (edge + 10, "module_voltage", "54.0", P1M3)]  # a re-export
    write_export(tmp_path / "in/export-a.parquet", first)
    write_export(tmp_path / "in/export-b.parquet", second)
    summary = run_etl(tmp_path / "in", tmp_path / "out", workers=1)
    assert summary.ok and summary.days[0].distinct_rows == 3
    write_export(tmp_path / "in/export-c.parquet", late)
    summary = run_etl(tmp_path / "in", tmp_path / "out", workers=1)
    assert summary.ok and summary.days[0].distinct_rows == 3
    table = pq.read_table(tmp_path / "out/phase1_module3/2024/07/05/10.parquet").to_pandas()
    at = table.set_index("timestamp")["module_voltage"]
    assert at[pd.Timestamp("2024-07-05T10:14:50Z")] == 50.0 and at[pd.Timestamp("2024-07-05T10:15:00Z")] == 52.0

    ms = np.array([0, 5, 10, 15, 20, 25], np.int64)
    batch = RawBatch.empty()
    batch.sources, batch.spans = ["a", "b", "c"], [(0, 10), (10, 20), (25, 30)]
    assert shared_time(batch, ms).tolist() == [False, False, True, False, False, False]
    batch.spans = [(0, 10), (5, 20), (25, 30)]
    assert shared_time(batch, ms).tolist() == [False, True, True, False, False, False]
    batch.spans = []  # not known: every row may repeat one
    assert shared_time(batch, ms) is None
