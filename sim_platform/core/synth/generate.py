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

Rare behaviour (`rare=True`, off by default; `sim-platform generate --rare`). The real plant now and
then does what the statistics above never show. Each kind is decided per day, independently, from
its own generator `default_rng([seed, day_index, 7, kind])`, never from the one above: with
`rare=False` the output is bit-identical to what it always was, and with `rare=True` every sample
time stays where it was (only states, values and the extra series below differ). Per day:

| kind | probability per day | what |
|---|---|---|
| start-up | 0.30 | INIT 1-3 min, then READY 1-5 min, just before the day's first RUN (else at a random time) |
| ERROR | 0.15 | from a random RUN second (70 %) or any time, log-uniform 2 min - 4 h; then INIT 1-3 min and READY 1-5 min; the interrupted RUN cycle is not resumed (IDLE) |
| EMERGENCY | 0.05 | like ERROR, 1-15 min |
| SERVICE | 0.10 | 5-60 min of a state the packaged catalog does not know ("SERVICE"), then INIT/READY |
| sensor glitch | 0.30 | 1-2 module series (temperature, voltage or SoC) get 1-5 existing samples replaced by impossible values (6553.5 or -273.2 degC, 65535 V, SoC 2.55) |
| non-finite | 0.10 | 1-5 existing samples of one module_current or module_voltage series become "NaN" |
| new payload | 0.15 | `module_insulation_resistance_kohm` on one module (every ~60 s for 3-10 h) or `system_fan_speed_rpm` (every ~90 s for 4-16 h): some hundreds of samples |
| new tag key | 0.10 | one module's module_temperature carries `("firmware", "2")` from a random time (10-90 % of the day) on |
| schema drift | 0.25 | telemetry only: 1-4 of the day's 15-minute files (`default_rng([seed, day_index, 8])`) are written with one of DRIFT_KINDS, uniformly |

Faults zero the current (also INIT, READY and SERVICE): only RUN carries the setpoint. A fault day
stays mostly IDLE/RUN (the longest ERROR is 4 h, 17 % of the day). Glitches and NaN replace the
value of an existing sample (never a new sample at an existing time) and never touch the same sample
twice, nor a series with the extra tag. Drift kinds, same rows as the normal layout otherwise:
`value_double` (value as float64; text rows cannot be doubles, so a window with text rows is split
into a normal file with its text rows and the float64 file with the rest: the real exporter, too,
writes more than one file per window), `tags_map` (map<string, string>), `timestamp_ms` (int64 epoch
milliseconds), `timestamp_type` (timestamp[ms, tz=UTC]), `extra_column` (`exporter_version` string),
`pandas_index` (a pandas index column `__index_level_0__` with pandas metadata, as the real
exports have; the normal generated files have none).

HDF5 run files carry every kind except the drift (their layout is ours): text values, NaN, new
payloads (numeric, unit "") and new tag keys (a series of their own, `<hierarchy>__<column>`).

With `rare=True`, `generate` writes `out/injected.json`, exactly what the days contain:
`{"seed": S, "days": {"YYYY-MM-DD": {"text_values": {payload: {value: n}}, "out_of_range":
{"hierarchy/column": n}, "non_finite": {...}, "unknown_payloads": {payload: n}, "unknown_tag_keys":
{key: n}, "drift": {file name: kind}}}}`; every n counts distinct samples (series with its tags,
timestamp, value), before the exporter's duplication. It is computed from the final series with the
packaged catalog (`day_manifest`), not from the injection bookkeeping.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.grid import day_start_ms
from sim_platform.core.config.pipelines import default_catalog

DAY_S = 86_400
PHASES = (1, 2, 3)
MODULES = tuple(range(1, 9))
CELLS = tuple(range(1, 15))
MASTER = ("message_source", "master")
#: share of burst seconds in which a fast series reports: the default exporter's density (~5.0 M raw
#: rows a day), and the density of the sample's 2024-07-05 (5.5 M raw, 1.25 M distinct rows)
FAST_PRESENCE, REAL_PRESENCE = 0.6, 0.665
#: telemetry file layouts (`exporter`): fixed 15-minute windows, or the real exporter's (see write_real_day)
EXPORTERS = ("quarter", "real")

