"""Synthetic runs with the statistics of the real telemetry exports.

What is reproduced (measured on ../shared/data/telemetry, 2024-07-05, see the README):
- the plant: 3 phases x 8 modules; per module voltage, current, state of charge, temperature,
  battery voltage (battery 1), 14 cell voltages and one battery sensor temperature; per phase current
  and module count; system state (IDLE/RUN text), timing, frequency, deratings, phase count and two
  debug temperatures;
- sampling: fast series report in bursts of 1 s steps (2-8 s long) separated by 7-30 s gaps, with
  rare 2-20 minute outages, each series present in ~60% of burst seconds (~11,000 samples a day);
  temperatures every ~2 minutes, cell voltages ~130 times a day, configuration counts ~35 times;
- exact duplicates: each sample is exported 1 + Poisson(3.4) times (~4.4x, as in the sample);
- value ranges: SoC 0.1-0.8, module voltage 48-55 V, cells 3.3-3.9 V, temperatures 18-22 degC idle.

Everything derives from `numpy.random.default_rng([seed, day_index])`, so a day's content depends
only on the seed and its position, not on how days are split into runs, and output is bit-identical
for a seed. A run is a contiguous stretch of days; runs follow each other in time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from sim_platform.core.catalog import Catalog, default_catalog
from sim_platform.core.layout import day_start_ms

DAY_S = 86_400
PHASES = (1, 2, 3)
MODULES = tuple(range(1, 9))
CELLS = tuple(range(1, 15))
MASTER = ("message_source", "master")


@dataclass
class SynthSeries:
    payload_type: str
    tags: tuple[tuple[str, str], ...]
    ts_ms: np.ndarray  # distinct sample times, increasing
    values: np.ndarray  # float64, or object (str) for text


def _burst_seconds(rng: np.random.Generator) -> np.ndarray:
    """Seconds of the day in which the fast exporter reports."""
    out, t = [], float(rng.uniform(0, 10))
    while t < DAY_S:
        length = int(rng.integers(2, 9))
        out.append(np.arange(int(t), min(int(t) + length, DAY_S)))
        t += length + (rng.uniform(120, 1200) if rng.random() < 0.003 else rng.uniform(7, 30))
    return np.concatenate(out)


def _poisson_times(rng: np.random.Generator, mean_gap_s: float) -> np.ndarray:
    n = int(DAY_S / mean_gap_s * 1.5) + 10
    t = np.cumsum(rng.exponential(mean_gap_s, n))
    return np.unique(t[t < DAY_S].astype(np.int64))


def _states(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-second plant state (0 idle, 1 run) and signed current setpoint (A)."""
    state = np.zeros(DAY_S, np.int8)
    setpoint = np.zeros(DAY_S)
    for _ in range(int(rng.integers(1, 5))):
        start = int(rng.integers(0, DAY_S - 600))
        length = int(rng.integers(1800, 3 * 3600))
        state[start : start + length] = 1
        setpoint[start : start + length] = rng.choice([-1, 1]) * rng.uniform(20, 60)
    return state, setpoint


