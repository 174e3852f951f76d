"""The generator: deterministic for a seed, with the statistics of the real exports."""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim_platform.core.generate import generate, synth_day


def digest(root):
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_runs_follow_each_other(generated_exports, tmp_path):
    generate(tmp_path, runs=2, days=1, seed=5, fmt="telemetry", workers=1)  # serial: same bytes as parallel
    assert digest(tmp_path) == digest(generated_exports)
    days = sorted({p.parent.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")})
    assert days == ["run_01/2024/07/01", "run_02/2024/07/02"]


def test_other_seed_other_data():
    a, b = synth_day(5, 0, date(2024, 7, 1)), synth_day(6, 0, date(2024, 7, 1))
    assert not np.array_equal(a[0].ts_ms, b[0].ts_ms)
    again = synth_day(5, 0, date(2024, 7, 1))
    assert all(np.array_equal(x.ts_ms, y.ts_ms) and np.array_equal(x.values, y.values) for x, y in zip(a, again))


def test_statistics_match_the_sample():
    series = synth_day(11, 0, date(2024, 7, 5))
    by = {}
    for s in series:
        by.setdefault(s.payload_type, []).append(s)
    modules = {(dict(s.tags)["phase"], dict(s.tags)["module"]) for s in by["module_voltage"]}
    assert len(modules) == 24
    assert len(by["cell_voltage"]) == 24 * 14 and len(by["phase_current"]) == 3 and len(by["debug_value"]) == 2
    fast = np.array([len(s.ts_ms) for s in by["module_voltage"]])
    assert 8_000 < fast.mean() < 14_000  # ~10-12k samples a day in the sample
    gaps = np.diff(by["module_voltage"][0].ts_ms) / 1000
    assert np.median(gaps) <= 2 and 20 <= np.percentile(gaps, 90) <= 40 and gaps.max() > 100
    assert 50 < np.mean([len(s.ts_ms) for s in by["cell_voltage"]]) < 300
    soc = np.concatenate([s.values for s in by["module_state_of_charge"]])
    volt = np.concatenate([s.values for s in by["module_voltage"]])
    cell = np.concatenate([s.values for s in by["cell_voltage"]])
    temp = np.concatenate([s.values for s in by["module_temperature"]])
    assert 0.1 <= soc.min() and soc.max() <= 0.8
    assert 47.5 < volt.min() and volt.max() < 56
    assert 3.2 < cell.min() and cell.max() < 4.0
    assert 15 < temp.min() and temp.max() < 30
    assert set(np.concatenate([s.values for s in by["system_state"]])) <= {"IDLE", "RUN"}


def test_exports_carry_exact_duplicates(generated_exports):
    files = sorted((generated_exports / "run_01").rglob("*.parquet"))
    assert 90 <= len(files) <= 96 and files[0].name.startswith("telemetry-export-metrics-2-2024-07-01-00-")
    t = pa.concat_tables([pq.read_table(f) for f in files[:8]]).to_pandas()
    t["tags"] = t["tags"].map(lambda x: tuple(map(tuple, x)))
    ratio = len(t) / len(t.drop_duplicates())
    assert 3.5 < ratio < 5.5  # the sample has ~4.4 raw rows per distinct row