# ------------------------------------------------------------------ rare behaviour (rare=True only)
IDLE, RUN, INIT, READY, ERROR, EMERGENCY, SERVICE = range(7)
#: text of each state code; SERVICE is a state the packaged catalog does not know
STATE_NAMES = np.array(["IDLE", "RUN", "INIT", "READY", "ERROR", "EMERGENCY", "SERVICE"], dtype=object)
P_STARTUP, P_ERROR, P_EMERGENCY, P_SERVICE = 0.30, 0.15, 0.05, 0.10
P_GLITCH, P_NON_FINITE, P_NEW_PAYLOAD, P_NEW_TAG, P_DRIFT = 0.30, 0.10, 0.15, 0.10, 0.25
#: impossible values a module sensor reports when it glitches (all outside the catalog bounds)
GLITCHES = {
    "module_temperature": (6553.5, -273.2),
    "module_voltage": (65535.0,),
    "module_state_of_charge": (2.55,),
}
NEW_PAYLOADS = ("module_insulation_resistance_kohm", "system_fan_speed_rpm")
NEW_TAG = ("firmware", "2")
DRIFT_KINDS = ("value_double", "tags_map", "timestamp_ms", "timestamp_type", "extra_column", "pandas_index")
MANIFEST = "injected.json"
#: sub-seeds of the rare generators: default_rng([seed, day_index, 7, kind])
_K_STATES, _K_TAG, _K_GLITCH, _K_NON_FINITE, _K_PAYLOAD = range(5)


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


def synth_day(seed: int, day_index: int, day: date, rare: bool = False, presence: float = FAST_PRESENCE) -> list[SynthSeries]:
    """All distinct samples of one simulated day (with the plant's rare behaviour when `rare`).

    `presence`: share of burst seconds in which each fast series reports (the default, 0.6, is what
    the generator always wrote; `REAL_PRESENCE` gives the density of the sample's 2024-07-05). The
    random draws are the same whatever it is, so it changes which samples exist, nothing else."""
    rng = np.random.default_rng([seed, day_index])
    t0 = day_start_ms(day)
    burst = _burst_seconds(rng)
    state, setpoint = _states(rng)
    if rare:
        _rare_states(_rare_rng(seed, day_index, _K_STATES), state, setpoint)
    out: list[SynthSeries] = []

    def fast(payload, tags, value_of_second, noise=0.0):
        secs = burst[rng.random(len(burst)) < presence]
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
            fast("module_current", hm, lambda s, c=current: np.where(state[s] == RUN, c[s], 0.0))
            fast("module_state_of_charge", hm, lambda s, x=soc: x[s], noise=0.0005)
            fast("battery_voltage", hm + (("battery", "1"),), lambda s, v=volt: v[s] - 0.3, noise=0.02)
            slow("module_temperature", hm, 117, lambda s, x=temp: x[s], 0.1)
            slow("battery_sensor_temperature", hm + (("battery", "1"), ("sensor", "1")), 140, lambda s, x=temp: x[s] + 0.5, 0.1)
            offsets = rng.normal(0, 0.01, len(CELLS))
            for c in CELLS:
                slow(
                    "cell_voltage",
                    hm + (("battery", "1"), ("cell", str(c))),
                    650,
                    lambda s, v=volt, o=offsets[c - 1]: v[s] / 14 + o,
                    0.003,
                )
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
    secs = burst[rng.random(len(burst)) < presence]
    out.append(SynthSeries("system_state", (MASTER,), t0 + secs * 1000, STATE_NAMES[state[secs]]))
    if rare:
        _rare_series(seed, day_index, out, state, t0)
    return out