def synth_day(seed: int, day_index: int, day: date) -> list[SynthSeries]:
    """All distinct samples of one simulated day."""
    rng = np.random.default_rng([seed, day_index])
    t0 = day_start_ms(day)
    burst = _burst_seconds(rng)
    state, setpoint = _states(rng)
    out: list[SynthSeries] = []

    def fast(payload, tags, value_of_second, present=0.6, noise=0.0):
        secs = burst[rng.random(len(burst)) < present]
        vals = value_of_second(secs) + (rng.normal(0, noise, len(secs)) if noise else 0.0)
        out.append(SynthSeries(payload, tags + (MASTER,), t0 + secs * 1000, _f32(vals)))

    def slow(payload, tags, mean_gap_s, value_of_second, noise):
        secs = _poisson_times(rng, mean_gap_s)
        vals = value_of_second(secs) + rng.normal(0, noise, len(secs))
        out.append(SynthSeries(payload, tags + (MASTER,), t0 + secs * 1000, _f32(vals)))

    daily = np.sin(np.arange(DAY_S) / DAY_S * 2 * np.pi - np.pi / 2)
    phase_current = np.zeros(DAY_S)
    for p in PHASES:
        for m in MODULES:
            hm = (("phase", str(p)), ("module", str(m)))
            current = setpoint * rng.uniform(0.9, 1.1)
            # the real plant's convention: positive current discharges (SoC falls, terminal voltage
            # sags by about 43 mOhm x I; measured on the sample, see docs/gold_features.md)
            soc = np.clip(rng.uniform(0.3, 0.7) - np.cumsum(current) / (100 * 3600), 0.1, 0.8)
            volt = 48.0 + 7.0 * soc - 0.043 * current
            temp = 19.5 + 1.2 * daily + 0.03 * np.abs(current) + rng.uniform(-0.8, 0.8)
            phase_current += current / len(MODULES)
            fast("module_voltage", hm, lambda s, v=volt: v[s], noise=0.02)
            fast("module_current", hm, lambda s, c=current: np.where(state[s] > 0, c[s], 0.0))
            fast("module_state_of_charge", hm, lambda s, x=soc: x[s], noise=0.0005)
            fast("battery_voltage", hm + (("battery", "1"),), lambda s, v=volt: v[s] - 0.3, noise=0.02)
            slow("module_temperature", hm, 117, lambda s, x=temp: x[s], 0.1)
            slow("battery_sensor_temperature", hm + (("battery", "1"), ("sensor", "1")), 140, lambda s, x=temp: x[s] + 0.5, 0.1)
            offsets = rng.normal(0, 0.01, len(CELLS))
            for c in CELLS:
                slow("cell_voltage", hm + (("battery", "1"), ("cell", str(c))), 650, lambda s, v=volt, o=offsets[c - 1]: v[s] / 14 + o, 0.003)
    for p in PHASES:
        ph = (("phase", str(p)),)
        fast("phase_current", ph, lambda s: 0.05 + phase_current[s] * 3, noise=0.004)
        slow("phase_module_count", ph, 2500, lambda s: np.full(len(s), float(len(MODULES))), 0.0)
    fast("system_timing_worst_us", (), lambda s: np.full(len(s), 45.63), noise=0.5)
    fast("system_frequency_freq_hz", (), lambda s: np.full(len(s), 50.0), noise=0.02)
    fast("system_derating_charging_amp", (), lambda s: np.full(len(s), 80.0))
    fast("system_derating_discharging_amp", (), lambda s: np.full(len(s), 98.0))
    slow("phase_count", (), 2500, lambda s: np.full(len(s), float(len(PHASES))), 0.0)
    for key, base in (("cb_temp_core", 42.0), ("cb_temp_mcp9701", 40.0)):
        slow("debug_value", (("debug_value_key", key),), 137, lambda s, b=base: b + 3 * daily[s], 0.5)
    secs = burst[rng.random(len(burst)) < 0.6]
    out.append(SynthSeries("system_state", (MASTER,), t0 + secs * 1000, np.where(state[secs] > 0, "RUN", "IDLE").astype(object)))
    return out


def _f32(values: np.ndarray) -> np.ndarray:
    """Round through float32, as the field devices report."""
    return np.asarray(values, np.float32).astype(np.float64)


def _duplicate_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    return 1 + rng.poisson(3.4, n)


