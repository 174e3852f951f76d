"""The generator: deterministic for a seed, with the statistics of the real exports."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import sim_platform.core.synth.generate as gen_module
from sim_platform.cli import build_parser
from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.synth.generate import (
    DRIFT_KINDS,
    MANIFEST,
    NEW_PAYLOADS,
    NEW_TAG,
    STATE_NAMES,
    day_manifest,
    generate,
    synth_day,
)


def digest(root):
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()
    }


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


def test_plain_output_has_no_manifest(generated_exports, tmp_path):
    assert not (generated_exports / MANIFEST).exists()
    (tmp_path / MANIFEST).write_text("{}")  # left by an earlier rare run into the same folder
    generate(tmp_path, runs=1, days=1, seed=5, fmt="hdf5", workers=1)
    assert not (tmp_path / MANIFEST).exists()


# --- rare behaviour ----------------------------------------------------------------------------------
#: every kind of rare injection (states, glitches, NaN, both new payloads, the new tag key and all six
#: drift kinds) appears in these 8 days; end-to-end tests may rely on it
from sim_platform_tests.conftest import RARE_DAYS, RARE_SEED  # noqa: E402  (the shared rare_exports fixture)

START = date(2024, 7, 1)
CATALOG = default_catalog()
KNOWN_KEYS = CATALOG.known_tag_keys()
BASE_COLUMNS = {"timestamp", "payload_type", "value", "tags"}


@pytest.fixture(scope="module")
def rare_runs(tmp_path_factory):
    """The first 4 days of the same plan as HDF5, split into 2 runs of 2 days."""
    out = tmp_path_factory.mktemp("rare_runs")
    generate(out, runs=2, days=2, seed=RARE_SEED, fmt="hdf5", rare=True, workers=2)
    return out


def manifest(root) -> dict:
    return json.loads((root / MANIFEST).read_text())


def row_key(payload: str, tags: tuple, ts_ms: int, value) -> tuple:
    """A distinct sample; NaN as text, so that two NaN samples are one."""
    if not isinstance(value, str) and np.isnan(value):
        value = "NaN"
    return payload, tags, int(ts_ms), value


def flags(payloads: list[str]) -> tuple[np.ndarray, ...]:
    """Per payload: text?, unknown?, lower and upper bound (+-inf when none)."""
    sigs = [CATALOG.signals.get(p) for p in payloads]
    text = np.array([s is not None and s.kind == "text" for s in sigs], bool)
    unknown = np.array([s is None for s in sigs], bool)
    lo = np.array([s.bounds[0] if s is not None and s.bounds else -np.inf for s in sigs])
    hi = np.array([s.bounds[1] if s is not None and s.bounds else np.inf for s in sigs])
    return text, unknown, lo, hi


def read_export(path) -> tuple[set[str], list[tuple]]:
    """Drift kinds seen in a telemetry file's layout, and its rows that the report counts (text rows,
    unknown payloads or tag keys, non-finite or out-of-bounds numbers) as `row_key`s."""
    t = pq.read_table(path, read_dictionary=["payload_type", "tags.list.element.list.element"])
    t = t.unify_dictionaries().combine_chunks()
    names, n, kinds = set(t.column_names), t.num_rows, set()
    if names - BASE_COLUMNS - {"__index_level_0__"}:
        kinds.add("extra_column")
    if "__index_level_0__" in names:
        kinds.add("pandas_index")
    ts = t["timestamp"].chunk(0)
    if pa.types.is_timestamp(ts.type):
        kinds.add("timestamp_type")
        ts_ms = ts.cast(pa.timestamp("ms", tz=ts.type.tz)).cast(pa.int64()).to_numpy()
    elif ts.to_numpy().min() > 10**11:  # epoch seconds of this century are ~1.7e9
        kinds.add("timestamp_ms")
        ts_ms = ts.to_numpy()
    else:
        ts_ms = ts.to_numpy() * 1000
    tags = t["tags"].chunk(0)
    offsets = tags.offsets.to_numpy()
    if pa.types.is_map(tags.type):
        kinds.add("tags_map")
        keys, vals = tags.keys.dictionary_encode(), tags.items
    else:  # pairs: key and value alternate in the leaves
        leaves = tags.flatten().flatten()
        keys, vals = leaves.take(pa.array(np.arange(0, len(leaves), 2))), leaves.take(pa.array(np.arange(1, len(leaves), 2)))
    value = t["value"].chunk(0)
    payload = t["payload_type"].chunk(0)
    codes, words = payload.indices.to_numpy(), payload.dictionary.to_pylist()
    text, unknown, lo, hi = (f[codes] for f in flags(words))
    num = np.full(n, np.nan)
    if pa.types.is_floating(value.type):
        kinds.add("value_double")
        assert not text.any(), f"{path.name}: text rows in a float64 value column"
        num = value.to_numpy()
    elif (~text).any():
        num[~text] = pc.cast(value.filter(pa.array(~text)), pa.float64()).to_numpy()
    unknown_key = ~np.isin(np.array(keys.dictionary.to_pylist(), dtype=object), list(KNOWN_KEYS))
    pair_row = np.repeat(np.arange(n), np.diff(offsets))
    odd_tags = np.bincount(pair_row[unknown_key[keys.indices.to_numpy()]], minlength=n) > 0
    odd = text | unknown | odd_tags | (~text & (~np.isfinite(num) | (num < lo) | (num > hi)))
    rows = []
    idx = np.flatnonzero(odd)
    if len(idx):
        counts = np.diff(offsets)[idx]
        pair_idx = pa.array(np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in idx]))
        k, v = keys.take(pair_idx).to_pylist(), vals.take(pair_idx).to_pylist()
        texts = value.take(pa.array(idx)).to_pylist() if not pa.types.is_floating(value.type) else None
        start = 0
        for j, i in enumerate(idx):
            row_tags = tuple(zip(k[start : start + counts[j]], v[start : start + counts[j]]))
            start += counts[j]
            rows.append(row_key(words[codes[i]], row_tags, ts_ms[i], texts[j] if text[i] else num[i]))
    return kinds, rows


def read_run(path) -> list[tuple]:
    """The same rows from an HDF5 run file (plain h5py, the file's attributes)."""
    rows = []
    with h5py.File(path, "r") as f:
        for g in f["series"].values():
            payload = str(g.attrs["payload_type"])
            tags = tuple(tuple(t) for t in json.loads(g.attrs["tags"]))
            ts, values = g["timestamp"][()], g["value"][()]
            text, unknown, lo, hi = (x[0] for x in flags([payload]))
            if text:
                values = np.array([v.decode() for v in values], dtype=object)
                odd = np.ones(len(ts), bool)
            elif unknown or {k for k, _ in tags} - KNOWN_KEYS:
                odd = np.ones(len(ts), bool)
            else:
                odd = ~np.isfinite(values) | (values < lo) | (values > hi)
            rows += [row_key(payload, tags, ts[i], values[i]) for i in np.flatnonzero(odd)]
    return rows


def count(rows) -> dict[str, dict]:
    """The report's counts over DISTINCT rows, per day, as in the manifest (without drift)."""
    days: dict[str, dict] = {}
    for payload, tags, ts, value in set(rows):
        day = days.setdefault(
            datetime.fromtimestamp(ts / 1000, tz=UTC).date().isoformat(),
            {"text_values": {}, "out_of_range": {}, "non_finite": {}, "unknown_payloads": {}, "unknown_tag_keys": {}},
        )
        sig = CATALOG.signals.get(payload)
        if sig is None:
            bump(day["unknown_payloads"], payload)
        for k in sorted({k for k, _ in tags} - KNOWN_KEYS):
            bump(day["unknown_tag_keys"], k)
        if sig is not None and sig.kind == "text":
            bump(day["text_values"].setdefault(payload, {}), value)
            continue
        info = CATALOG.place(payload, tags)
        column = f"{info.hierarchy}/{info.column}"
        if value == "NaN":
            bump(day["non_finite"], column)
        elif sig is not None and sig.bounds and not sig.bounds[0] <= value <= sig.bounds[1]:
            bump(day["out_of_range"], column)
    return days


def bump(counts: dict, key) -> None:
    counts[key] = counts.get(key, 0) + 1


def without_drift(days: dict) -> dict:
    return {d: {k: v for k, v in entry.items() if k != "drift"} for d, entry in days.items()}


def test_rare_manifest_matches_the_written_exports(rare_exports):
    m = manifest(rare_exports)
    assert m["seed"] == RARE_SEED
    assert list(m["days"]) == [(START + timedelta(days=i)).isoformat() for i in range(RARE_DAYS)]
    rows, drift = [], {}
    for path in sorted(rare_exports.rglob("*.parquet")):
        kinds, file_rows = read_export(path)
        rows += file_rows
        assert len(kinds) <= 1, (path.name, kinds)
        if kinds:
            drift.setdefault(path.parent.relative_to(rare_exports / "run_01").as_posix().replace("/", "-"), {})[path.name] = (
                kinds.pop()
            )
    assert without_drift(m["days"]) == count(rows)
    assert {d: e["drift"] for d, e in m["days"].items() if e["drift"]} == drift
    # an injected value replaced a sample: no other value at the same series and time
    numeric = {r for r in set(rows) if not isinstance(r[3], str) or r[3] == "NaN"}
    assert len({r[:3] for r in numeric}) == len(numeric)


def test_rare_manifest_matches_the_written_run_files(rare_runs, rare_exports):
    m = manifest(rare_runs)
    assert sorted(p.relative_to(rare_runs).as_posix() for p in rare_runs.rglob("*.h5")) == [
        "run_01/sample_01.h5",
        "run_01/sample_02.h5",
        "run_02/sample_01.h5",
        "run_02/sample_02.h5",
    ]
    rows = [r for p in sorted(rare_runs.rglob("*.h5")) for r in read_run(p)]
    assert without_drift(m["days"]) == count(rows)
    assert all(not e["drift"] for e in m["days"].values())  # HDF5 has no schema drift
    # same seed, same days: the same content, however the days are split into runs and formats
    first4 = {d: e for d, e in without_drift(manifest(rare_exports)["days"]).items() if d in m["days"]}
    assert without_drift(m["days"]) == first4 and len(first4) == 4


def test_every_rare_kind_appears_in_the_chosen_days(rare_exports):
    days = manifest(rare_exports)["days"].values()
    state = CATALOG.signals["system_state"]
    states = {v for d in days for v in d["text_values"]["system_state"]}
    assert states >= {"IDLE", "RUN", "INIT", "READY", "ERROR", "EMERGENCY", "SERVICE"}
    assert states - set(state.known_values) == {"SERVICE"}  # exactly one state the catalog does not know
    out_of_range = {k for d in days for k in d["out_of_range"]}
    assert {k.split("/")[1] for k in out_of_range} == {"module_temperature", "module_voltage", "module_state_of_charge"}
    assert all(re.fullmatch(r"phase\d_module\d/module_[a-z_]+", k) for k in out_of_range)  # no extra tags
    assert any(d["non_finite"] for d in days)
    assert {p for d in days for p in d["unknown_payloads"]} == set(NEW_PAYLOADS)
    assert all(100 <= n <= 2000 for d in days for n in d["unknown_payloads"].values())  # some hundreds
    assert {k for d in days for k in d["unknown_tag_keys"]} == {"firmware"}
    assert {kind for d in days for kind in d["drift"].values()} == set(DRIFT_KINDS)
    assert sum(1 for d in days if d["drift"]) < RARE_DAYS  # most days' files are all normal


def test_rare_is_deterministic_and_keeps_every_sample_time():
    day = date(2024, 7, 3)
    plain, rare, again = (
        synth_day(RARE_SEED, 2, day),
        synth_day(RARE_SEED, 2, day, rare=True),
        synth_day(RARE_SEED, 2, day, rare=True),
    )
    assert all(
        a.tags == b.tags
        and np.array_equal(a.ts_ms, b.ts_ms)
        and np.array_equal(a.values, b.values, equal_nan=a.values.dtype != object)
        for a, b in zip(rare, again, strict=True)
    )
    times = {}
    for s in rare:  # the series with the new tag is the rest of its module_temperature series
        key = (s.payload_type, tuple(t for t in s.tags if t != NEW_TAG))
        times[key] = np.sort(np.concatenate([times.get(key, np.empty(0, np.int64)), s.ts_ms]))
    for s in plain:
        assert np.array_equal(times.pop((s.payload_type, s.tags)), s.ts_ms)
    assert {p for p, _ in times} <= set(NEW_PAYLOADS)  # only new payloads are new series
    assert (
        day_manifest(rare)["unknown_tag_keys"] == {"firmware": 450}
        and "SERVICE" in day_manifest(rare)["text_values"]["system_state"]
    )


def test_rare_states_stop_the_current():
    series = synth_day(RARE_SEED, 6, date(2024, 7, 7), rare=True)  # a day with ERROR, SERVICE, INIT, READY
    state = next(s for s in series if s.payload_type == "system_state")
    by_time = dict(zip(state.ts_ms.tolist(), state.values.tolist()))
    assert {"ERROR", "SERVICE", "INIT", "READY"} <= set(by_time.values())
    checked = 0
    for s in series:
        if s.payload_type != "module_current":
            continue
        st = np.array([by_time.get(t, "") for t in s.ts_ms.tolist()], dtype=object)
        stopped = (st != "RUN") & (st != "") & ~np.isnan(s.values)
        assert np.all(s.values[stopped] == 0.0)
        checked += int(stopped.sum())
        assert np.any(s.values[st == "RUN"] != 0.0)
    assert checked > 10_000


def test_rare_state_shares_are_realistic():
    """Over many days: faults on a minority of days, and a minority of any day."""
    days = 400
    seen = {name: 0 for name in ("INIT", "ERROR", "EMERGENCY", "SERVICE")}
    fault_share = []
    for i in range(days):
        rng = np.random.default_rng([3, i])
        gen_module._burst_seconds(rng)
        state, setpoint = gen_module._states(rng)
        gen_module._rare_states(gen_module._rare_rng(3, i, 0), state, setpoint)
        names = set(STATE_NAMES[np.unique(state)])
        for name in seen:
            seen[name] += name in names
        fault_share.append(np.isin(state, [gen_module.ERROR, gen_module.EMERGENCY]).mean())
        assert np.all(setpoint[state != gen_module.RUN] == 0.0)
    share = {k: v / days for k, v in seen.items()}
    assert 0.35 < share["INIT"] < 0.62  # start-ups, and the recovery after every fault and service (~0.49)
    assert 0.10 < share["ERROR"] < 0.20 and 0.02 < share["EMERGENCY"] < 0.09 and 0.06 < share["SERVICE"] < 0.15
    assert max(fault_share) < 0.2 and np.mean(fault_share) < 0.02


def test_cli_rare_flag_and_defaults_in_help(capsys):
    parser = build_parser()
    args = parser.parse_args(["generate", "--out", "x", "--rare"])
    assert args.rare and args.format == "hdf5" and not parser.parse_args(["generate", "--out", "x"]).rare
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--rare" in text and "(default: 0)" in text and "(default: 2024-07-01)" in text and "(default: None)" not in text
