"""Two tiers of contract: value anomalies are counted in the day's report and never cost a day;
structural breaks (and signals whose catalog policy says `fail`) fail their day alone."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from sim_platform.cli import main
from sim_platform.core.config.pipelines import load_pipelines
from sim_platform.core.etl import run_etl
from sim_platform.core.silver import build as build_module
from sim_platform.core.store.layout import LocalTarget, read_file_meta
from sim_platform.core.store.read import read_stored_day
from sim_platform_tests.core.tabular_files import PACKAGED
from sim_platform_tests.core.telemetry_files import MASTER, epoch, module_tags, write_export

DAY = "2024-07-05"


def report(out: Path, day: str = DAY) -> dict:
    return json.loads((out / "_quality" / f"{day.replace('-', '/')}.json").read_text())


def base_rows(day: str = DAY) -> list:
    """Half an hour of a healthy module and system, every 5 s."""
    rows = []
    for s in range(0, 1800, 5):
        t = epoch(f"{day}T10:00:00") + s
        rows += [(t, "module_voltage", "50.0", module_tags(1, 1)), (t, "system_state", "RUN", [MASTER])]
    return rows


def config_with(tmp_path: Path, **signal_changes) -> Path:
    raw = yaml.safe_load(PACKAGED.read_text())
    for name, change in signal_changes.items():
        raw["catalog"]["signals"][name].update(change)
    path = tmp_path / "pipelines.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unknown_states_are_data_kept_and_counted(tmp_path, capsys):
    t0 = epoch(f"{DAY}T10:00:00")
    rows = base_rows() + [
        (t0 + 2, "system_state", "SERVICE", [MASTER]),
        (t0 + 7, "system_state", "SERVICE", [MASTER]),
        (t0 + 12, "system_state", "CALIBRATE", [MASTER]),
        (t0 + 17, "system_state", "ERROR", [MASTER]),
    ]
    write_export(tmp_path / "in/a.parquet", rows * 3)  # every sample exported three times
    assert main(["etl", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    r = report(tmp_path / "out")
    assert r["new_text_values"] == {"system/system_state": {"SERVICE": 2, "CALIBRATE": 1}}  # ERROR is a known state
    assert r["anomalies"]["new_text_values"] == 3
    assert r["rows"] == {"raw": 3 * len(rows), "distinct": len(rows), "duplicates": 2 * len(rows), "removed_by_value_rules": 0}
    table = read_stored_day(LocalTarget(tmp_path / "out"), "system", date(2024, 7, 5)).table
    states = set(table.column("system_state").drop_null().to_pylist())
    assert {"SERVICE", "CALIBRATE", "ERROR", "RUN"} <= states  # kept in the hour files
    assert "new text values in system_state (1 day(s)): 2 value(s): SERVICE x2, CALIBRATE x1" in out
    assert r["fault_values"] == {"system/system_state": {"ERROR": 1}} and r["fault_samples"] == 1
    assert "fault states in system_state (1 day(s)): ERROR x1 samples" in out
    # an operator lists the days that need a look
    assert main(["quality", "--output", str(tmp_path / "out")]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == f"{DAY}: new text values 3; faults: ERROR x1"
    assert listed[1].startswith("1 of 1 day(s) listed")


@pytest.mark.parametrize("policy", ["keep", "null", "fail"])
def test_out_of_range_policy(tmp_path, policy):
    t0 = epoch(f"{DAY}T10:00:00")
    glitch = [(t0 + 1, "module_voltage", "65535", module_tags(1, 1)), (t0 + 3, "module_voltage", "-1", module_tags(1, 1))]
    write_export(tmp_path / "in/2024/07/05/a.parquet", base_rows() + glitch)
    write_export(tmp_path / "in/2024/07/05/b.parquet", glitch[:1])  # the same glitch in a second file counts once
    write_export(tmp_path / "in/2024/07/06/c.parquet", base_rows("2024-07-06"))
    cfg = config_with(tmp_path, module_voltage={"out_of_range": policy})
    summary = run_etl(tmp_path / "in", tmp_path / "out", workers=1, pipes=load_pipelines(cfg))
    by_day = {d.day.isoformat(): d for d in summary.days}
    assert by_day["2024-07-06"].written  # the other day is never touched
    if policy == "fail":
        assert not by_day[DAY].written and not (tmp_path / "out/phase1_module1/2024/07/05").exists()
        (line,) = by_day[DAY].failures
        assert "phase1_module1/module_voltage: 2 sample(s) outside [0.0, 1000.0]" in line and "out_of_range: fail" in line
        assert len(line) <= 300
        return
    assert summary.ok
    entry = report(tmp_path / "out")["out_of_range"]["phase1_module1/module_voltage"]
    assert entry == {
        "count": 2,
        "action": policy,
        "min": -1.0,
        "max": 65535.0,
        "bounds": [0.0, 1000.0],
        "files": {"a.parquet": 2, "b.parquet": 1},
    }
    table = read_stored_day(LocalTarget(tmp_path / "out"), "phase1_module1", date(2024, 7, 5)).table
    first_bin = table.column("module_voltage")[0].as_py()  # 10:00:00-10:00:05 holds 50.0, 65535, -1
    assert first_bin == (pytest.approx((50.0 + 65535 - 1) / 3) if policy == "keep" else 50.0)


def test_non_finite_values_are_missing_samples(tmp_path):
    t0 = epoch(f"{DAY}T10:00:00")
    rows = [
        (t0, "module_current", "1.0", module_tags(1, 1)),
        (t0 + 5, "module_current", "NaN", module_tags(1, 1)),
        (t0 + 6, "module_current", "inf", module_tags(1, 1)),
    ]
    write_export(tmp_path / "in/a.parquet", rows)
    summary = run_etl(tmp_path / "in", tmp_path / "out", workers=1)
    assert summary.ok
    entry = report(tmp_path / "out")["non_finite"]["phase1_module1/module_current"]
    assert entry["count"] == 2 and entry["action"] == "null" and entry["values"] == ["inf", "nan"]
    current = (
        read_stored_day(LocalTarget(tmp_path / "out"), "phase1_module1", date(2024, 7, 5))
        .table.column("module_current")
        .to_numpy(zero_copy_only=False)
    )
    assert np.isfinite(current[~np.isnan(current)]).all()
    assert current[1] == 1.0  # the NaN bin is filled from the last real sample, not with NaN


def test_unknown_payloads_and_tag_keys_are_counted_and_written(tmp_path):
    t0 = epoch(f"{DAY}T10:00:00")
    rows = base_rows() + [(t0 + s, "module_insulation_kohm", "900", module_tags(1, 1)) for s in range(0, 50, 5)]
    rows += [(t0 + s, "module_temperature", "21.5", module_tags(1, 1, ("firmware", "2"))) for s in range(0, 30, 5)]
    write_export(tmp_path / "in/a.parquet", rows)
    summary = run_etl(tmp_path / "in", tmp_path / "out", workers=1)
    assert summary.ok
    r = report(tmp_path / "out")
    assert r["unknown_payloads"] == {"phase1_module1/module_insulation_kohm": 10}
    assert r["unknown_tag_keys"] == {"phase1_module1/firmware": 6}
    names = pq.read_schema(tmp_path / "out/phase1_module1/2024/07/05/10.parquet").names
    assert {"module_insulation_kohm", "module_temperature_firmware2"} <= set(names)


def test_gaps_longer_than_the_fill_limit(tmp_path):
    t0 = epoch(f"{DAY}T10:00:00")
    secs = [0, 60, 300, 310, 1000]  # gaps of 240 s and 690 s exceed 120 s; 60 s and 10 s do not
    write_export(tmp_path / "in/a.parquet", [(t0 + s, "module_voltage", "50", module_tags(2, 3)) for s in secs])
    run_etl(tmp_path / "in", tmp_path / "out", workers=1)
    assert report(tmp_path / "out")["gaps"] == {
        "phase2_module3/module_voltage": {"count": 2, "longest_s": 690.0, "fill_limit_s": 120.0}
    }


def test_a_flood_of_new_series_lands_with_short_lines_and_small_metadata(tmp_path, capsys):
    t0 = epoch(f"{DAY}T10:00:00")
    rows = base_rows() + [(t0 + i % 600, f"vendor_metric_{i:05d}", str(i), module_tags(1, 1)) for i in range(5000)]
    write_export(tmp_path / "in/a.parquet", rows)
    code = main(["etl", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--workers", "1"])
    text = capsys.readouterr()
    assert code == 0
    assert max(len(line) for line in (text.out + text.err).splitlines()) <= 300
    assert "payloads not in the catalog, written (1 day(s)): 5000: vendor_metric_00000 x1" in text.out
    hour = tmp_path / "out/phase1_module1/2024/07/05/10.parquet"
    assert len(pq.read_schema(hour).names) > 5000  # never dropped
    kv = pq.read_metadata(hour).metadata[b"sim_platform"]
    assert len(kv) < 150_000  # facts of uncatalogued columns stored once, not 5,000 times (was ~1.2 MB)
    facts = read_file_meta(hour)["columns"]["vendor_metric_04999"]
    assert facts == {
        "payload_type": "vendor_metric_04999",
        "unit": "",
        "kind": "numeric",
        "aggregation": "mean",
        "fill_limit_s": "120",
        "in_catalog": "false",
    }
    assert read_file_meta(hour)["real_bins"]["vendor_metric_04999"] == 1
    assert report(tmp_path / "out")["anomalies"]["unknown_payloads"] == 5000


def test_a_structural_break_fails_its_day_alone_in_one_short_line(tmp_path, monkeypatch):
    write_export(tmp_path / "in/2024/07/05/a.parquet", base_rows())
    write_export(tmp_path / "in/2024/07/06/b.parquet", base_rows("2024-07-06"))
    real = build_module.resample_day

    def broken_on_the_5th(batch, day_start_ms, catalog):  # a resampler bug that breaks the 5 s grid
        tables = real(batch, day_start_ms, catalog)
        if day_start_ms == epoch(f"{DAY}T00:00:00") * 1000:
            hd = tables[0]
            hd.table = hd.table.set_column(0, "timestamp", hd.table.column(0).take(np.r_[1 : len(hd.table), 0]))
        return tables

    monkeypatch.setattr(build_module, "resample_day", broken_on_the_5th)
    summary = run_etl(tmp_path / "in", tmp_path / "out", workers=1)
    by_day = {d.day.isoformat(): d for d in summary.days}
    assert by_day["2024-07-06"].written and not by_day[DAY].written
    (line,) = by_day[DAY].failures
    assert line.startswith(f"day {DAY}: not written: StructuralError: phase1_module1: timestamp:") and len(line) <= 300
    assert not (tmp_path / "out/_quality/2024/07/05.json").exists()


def _drifted(table, kind: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    i = table.schema.get_field_index
    if kind == "tags as a map":
        tags = pa.array([[tuple(kv) for kv in row] for row in table["tags"].to_pylist()], pa.map_(pa.string(), pa.string()))
        return table.set_column(i("tags"), "tags", tags)
    if kind == "timestamp in ms":
        return table.set_column(i("timestamp"), "timestamp", pc.multiply(table["timestamp"], 1000))
    if kind == "timestamp as a timestamp type":
        return table.set_column(
            i("timestamp"), "timestamp", pc.multiply(table["timestamp"], 1000).cast(pa.timestamp("ms", tz="UTC"))
        )
    if kind == "extra column, pandas index":
        return table.append_column("exporter_version", pa.array(["2.1"] * len(table))).append_column(
            "__index_level_0__", pa.array(range(len(table)), pa.int64())
        )
    if kind == "value as a number":
        return table.set_column(i("value"), "value", pc.cast(table["value"], pa.float64()))
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["tags as a map", "timestamp in ms", "timestamp as a timestamp type", "extra column, pandas index", "value as a number"],
)
def test_schema_drift_reads_as_the_same_samples(tmp_path, kind):
    from sim_platform.core.config.pipelines import default_catalog
    from sim_platform.core.ingest.plan import plan_inputs
    from sim_platform.core.ingest.telemetry import read_telemetry

    rows = [
        (epoch(f"{DAY}T10:00:00") + s, "module_voltage", f"{50 + s / 100:.2f}", module_tags(1, 1 + s % 3))
        for s in range(0, 300, 3)
    ]
    normal = write_export(tmp_path / "normal/a.parquet", rows)
    drift = tmp_path / "drift/a.parquet"
    drift.parent.mkdir()
    pq.write_table(_drifted(pq.read_table(normal), kind), drift)
    cat = default_catalog()
    a, b = read_telemetry(normal, cat), read_telemetry(drift, cat)
    assert a.series == b.series and a.raw_rows == b.raw_rows
    for f in ("num_sid", "num_ts", "num_val"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert plan_inputs(drift.parent, cat).files[0].days == plan_inputs(normal.parent, cat).files[0].days


def test_timestamps_mixing_seconds_and_milliseconds_are_refused_by_name(tmp_path):
    from sim_platform.core.config.pipelines import default_catalog
    from sim_platform.core.ingest.rawdata import InputError
    from sim_platform.core.ingest.telemetry import read_telemetry

    t = epoch(f"{DAY}T10:00:00")
    path = write_export(
        tmp_path / "mixed.parquet",
        [(t, "module_voltage", "50", module_tags(1, 1)), (t * 1000, "module_voltage", "51", module_tags(1, 1))],
    )
    with pytest.raises(InputError, match="mixed.parquet: timestamps mix epoch seconds and milliseconds"):
        read_telemetry(path, default_catalog())


def test_a_series_outside_the_plant_is_reported_not_turned_into_a_folder(tmp_path, capsys):
    t0 = epoch(f"{DAY}T10:00:00")
    rows = base_rows() + [(t0 + s, "module_voltage", "50", module_tags(99, 1)) for s in range(0, 50, 5)]
    rows += [(t0 + s, "module_voltage", "50", [MASTER]) for s in range(0, 30, 5)]  # a module series without its module
    write_export(tmp_path / "in/bad-tags.parquet", rows)
    assert main(["etl", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--workers", "1"]) == 0
    r = report(tmp_path / "out")
    assert {k: e["count"] for k, e in r["outside_plant"].items()} == {
        "phase99_module1/module_voltage": 10,
        "system/module_voltage": 6,
    }
    assert all(e["files"] == {"bad-tags.parquet": e["count"]} for e in r["outside_plant"].values())
    assert not (tmp_path / "out/phase99_module1").exists()
    assert "module_voltage" not in pq.read_schema(tmp_path / "out/system/2024/07/05/10.parquet").names
    assert "samples outside the plant, not written (1 day(s)): 16" in capsys.readouterr().out


def test_a_rebuilt_module_without_samples_leaves_the_merged_report(tmp_path):
    """Rebuilding some modules of a day merges their new report entries into the stored report. A
    rebuilt module that has no samples any more (its files are removed) must leave the report too,
    with every finding of it; modules that were not rebuilt keep theirs."""
    from sim_platform.core.silver.quality import merge_reports

    t0 = epoch(f"{DAY}T10:00:00")
    secs = [0, 300, 1000]  # gaps over the fill limit in both modules
    both = [(t0 + s, "module_voltage", "50", module_tags(2, m)) for m in (3, 4) for s in secs]
    write_export(tmp_path / "old/a.parquet", both)
    write_export(tmp_path / "new/a.parquet", [r for r in both if r[3] == module_tags(2, 3)])
    assert run_etl(tmp_path / "old", tmp_path / "out_old", workers=1).ok
    assert run_etl(tmp_path / "new", tmp_path / "out_new", workers=1).ok
    old, new = report(tmp_path / "out_old"), report(tmp_path / "out_new")
    assert set(old["hierarchies"]) == {"phase2_module3", "phase2_module4"} and "phase2_module4/module_voltage" in old["gaps"]

    merged = merge_reports(old, new, rebuilt=["phase2_module3", "phase2_module4"])
    assert set(merged["hierarchies"]) == {"phase2_module3"}
    assert list(merged["gaps"]) == ["phase2_module3/module_voltage"]
    assert merged["gap_count"] == new["gap_count"] and merged["rows"] == new["rows"]
    # a rebuild of phase2_module3 alone keeps phase2_module4 as it was
    kept = merge_reports(old, new, rebuilt=["phase2_module3"])
    assert set(kept["hierarchies"]) == {"phase2_module3", "phase2_module4"}
    assert kept["gaps"]["phase2_module4/module_voltage"] == old["gaps"]["phase2_module4/module_voltage"]