def _rare_rng(seed: int, day_index: int, kind: int) -> np.random.Generator:
    return np.random.default_rng([seed, day_index, 7, kind])


def _startup(state: np.ndarray, t: int, rng: np.random.Generator) -> int:
    """INIT for 1-3 min then READY for 1-5 min from second `t`; returns the second after READY."""
    init, ready = int(rng.integers(60, 181)), int(rng.integers(60, 301))
    state[t : t + init] = INIT
    state[t + init : t + init + ready] = READY
    return min(t + init + ready, DAY_S)


def _fault(state: np.ndarray, code: int, duration: int, rng: np.random.Generator) -> None:
    """A fault from a RUN second (70 %, when the day has one) or any time; then the start-up sequence.
    The interrupted RUN cycle is not resumed: its rest is IDLE."""
    run = np.flatnonzero(state == RUN)
    start = int(rng.choice(run)) if len(run) and rng.random() < 0.7 else int(rng.integers(0, DAY_S - 600))
    end = min(start + duration, DAY_S)
    rest = np.flatnonzero(state[end:] != RUN)
    state[end : end + (int(rest[0]) if len(rest) else DAY_S - end)] = IDLE
    state[start:end] = code
    _startup(state, end, rng)


def _rare_states(rng: np.random.Generator, state: np.ndarray, setpoint: np.ndarray) -> None:
    """Start-up sequences, SERVICE, ERROR and EMERGENCY over the IDLE/RUN plan (later ones win);
    only RUN keeps its current setpoint."""
    if rng.random() < P_STARTUP:
        run = np.flatnonzero(state == RUN)
        first = int(run[0]) if len(run) else int(rng.integers(600, DAY_S - 600))
        _startup(state, max(first - 480, 0), rng)  # ends at most 8 min later: at or before the first RUN
    if rng.random() < P_SERVICE:
        start = int(rng.integers(0, DAY_S - 600))
        end = min(start + int(rng.integers(300, 3601)), DAY_S)
        state[start:end] = SERVICE
        _startup(state, end, rng)
    if rng.random() < P_ERROR:
        _fault(state, ERROR, int(np.exp(rng.uniform(np.log(120), np.log(4 * 3600)))), rng)
    if rng.random() < P_EMERGENCY:
        _fault(state, EMERGENCY, int(rng.integers(60, 901)), rng)
    setpoint[state != RUN] = 0.0