# ------------------------------------------------------------------ writers
def _long_rows(series: list[SynthSeries], rng: np.random.Generator):
    """Series -> long rows with exact duplicates: (series index, ts_ms, value as text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sidx = np.concatenate([np.full(len(s.ts_ms), i, np.int32) for i, s in enumerate(series)])
    ts = np.concatenate([s.ts_ms for s in series])
    text = pa.concat_arrays(
        [
            pa.array(s.values, pa.string()) if s.values.dtype == object else pc.cast(pa.array(s.values), pa.string())
            for s in series
        ]
    )
    reps = _duplicate_counts(rng, len(ts))
    take = np.repeat(np.arange(len(ts)), reps)
    return sidx[take], ts[take], text.take(pa.array(take))


def write_telemetry_day(folder: Path, series: list[SynthSeries], day: date, rng: np.random.Generator) -> list[Path]:
    """One day as 15-minute telemetry exports in `folder/YYYY/MM/DD/`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sidx, ts, text = _long_rows(series, rng)
    payload = pa.array([s.payload_type for s in series], pa.string())
    tags = pa.array([[list(t) for t in s.tags] for s in series], pa.list_(pa.list_(pa.string())))
    window = (ts - day_start_ms(day)) // (15 * 60 * 1000)
    order = np.lexsort((rng.random(len(ts)), window))  # files by window, rows shuffled inside a file
    sidx, ts, window, text = sidx[order], ts[order], window[order], text.take(pa.array(order))
    bounds = np.searchsorted(window, np.arange(97))
    out_dir = folder / f"{day:%Y/%m/%d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for w in range(96):
        lo, hi = bounds[w], bounds[w + 1]
        if hi == lo:
            continue
        idx = pa.array(sidx[lo:hi])
        table = pa.table(
            {
                "timestamp": pa.array(ts[lo:hi] // 1000, pa.int64()),
                "payload_type": payload.take(idx),
                "value": text.slice(lo, hi - lo),
                "tags": tags.take(idx),
            }
        )
        stamp = day_start_ms(day) // 1000 + w * 900 + int(rng.integers(0, 60))
        name = f"telemetry-export-metrics-2-{_stamp(stamp)}-{uuid.UUID(bytes=rng.bytes(16), version=4)}.parquet"
        path = out_dir / name
        pq.write_table(table, path, compression="snappy")
        files.append(path)
    return files


def _stamp(epoch_s: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


def write_hdf5_day(path: Path, series: list[SynthSeries], day: date, rng: np.random.Generator, catalog: Catalog, attrs: dict) -> Path:
    """One day of a run as a run file (duplicates kept, as an export would have them)."""
    from sim_platform.core.hdf5_runs import write_run_file

    items = []
    for s in series:
        reps = _duplicate_counts(rng, len(s.ts_ms))
        take = np.repeat(np.arange(len(s.ts_ms)), reps)
        items.append((s.payload_type, s.tags, s.ts_ms[take], s.values[take]))
    start = day_start_ms(day)
    write_run_file(path, items, catalog, start, start + DAY_S * 1000, attrs)
    return path


def _generate_day(args) -> list[Path]:
    out, run, d, days, seed, fmt, start = args
    run_dir = out / f"run_{run + 1:02d}"
    index = run * days + d
    day = start + timedelta(days=index)
    series = synth_day(seed, index, day)
    rng = np.random.default_rng([seed, index, 1])
    if fmt == "telemetry":
        return write_telemetry_day(run_dir, series, day, rng)
    attrs = {"run_id": run_dir.name, "sample": d + 1, "generator": "sim_platform.core.generate", "seed": seed}
    return [write_hdf5_day(run_dir / f"sample_{d + 1:02d}.h5", series, day, rng, default_catalog(), attrs)]


def generate(
    out: str | Path,
    runs: int = 1,
    days: int = 1,
    seed: int = 0,
    fmt: str = "hdf5",
    start: date = date(2024, 7, 1),
    workers: int | None = None,
    progress=None,
) -> list[Path]:
    """Write `runs` run folders of `days` days each; returns the files written.

    hdf5: `out/run_XX/sample_YY.h5`, one file per day. telemetry: `out/run_XX/YYYY/MM/DD/*.parquet`.
    Days are generated in parallel processes (`workers`, default the core count); the output does not
    depend on it.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor

    if fmt not in ("hdf5", "telemetry"):
        raise ValueError(f"unknown format {fmt!r}: choose hdf5 or telemetry")
    if runs < 1 or days < 1:
        raise ValueError("runs and days must be at least 1")
    tasks = [(Path(out), r, d, days, seed, fmt, start) for r in range(runs) for d in range(days)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    files: list[Path] = []
    if workers == 1:
        results = map(_generate_day, tasks)
    else:
        import multiprocessing as mp

        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn"))
        results = pool.map(_generate_day, tasks)
    try:
        for task, written in zip(tasks, results):
            files += written
            if progress:
                progress(task[3] * task[1] + task[2])
    finally:
        if workers > 1:
            pool.shutdown()
    return sorted(files)