def _rare_series(seed: int, day_index: int, out: list[SynthSeries], state: np.ndarray, t0: int) -> None:
    """New tag key, sensor glitches, NaN and new payloads, each from its own generator."""

    def module_series(payload: str, p: int, m: int) -> int:
        tags = (("phase", str(p)), ("module", str(m)), MASTER)
        return next(i for i, s in enumerate(out) if s.payload_type == payload and s.tags == tags)

    def pick_module(rng) -> tuple[int, int]:
        return int(rng.choice(PHASES)), int(rng.choice(MODULES))

    rng = _rare_rng(seed, day_index, _K_TAG)
    if rng.random() < P_NEW_TAG:  # a firmware update: from `cut` on the series carries a new tag
        i = module_series("module_temperature", *pick_module(rng))
        s = out[i]
        cut = t0 + int(rng.integers(DAY_S // 10, DAY_S * 9 // 10)) * 1000
        after = s.ts_ms >= cut
        out[i] = SynthSeries(s.payload_type, s.tags, s.ts_ms[~after], s.values[~after])
        out.append(SynthSeries(s.payload_type, s.tags + (NEW_TAG,), s.ts_ms[after], s.values[after]))

    touched: dict[int, set[int]] = {}

    def replace_values(rng, i: int, n: int, value: float) -> None:
        """`n` existing samples of series `i` (not yet touched) get `value`."""
        free = np.setdiff1d(np.arange(len(out[i].ts_ms)), sorted(touched.get(i, ())))
        take = rng.choice(free, min(n, len(free)), replace=False)
        out[i].values[take] = value
        touched.setdefault(i, set()).update(int(t) for t in take)

    rng = _rare_rng(seed, day_index, _K_GLITCH)
    if rng.random() < P_GLITCH:
        for _ in range(int(rng.integers(1, 3))):
            payload = str(rng.choice(list(GLITCHES)))
            value = _f32(np.array([rng.choice(GLITCHES[payload])]))[0]
            replace_values(rng, module_series(payload, *pick_module(rng)), int(rng.integers(1, 6)), value)
    rng = _rare_rng(seed, day_index, _K_NON_FINITE)
    if rng.random() < P_NON_FINITE:
        payload = str(rng.choice(["module_current", "module_voltage"]))
        replace_values(rng, module_series(payload, *pick_module(rng)), int(rng.integers(1, 6)), np.nan)

    rng = _rare_rng(seed, day_index, _K_PAYLOAD)
    if rng.random() < P_NEW_PAYLOAD:
        name = str(rng.choice(NEW_PAYLOADS))
        if name == "module_insulation_resistance_kohm":
            p, m = pick_module(rng)
            tags, gap, hours = (("phase", str(p)), ("module", str(m)), MASTER), 60.0, rng.uniform(3, 10)
        else:
            tags, gap, hours = (MASTER,), 90.0, rng.uniform(4, 16)
        length = int(hours * 3600)
        start = int(rng.integers(0, DAY_S - length))
        secs = start + np.unique(np.cumsum(rng.exponential(gap, int(length / gap * 2) + 10)).astype(np.int64))
        secs = secs[secs < start + length]
        if name == "module_insulation_resistance_kohm":
            vals = rng.uniform(2000, 5000) + rng.normal(0, 25, len(secs))
        else:
            vals = 1400 + 700 * (state[secs] == RUN) + rng.normal(0, 30, len(secs))
        out.append(SynthSeries(name, tags, t0 + secs * 1000, _f32(vals)))


def day_manifest(series: list[SynthSeries], catalog: Catalog | None = None) -> dict:
    """What a day holds beyond the catalog's expectations, in distinct samples (see the module doc):
    text values (all of them), out-of-range and non-finite samples per "hierarchy/column", unknown
    payloads and unknown tag keys. Drift is the writer's; it is added by `generate`."""
    catalog = catalog or default_catalog()
    known_keys = catalog.known_tag_keys()
    text: dict[str, Counter] = {}
    out_of_range, non_finite, payloads, tag_keys = Counter(), Counter(), Counter(), Counter()
    for s in series:
        info = catalog.place(s.payload_type, s.tags)
        n = len(np.unique(s.ts_ms))  # one value per time in a series: distinct samples
        if n != len(s.ts_ms):
            raise ValueError(f"{s.payload_type} {s.tags}: two samples at one time")
        if not info.signal.known:
            payloads[s.payload_type] += n
        for key in sorted({k for k, _ in s.tags} - known_keys):
            tag_keys[key] += n
        if s.values.dtype == object:
            text.setdefault(s.payload_type, Counter()).update(s.values.tolist())
            continue
        column = f"{info.hierarchy}/{info.column}"
        bad = ~np.isfinite(s.values)
        if bad.any():
            non_finite[column] += int(bad.sum())
        if info.signal.bounds is not None:
            lo, hi = info.signal.bounds
            outside = int(((s.values < lo) | (s.values > hi)).sum())  # NaN is neither
            if outside:
                out_of_range[column] += outside

    def plain(counter) -> dict:
        return {k: int(counter[k]) for k in sorted(counter)}

    return {
        "text_values": {p: plain(c) for p, c in sorted(text.items())},
        "out_of_range": plain(out_of_range),
        "non_finite": plain(non_finite),
        "unknown_payloads": plain(payloads),
        "unknown_tag_keys": plain(tag_keys),
        "drift": {},
    }


def drift_plan(seed: int, day_index: int) -> dict[int, str]:
    """15-minute windows (0-95) of a day whose telemetry file is written with a drift kind."""
    rng = np.random.default_rng([seed, day_index, 8])
    if rng.random() >= P_DRIFT:
        return {}
    windows = rng.choice(96, int(rng.integers(1, 5)), replace=False)
    return {int(w): str(rng.choice(DRIFT_KINDS)) for w in sorted(windows)}


def _f32(values: np.ndarray) -> np.ndarray:
    """Round through float32, as the field devices report."""
    return np.asarray(values, np.float32).astype(np.float64)


def _duplicate_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    return 1 + rng.poisson(3.4, n)


# ------------------------------------------------------------------ writers
def _long_rows(series: list[SynthSeries], rng: np.random.Generator):
    """Series -> long rows with exact duplicates: (series index, ts_ms, value as text)."""
    import pyarrow as pa

    sidx = np.concatenate([np.full(len(s.ts_ms), i, np.int32) for i, s in enumerate(series)])
    ts = np.concatenate([s.ts_ms for s in series])
    text = pa.concat_arrays([_as_text(s.values) for s in series])
    reps = _duplicate_counts(rng, len(ts))
    take = np.repeat(np.arange(len(ts)), reps)
    return sidx[take], ts[take], text.take(pa.array(take))


def _as_text(values: np.ndarray):
    """A series' values as the exporter's text; a missing number is the text "NaN"."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.dtype == object:
        return pa.array(values, pa.string())
    text = pc.cast(pa.array(values), pa.string())
    if np.isnan(values).any():  # Arrow writes "nan"; the field devices send "NaN"
        text = pc.if_else(pa.array(np.isnan(values)), pa.scalar("NaN"), text)
    return text


def write_telemetry_day(
    folder: Path,
    series: list[SynthSeries],
    day: date,
    rng: np.random.Generator,
    drift: dict[int, str] | None = None,
    applied: dict[str, str] | None = None,
    exporter: str = "quarter",
) -> list[Path]:
    """One day as 15-minute telemetry exports in `folder/YYYY/MM/DD/`.

    `drift` maps windows (0-95) to a drift kind (DRIFT_KINDS) for their file; `applied` receives
    {file name: kind} of the files actually written that way (a window without rows has no file).
    `exporter="real"`: the real exporter's files instead (`write_real_day`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if exporter == "real":
        return write_real_day(folder, series, day, rng, drift, applied)
    drift = drift or {}
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
        table = _window(ts, sidx, payload, text, tags, lo, hi)
        stamp = day_start_ms(day) // 1000 + w * 900 + int(rng.integers(0, 60))
        path = out_dir / f"telemetry-export-metrics-2-{_stamp(stamp)}-{uuid.UUID(bytes=rng.bytes(16), version=4)}.parquet"
        if w in drift:
            files += _drift_window(path, table, drift[w], series, sidx[lo:hi], lo, stamp, applied)
            continue
        pq.write_table(table, path, compression="snappy")
        files.append(path)
    return files


#: resolution of the field devices' numbers (the steps between values on the sample's 2024-07-05);
#: the real exporter's values are these steps, as float32 (payloads not listed: full float32)
REAL_RESOLUTION = {
    "module_voltage": 0.01,
    "battery_voltage": 0.01,
    "module_temperature": 0.01,
    "battery_sensor_temperature": 0.01,
    "cell_voltage": 0.001,
    "module_state_of_charge": 0.0001,
    "module_current": 0.1,
    "debug_value": 0.041,
    "system_timing_worst_us": 0.01,
    "system_frequency_freq_hz": 0.01,
}


def _at_real_resolution(series: list[SynthSeries]) -> list[SynthSeries]:
    """Numbers rounded to the devices' steps (REAL_RESOLUTION); NaN and text stay as they are."""
    out = []
    for s in series:
        step = REAL_RESOLUTION.get(s.payload_type)
        if step is None or s.values.dtype == object:
            out.append(s)
        else:
            out.append(SynthSeries(s.payload_type, s.tags, s.ts_ms, _f32(np.round(s.values / step) * step)))
    return out


#: the real exporter's files (2024-07-05 of the sample): ~92 a day, windows of 15-16.5 minutes
REAL_FILE_SECONDS = (900, 990)
#: ... and inside a file, rows come in re-export chunks of 5 s: copy k of a sample is in chunk k
REAL_CHUNK_S = 5


def write_real_day(
    folder: Path,
    series: list[SynthSeries],
    day: date,
    rng: np.random.Generator,
    drift: dict[int, str] | None = None,
    applied: dict[str, str] | None = None,
) -> list[Path]:
    """One day as the real exporter writes it (measured on the sample's 2024-07-05), in `folder/YYYY/MM/DD/`.

    - Files cover consecutive, disjoint time windows of 15-16.5 minutes (not aligned to the quarter
      hour; ~92 a day, the last ending at midnight), so every copy of a sample is in one file.
    - Inside a file the rows come as re-exported chunks: copy k (0, 1, ...) of a sample at second s
      is in chunk s // 5 + k; each chunk is sorted by time, then payload type (all modules' SoC,
      then all battery voltages, ...). So the timestamps are ~99.7 % non-decreasing and the copies of
      a sample lie ~1,000-2,000 rows apart, as in the real files.
    - Each file carries the pandas index column `__index_level_0__` (0..n-1) and pandas metadata.
    Copies per sample: 1 + Poisson(3.4), as with the default exporter. `drift` maps file numbers
    (0, 1, ...) to a drift kind, as windows do for the default exporter.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    drift = drift or {}
    sidx, ts, text = _long_rows(series, rng)
    first = np.flatnonzero(np.r_[True, (sidx[1:] != sidx[:-1]) | (ts[1:] != ts[:-1])])
    copy = np.arange(len(ts)) - np.repeat(first, np.diff(np.r_[first, len(ts)]))
    payloads = [s.payload_type for s in series]
    order_of_payload = {p: i for i, p in enumerate(dict.fromkeys(payloads))}
    rank = np.empty(len(series), np.int64)
    rank[np.lexsort((np.arange(len(series)), [order_of_payload[p] for p in payloads]))] = np.arange(len(series))
    day_s = day_start_ms(day) // 1000
    secs = ts // 1000 - day_s
    bounds = [0]
    while bounds[-1] < DAY_S:
        bounds.append(bounds[-1] + int(rng.integers(*REAL_FILE_SECONDS)))
    bounds[-1] = DAY_S
    window = np.searchsorted(np.array(bounds), secs, side="right") - 1
    order = np.lexsort((rank[sidx], ts, secs // REAL_CHUNK_S + copy, window))
    sidx, ts, window, text = sidx[order], ts[order], window[order], text.take(pa.array(order))
    payload = pa.array(payloads, pa.string())
    tags = pa.array([[list(t) for t in s.tags] for s in series], pa.list_(pa.list_(pa.string())))
    cuts = np.searchsorted(window, np.arange(len(bounds)))
    out_dir = folder / f"{day:%Y/%m/%d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files, pandas_meta = [], None
    for w in range(len(bounds) - 1):
        lo, hi = cuts[w], cuts[w + 1]
        if hi == lo:
            continue
        table = _window(ts, sidx, payload, text, tags, lo, hi)
        stamp = int(ts[lo:hi].min()) // 1000 + int(rng.integers(2, 8))
        path = out_dir / f"telemetry-export-metrics-2-{_stamp(stamp)}-{uuid.UUID(bytes=rng.bytes(16), version=4)}.parquet"
        if w in drift:
            files += _drift_window(path, table, drift[w], series, sidx[lo:hi], lo, stamp, applied)
            continue
        if pandas_meta is None:
            index = pd.Index(np.arange(0), dtype="int64")
            pandas_meta = pa.Table.from_pandas(table.slice(0, 0).to_pandas().set_index(index)).schema.metadata
        table = table.append_column("__index_level_0__", pa.array(np.arange(hi - lo, dtype=np.int64)))
        pq.write_table(table.replace_schema_metadata(pandas_meta), path, compression="snappy")
        files.append(path)
    return files


def _window(ts: np.ndarray, sidx: np.ndarray, payload, text, tags, lo: int, hi: int):
    """One export window's rows lo..hi in the export's four columns (a pyarrow Table)."""
    import pyarrow as pa

    idx = pa.array(sidx[lo:hi])
    return pa.table(
        {
            "timestamp": pa.array(ts[lo:hi] // 1000, pa.int64()),
            "payload_type": payload.take(idx),
            "value": text.slice(lo, hi - lo),
            "tags": tags.take(idx),
        }
    )


def _drift_window(
    path: Path, table, kind: str, series: list, sidx: np.ndarray, lo: int, stamp: int, applied: dict | None
) -> list[Path]:
    """A window written with a drift kind; the drifted file's name goes into `applied`."""
    written = _write_drifted(path, table, kind, series, sidx, lo, stamp)
    if applied is not None:
        applied[written[-1].name] = kind
    return written


def _write_drifted(
    path: Path, table, kind: str, series: list[SynthSeries], sidx: np.ndarray, first_row: int, stamp: int
) -> list[Path]:
    """Write one window's rows with a drift kind; returns the files written, the drifted one last.

    `value_double` cannot hold text: a window with text rows is split into a normal file (its text
    rows, named like the window's files with the stamp one second later) and the float64 file.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = []
    if kind == "value_double":
        is_text = np.array([s.values.dtype == object for s in series])[sidx]
        if is_text.any():
            mate = uuid.uuid5(uuid.NAMESPACE_URL, path.name)
            text_path = path.with_name(f"telemetry-export-metrics-2-{_stamp(stamp + 1)}-{mate}.parquet")
            pq.write_table(table.filter(pa.array(is_text)), text_path, compression="snappy")
            files.append(text_path)
            table = table.filter(pa.array(~is_text))
        table = table.set_column(2, "value", pc.cast(table["value"], pa.float64()))
    elif kind == "tags_map":
        maps = pa.array([list(s.tags) for s in series], pa.map_(pa.string(), pa.string()))
        table = table.set_column(3, "tags", maps.take(pa.array(sidx)))
    elif kind in ("timestamp_ms", "timestamp_type"):
        ms = pc.multiply(table["timestamp"], 1000)
        table = table.set_column(0, "timestamp", ms if kind == "timestamp_ms" else ms.cast(pa.timestamp("ms", tz="UTC")))
    elif kind == "extra_column":
        table = table.append_column("exporter_version", pa.array(["2.7.1"] * table.num_rows, pa.string()))
    elif kind == "pandas_index":  # as pandas writes a frame with a non-default index
        index = pd.Index(np.arange(first_row, first_row + table.num_rows), dtype="int64")
        meta = pa.Table.from_pandas(table.slice(0, 0).to_pandas().set_index(index[:0])).schema.metadata
        table = table.append_column("__index_level_0__", pa.array(index.to_numpy())).replace_schema_metadata(meta)
    else:
        raise ValueError(f"unknown drift kind {kind!r}: one of {DRIFT_KINDS}")
    pq.write_table(table, path, compression="snappy")
    return [*files, path]


def _stamp(epoch_s: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d-%H-%M-%S")


def write_hdf5_day(
    path: Path, series: list[SynthSeries], day: date, rng: np.random.Generator, catalog: Catalog, attrs: dict
) -> Path:
    """One day of a run as a run file (duplicates kept, as an export would have them)."""
    from sim_platform.core.ingest.hdf5_runs import write_run_file

    items = []
    for s in series:
        reps = _duplicate_counts(rng, len(s.ts_ms))
        take = np.repeat(np.arange(len(s.ts_ms)), reps)
        items.append((s.payload_type, s.tags, s.ts_ms[take], s.values[take]))
    start = day_start_ms(day)
    write_run_file(path, items, catalog, start, start + DAY_S * 1000, attrs)
    return path


def _generate_day(args) -> tuple[list[Path], str, dict | None]:
    """Write one day; returns its files, the day (ISO) and, with `rare`, its manifest entry."""
    out, run, d, days, seed, fmt, start, rare, exporter = args
    run_dir = out / f"run_{run + 1:02d}"
    index = run * days + d
    day = start + timedelta(days=index)
    series = synth_day(seed, index, day, rare=rare, presence=REAL_PRESENCE if exporter == "real" else FAST_PRESENCE)
    if exporter == "real":
        series = _at_real_resolution(series)
    manifest = day_manifest(series) if rare else None
    rng = np.random.default_rng([seed, index, 1])
    if fmt == "telemetry":
        applied: dict[str, str] = {}
        files = write_telemetry_day(run_dir, series, day, rng, drift_plan(seed, index) if rare else None, applied, exporter)
        if manifest is not None:
            manifest["drift"] = dict(sorted(applied.items()))
        return files, day.isoformat(), manifest
    attrs = {"run_id": run_dir.name, "sample": d + 1, "generator": "sim_platform.core.synth.generate", "seed": seed}
    files = [write_hdf5_day(run_dir / f"sample_{d + 1:02d}.h5", series, day, rng, default_catalog(), attrs)]
    return files, day.isoformat(), manifest


def generate(
    out: str | Path,
    runs: int = 1,
    days: int = 1,
    seed: int = 0,
    fmt: str = "hdf5",
    start: date = date(2024, 7, 1),
    workers: int | None = None,
    progress=None,
    rare: bool = False,
    exporter: str = "quarter",
) -> list[Path]:
    """Write `runs` run folders of `days` days each; returns the files written (the data files).

    hdf5: `out/run_XX/sample_YY.h5`, one file per day. telemetry: `out/run_XX/YYYY/MM/DD/*.parquet`.
    Days are generated in parallel processes (`workers`, default the core count); the output does not
    depend on it. `rare`: the plant's rare behaviour (module docstring), and `out/injected.json`
    saying exactly what was injected (without `rare`, an `injected.json` left in `out` is removed).
    `exporter`: "quarter" (default: 15-minute files, ~5.0 M raw rows a day) or "real": the real
    exporter's files and density, as the sample's 2024-07-05 (~92 files, ~5.5 M raw and ~1.25 M
    distinct rows a day; `write_real_day`). The HDF5 format takes only the density from it.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor

    if fmt not in ("hdf5", "telemetry"):
        raise ValueError(f"unknown format {fmt!r}: choose hdf5 or telemetry")
    if runs < 1 or days < 1:
        raise ValueError("runs and days must be at least 1")
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}: one of {EXPORTERS}")
    tasks = [(Path(out), r, d, days, seed, fmt, start, rare, exporter) for r in range(runs) for d in range(days)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    files: list[Path] = []
    manifest: dict[str, dict] = {}
    if workers == 1:
        results = map(_generate_day, tasks)
    else:
        import multiprocessing as mp

        pool = ProcessPoolExecutor(
            workers, mp_context=mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        )
        results = pool.map(_generate_day, tasks)
    try:
        for task, (written, day, injected) in zip(tasks, results):
            files += written
            if injected is not None:
                manifest[day] = injected
            if progress:
                progress(task[3] * task[1] + task[2])
    finally:
        if workers > 1:
            pool.shutdown()
    if rare:
        text = json.dumps({"seed": seed, "days": dict(sorted(manifest.items()))}, indent=1)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / MANIFEST).write_text(text + "\n")
    else:  # a manifest of an earlier rare run would describe files this run has just replaced
        (Path(out) / MANIFEST).unlink(missing_ok=True)
    return sorted(files)
