"""Module-day features: hand-built days with exactly known values, and real data against a pandas oracle."""

from __future__ import annotations

import json
import time
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.etl import run_etl
from sim_platform.core.gold.features import (
    FEATURE_SCHEMA,
    KEY_COLUMNS,
    feature_docs,
    features_table,
    module_day_features,
    quarter_days,
    quarter_of,
)
from sim_platform.core.store.layout import LocalTarget
from sim_platform.core.store.read import StoredDay, read_stored_day
from sim_platform.core.synth.generate import generate
from sim_platform_tests.conftest import REPO

DAY = date(2024, 7, 1)
NAN = np.nan
STATE = default_catalog().signals["system_state"]
#: the state features: one hours column per known state (catalog order), then the rest
STATE_COLUMNS = [f"{v.lower()}_hours" for v in STATE.known_values] + [
    "other_state_hours",
    "other_state_hours_map",
    "state_transitions",
    "first_fault_time",
]


def stored(columns: dict, real_any: int = 0) -> StoredDay:
    """A StoredDay whose table holds `columns` (lists, NaN/None = null) on the 5 s grid from midnight."""
    n = len(next(iter(columns.values())))
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    table = {"timestamp": pa.array(pd.date_range(start, periods=n, freq="5s"), pa.timestamp("ns", "UTC"))}
    for name, values in columns.items():
        if name == "system_state":
            table[name] = pa.array(values, pa.string())
        else:
            table[name] = pa.array(np.asarray(values, dtype=float), pa.float64(), from_pandas=True)  # NaN -> null
    return StoredDay(pa.table(table), sorted({i // 720 for i in range(n)}), {"*any*": real_any}, {})


def row(module=None, system=None, phase_module="phase1_module1", day=DAY) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" and the like
        table = module_day_features(module, system, day, phase_module)
    assert table.schema.equals(FEATURE_SCHEMA, check_metadata=True) and table.num_rows == 1
    return table.to_pylist()[0]


def test_energy_and_statistics_of_a_known_day():
    # hour 0: 100 V, -10 A (charging 1 kWh); hour 1: 100 V, +20 A (discharging 2 kWh); then 3 bins with a gap
    volt = [100.0] * 1440 + [NAN, 100.0, 100.0]
    amp = [-10.0] * 720 + [20.0] * 720 + [20.0, NAN, 0.0]
    r = row(stored({"module_voltage": volt, "module_current": amp}))
    assert r["charge_energy_kwh"] == pytest.approx(1.0, rel=1e-12)
    assert r["discharge_energy_kwh"] == pytest.approx(2.0, rel=1e-12)
    assert r["valid_bins"] == 1441  # the bin with V null and the one with I null do not count
    a = np.array(amp)[~np.isnan(amp)]
    assert (r["current_a_min"], r["current_a_max"]) == (-10.0, 20.0)
    assert r["current_a_mean"] == pytest.approx(a.mean()) and r["current_a_std"] == pytest.approx(a.std(ddof=0))
    assert (r["voltage_v_min"], r["voltage_v_mean"], r["voltage_v_max"], r["voltage_v_std"]) == (100.0, 100.0, 100.0, 0.0)
    assert r["soc_min"] is None and r["soc_swing"] is None and r["temperature_degc_mean"] is None


def test_a_one_way_day_has_zero_not_negative_energy_the_other_way():
    r = row(stored({"module_voltage": [50.0] * 720, "module_current": [-20.0] * 720}))
    assert r["charge_energy_kwh"] == pytest.approx(50 * 20 * 3600 / 3.6e6, rel=1e-12)
    assert r["discharge_energy_kwh"] == 0.0
    r = row(stored({"module_voltage": [50.0] * 720, "module_current": [20.0] * 720}))
    assert r["discharge_energy_kwh"] == pytest.approx(1.0, rel=1e-12)
    assert str(r["charge_energy_kwh"]) == "0.0"  # not -0.0


def test_soc_and_temperature_statistics_use_non_null_bins_only():
    soc = [0.2, NAN, 0.8, 0.5, NAN]
    temp = [20.0, 22.0, NAN, NAN, NAN]
    r = row(stored({"module_state_of_charge": soc, "module_temperature": temp}))
    assert (r["soc_min"], r["soc_max"]) == (0.2, 0.8)
    assert r["soc_mean"] == pytest.approx(0.5) and r["soc_std"] == pytest.approx(np.std([0.2, 0.8, 0.5]))
    assert r["soc_swing"] == pytest.approx(0.6)
    assert (r["temperature_degc_mean"], r["temperature_degc_std"]) == (21.0, 1.0)


def test_cell_spread_and_the_weakest_cell():
    cells = {
        "cell_voltage_battery1_cell1": [3.7, 3.7, 3.7, NAN],
        "cell_voltage_battery1_cell2": [3.8, NAN, NAN, 3.9],
        "cell_voltage_battery1_cell10": [3.5, 3.6, NAN, NAN],  # always the lowest; numbered 10, not column 3
    }
    r = row(stored(cells))
    # bins 0 and 1 have >= 2 cells: spreads 0.3 and 0.1; bins 2 and 3 have one cell and do not count
    assert r["cell_spread_mean_v"] == pytest.approx(0.2) and r["cell_spread_max_v"] == pytest.approx(0.3)
    assert r["weakest_cell"] == 10 and r["weakest_cell_mean_v"] == pytest.approx(3.55)


def test_weakest_cell_tie_goes_to_the_lowest_number_and_one_cell_has_no_spread():
    r = row(stored({"cell_voltage_battery1_cell3": [3.6, NAN], "cell_voltage_battery1_cell2": [NAN, 3.6]}))
    assert r["weakest_cell"] == 2 and r["weakest_cell_mean_v"] == 3.6
    assert r["cell_spread_mean_v"] is None and r["cell_spread_max_v"] is None


def test_run_and_idle_hours_and_real_bin_share():
    states = ["RUN"] * 720 + ["IDLE"] * 360 + [None] * 100 + ["CHARGE"] * 20
    r = row(stored({"module_voltage": [1.0] * 10}, real_any=1728), stored({"system_state": states}))
    assert (r["run_hours"], r["idle_hours"]) == (1.0, 0.5)
    assert r["real_bin_share"] == 0.1
    assert row(None, stored({"system_state": ["IDLE", None]}))["run_hours"] == 0.0  # known state, no RUN: 0, not null


def hours(bins: int) -> float:
    return bins * 5 / 3600


def test_state_columns_are_the_catalogs_known_states():
    assert STATE.known_values[:4] == ("INIT", "READY", "IDLE", "RUN") and set(STATE.fault_values) == {
        "FAULT",
        "ERROR",
        "EMERGENCY",
    }
    names = FEATURE_SCHEMA.names
    assert names[names.index("init_hours") :] == STATE_COLUMNS  # in catalog order, at the end
    assert {"run_hours", "idle_hours"} < set(STATE_COLUMNS)
    types = {f.name: f.type for f in FEATURE_SCHEMA}
    assert types["state_transitions"] == pa.int32() and types["other_state_hours_map"] == pa.string()


def test_hours_per_state_transitions_and_the_first_fault():
    states = (
        ["INIT"] * 12
        + ["READY"] * 24
        + [None] * 3
        + ["READY"] * 6
        + ["RUN"] * 720
        + ["ERROR"] * 36
        + [None] * 10
        + ["EMERGENCY"] * 12
        + ["INIT"] * 12
        + ["SERVICE"] * 720
        + ["IDLE"] * 360
        + ["MAINTENANCE"] * 6
        + ["IDLE"] * 6
    )
    r = row(None, stored({"system_state": states}))
    assert r["init_hours"] == hours(24) and r["ready_hours"] == hours(30) and r["run_hours"] == 1.0
    assert r["error_hours"] == 0.05 and r["emergency_hours"] == hours(12) and r["idle_hours"] == hours(366)
    assert r["charge_hours"] == r["discharge_hours"] == r["fault_hours"] == r["off_hours"] == 0.0
    assert r["other_state_hours"] == pytest.approx(1.0 + hours(6), rel=1e-12)
    assert json.loads(r["other_state_hours_map"]) == {"MAINTENANCE": hours(6), "SERVICE": 1.0}
    assert list(json.loads(r["other_state_hours_map"])) == ["MAINTENANCE", "SERVICE"]  # sorted keys
    # INIT>READY (the null bins between two READY bins are no change) >RUN >ERROR >EMERGENCY (null bins
    # skipped) >INIT >SERVICE >IDLE >MAINTENANCE >IDLE
    assert r["state_transitions"] == 9
    assert r["first_fault_time"] == "2024-07-01T01:03:45Z"  # bin 765 = 12 + 24 + 3 + 6 + 720
    total = sum(r[c] for c in STATE_COLUMNS if c.endswith("_hours"))
    assert total == pytest.approx(hours(len(states) - 13), rel=1e-12)  # every non-null bin once


def test_fault_time_is_the_first_fault_bin_in_time_order():
    r = row(None, stored({"system_state": ["IDLE"] * 100 + ["FAULT"] + ["RUN"] + ["EMERGENCY"]}))
    assert (r["first_fault_time"], r["fault_hours"], r["state_transitions"]) == ("2024-07-01T00:08:20Z", hours(1), 3)
    system = stored({"system_state": ["IDLE", "RUN", "ERROR", "IDLE", "ERROR"]})
    backwards = StoredDay(system.table.take(pa.array([4, 3, 2, 1, 0])), system.hours, system.real_bins, {})
    r = row(None, backwards)  # rows out of order: the features still follow the timestamps
    assert (r["first_fault_time"], r["state_transitions"]) == ("2024-07-01T00:00:10Z", 4)


def test_state_features_without_states():
    quiet = row(None, stored({"system_state": ["IDLE", None, "RUN", "IDLE"]}))
    assert quiet["first_fault_time"] is None and quiet["other_state_hours_map"] == "{}"
    assert quiet["other_state_hours"] == 0.0 and quiet["error_hours"] == 0.0 and quiet["state_transitions"] == 2
    empty = row(None, stored({"system_state": [None, None]}))  # the column, but no state: zeros, not nulls
    assert [empty[c] for c in STATE_COLUMNS] == [0.0] * (len(STATE_COLUMNS) - 3) + ["{}", 0, None]
    for system in (None, stored({"phase_count": [3.0]})):  # no system day, or no system_state: all null
        assert all(row(None, system)[c] is None for c in STATE_COLUMNS)


def test_keys():
    r = row(phase_module="phase3_module7", day=date(2024, 12, 31))
    assert (r["date"], r["phase_module"], r["phase"], r["module"], r["quarter"]) == (
        date(2024, 12, 31),
        "phase3_module7",
        3,
        7,
        "2024Q4",
    )
    with pytest.raises(ValueError, match="phase2"):
        module_day_features(None, None, DAY, "phase2")


def test_missing_inputs_give_nulls_never_errors():
    nothing = row()
    assert nothing["real_bin_share"] == 0.0
    assert all(v is None for k, v in nothing.items() if k not in {*KEY_COLUMNS, "phase", "module", "quarter", "real_bin_share"})
    # voltage only: no current -> no energy; an all-null column; a system day without system_state
    r = row(stored({"module_voltage": [50.0, 52.0], "module_state_of_charge": [NAN, NAN]}), stored({"phase_count": [3.0]}))
    assert r["voltage_v_mean"] == 51.0
    assert r["current_a_mean"] is None and r["valid_bins"] is None and r["charge_energy_kwh"] is None
    assert r["soc_mean"] is None and r["soc_swing"] is None and r["run_hours"] is None
    # both present but never in the same bin: zero energy bins, energies null
    r = row(stored({"module_voltage": [50.0, NAN], "module_current": [NAN, 3.0]}))
    assert r["valid_bins"] == 0 and r["charge_energy_kwh"] is None


def test_quarters():
    assert quarter_of(date(2024, 3, 31)) == "2024Q1" and quarter_of(date(2024, 7, 1)) == "2024Q3"
    q1, q3 = quarter_days("2024Q1"), quarter_days("2024Q3")
    assert (q1[0], q1[-1], len(q1)) == (date(2024, 1, 1), date(2024, 3, 31), 91)  # leap year
    assert (q3[0], q3[-1], len(q3)) == (date(2024, 7, 1), date(2024, 9, 30), 92)
    assert {quarter_of(d) for d in quarter_days("2023Q4")} == {"2023Q4"}
    for bad in ("2024Q5", "2024-Q3", "24Q1"):
        with pytest.raises(ValueError):
            quarter_days(bad)


def test_features_table_is_sorted_by_key_and_keeps_the_schema():
    rows = [
        module_day_features(None, None, d, pm)
        for d, pm in [(date(2024, 7, 2), "phase1_module1"), (DAY, "phase2_module1"), (DAY, "phase1_module2")]
    ]
    sink = pa.BufferOutputStream()  # one row through parquet without the stored arrow schema: metadata lost
    pq.write_table(rows[1], sink, store_schema=False)
    rows[1] = pq.read_table(sink.getvalue())
    assert not rows[1].schema.equals(FEATURE_SCHEMA, check_metadata=True)
    table = features_table(rows)
    assert table.schema.equals(FEATURE_SCHEMA, check_metadata=True)
    assert list(zip(table["date"].to_pylist(), table["phase_module"].to_pylist())) == [
        (DAY, "phase1_module2"),
        (DAY, "phase2_module1"),
        (date(2024, 7, 2), "phase1_module1"),
    ]
    assert features_table([]).schema.equals(FEATURE_SCHEMA) and features_table([]).num_rows == 0


def test_every_column_is_documented_and_the_doc_file_has_the_current_table():
    for f in FEATURE_SCHEMA:
        assert f.metadata[b"unit"] and f.metadata[b"formula"], f.name
    docs = feature_docs()
    assert all(f"| `{name}` |" in docs for name in FEATURE_SCHEMA.names)
    assert docs in (REPO / "docs" / "gold_features.md").read_text(), "regenerate the table in docs/gold_features.md"


# --- real data --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated_silver(generated_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("gold_silver")
    assert run_etl(generated_runs, out, workers=2).ok
    return out


def oracle(root, phase_module: str, day: date) -> dict:
    """The features by their plain definitions, in pandas, from the hour files."""

    def frame(hierarchy):
        files = sorted((root / hierarchy / f"{day:%Y/%m/%d}").glob("*.parquet"))
        return pd.concat([pd.read_parquet(f) for f in files]), files

    df, files = frame(phase_module)
    out = {}
    for prefix, col in [
        ("voltage_v", "module_voltage"),
        ("current_a", "module_current"),
        ("soc", "module_state_of_charge"),
        ("temperature_degc", "module_temperature"),
    ]:
        s = df[col].dropna()
        out.update(
            {f"{prefix}_min": s.min(), f"{prefix}_mean": s.mean(), f"{prefix}_max": s.max(), f"{prefix}_std": s.std(ddof=0)}
        )
    power = (df["module_voltage"] * df["module_current"]).dropna()
    out["valid_bins"] = len(power)
    out["discharge_energy_kwh"] = power[power > 0].sum() * 5 / 3_600_000
    out["charge_energy_kwh"] = -power[power < 0].sum() * 5 / 3_600_000
    out["soc_swing"] = out["soc_max"] - out["soc_min"]
    cells = df.filter(regex=r"^cell_voltage_")
    both = cells[cells.notna().sum(axis=1) >= 2]
    spread = both.max(axis=1) - both.min(axis=1)
    out["cell_spread_mean_v"], out["cell_spread_max_v"] = spread.mean(), spread.max()
    means = cells.mean()
    out["weakest_cell"] = int(means.idxmin().rsplit("cell", 1)[1])
    out["weakest_cell_mean_v"] = means.min()
    real = sum(json.loads(pq.read_metadata(f).metadata[b"sim_platform"])["real_bins"]["*any*"] for f in files)
    out["real_bin_share"] = real / 17280
    system, _ = frame("system")
    out.update(state_oracle(system.sort_values("timestamp")))
    return out


def state_oracle(system: pd.DataFrame) -> dict:
    """The state features by their definitions, from the system day's bins in time order."""
    state = system["system_state"]
    out = {f"{v.lower()}_hours": (state == v).sum() * 5 / 3600 for v in STATE.known_values}
    seen = state.dropna()
    other = seen[~seen.isin(STATE.known_values)].value_counts().sort_index() * 5 / 3600
    out["other_state_hours"] = other.sum()
    out["other_state_hours_map"] = json.dumps({k: float(v) for k, v in other.items()})
    out["state_transitions"] = int((seen != seen.shift()).iloc[1:].sum())
    faults = system.loc[state.isin(STATE.fault_values), "timestamp"]
    out["first_fault_time"] = faults.iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ") if len(faults) else None
    return out


def same(got: dict, want: dict) -> None:
    for name, value in want.items():
        if name == "other_state_hours_map":
            assert json.loads(got[name]) == pytest.approx(json.loads(value), rel=1e-9), name
        elif value is None or isinstance(value, str):
            assert got[name] == value, name
        else:
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("phase_module", ["phase1_module1", "phase2_module5", "phase3_module8"])
def test_generated_day_matches_the_pandas_oracle(generated_silver, phase_module):
    target = LocalTarget(generated_silver)
    got = row(read_stored_day(target, phase_module, DAY), read_stored_day(target, "system", DAY), phase_module)
    want = oracle(generated_silver, phase_module, DAY)
    assert got["run_hours"] > 0 and got["charge_energy_kwh"] + got["discharge_energy_kwh"] > 0
    assert set(want) == set(FEATURE_SCHEMA.names) - {*KEY_COLUMNS, "phase", "module", "quarter"}
    same(got, want)


@pytest.fixture(scope="module")
def rare_silver(tmp_path_factory):
    """A generated day with the plant's rare states (seed 392, day 0: INIT, READY, ERROR, EMERGENCY and
    SERVICE, which the catalog does not know) through the ETL."""
    root = tmp_path_factory.mktemp("rare_gold")
    generate(root / "in", runs=1, days=1, seed=392, fmt="hdf5", rare=True, workers=1)
    assert run_etl(root / "in", root / "out", workers=2).ok
    return root / "out"


def test_a_day_with_faults_matches_the_pandas_oracle(rare_silver):
    target = LocalTarget(rare_silver)
    got = row(read_stored_day(target, "phase2_module3", DAY), read_stored_day(target, "system", DAY), "phase2_module3")
    want = oracle(rare_silver, "phase2_module3", DAY)
    same(got, want)
    assert got["error_hours"] > 0.1 and got["emergency_hours"] > 0 and got["init_hours"] > 0 and got["ready_hours"] > 0
    assert set(json.loads(got["other_state_hours_map"])) == {"SERVICE"} and got["other_state_hours"] > 0.1
    assert got["first_fault_time"].startswith("2024-07-01T") and got["state_transitions"] >= 8
    faults = got["error_hours"] + got["emergency_hours"]
    assert faults < 0.2 * sum(got[c] for c in STATE_COLUMNS if c.endswith("_hours"))  # a minority of the day


def test_one_module_day_is_fast(generated_silver):
    target = LocalTarget(generated_silver)
    module, system = read_stored_day(target, "phase1_module1", DAY), read_stored_day(target, "system", DAY)
    timings = []
    for _ in range(10):
        t0 = time.perf_counter()
        module_day_features(module, system, DAY, "phase1_module1")
        timings.append(time.perf_counter() - t0)
    assert min(timings) < 0.05


def _soc_charge_correlation(silver: Path, day: date) -> tuple[int, float]:
    """Windows and correlation of the 5-minute SoC change with the charge passed (sum of I x 5 s)."""
    windows = []
    for p in (1, 2, 3):
        for m in range(1, 9):
            df = read_stored_day(LocalTarget(silver), f"phase{p}_module{m}", day).table.to_pandas()
            w = df.set_index("timestamp").resample("5min")
            windows.append(
                pd.DataFrame(
                    {
                        "ah": w["module_current"].sum() * 5 / 3600,
                        "dsoc": w["module_state_of_charge"].last() - w["module_state_of_charge"].first(),
                    }
                )
            )
    w = pd.concat(windows).dropna()
    w = w[w["ah"].abs() > 0.05]
    return len(w), float(np.corrcoef(w["ah"], w["dsoc"])[0, 1])


def test_real_plant_discharges_with_positive_current(sample_data, tmp_path):
    """The sign convention the energy features rest on: on the real sample (2024-08-06, an active
    day) the SoC falls over 5-minute windows in which the current is positive, and rises when negative."""
    day_in = tmp_path / "in" / "2024" / "08" / "06"
    day_in.mkdir(parents=True)
    for f in (sample_data / "2024" / "08" / "06").iterdir():
        (day_in / f.name).symlink_to(f)
    assert run_etl(tmp_path / "in", tmp_path / "out", workers=2).ok
    n, corr = _soc_charge_correlation(tmp_path / "out", date(2024, 8, 6))
    assert n > 500 and corr < -0.4


def test_generator_follows_the_plant_sign_convention(generated_silver):
    """Generated runs must mean what real data means: positive current discharges."""
    n, corr = _soc_charge_correlation(generated_silver, DAY)
    assert n > 300 and corr < -0.4


def _user_catalog(tmp_path: Path) -> Path:
    """A user's pipelines.yaml whose plant knows one more state, MAINTENANCE, and calls it a fault."""
    import yaml

    raw = yaml.safe_load((REPO / "sim_platform" / "config" / "pipelines.yaml").read_text())
    state = raw["catalog"]["signals"]["system_state"]
    state["known_values"] = [*state["known_values"], "MAINTENANCE"]
    state["fault_values"] = [*state["fault_values"], "MAINTENANCE"]
    path = tmp_path / "pipelines.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_state_features_follow_the_users_catalog(tmp_path):
    """Configuration is data: a state the user's catalog adds gets its hours column, and a fault it
    names marks first_fault_time; the packaged catalog knows neither."""
    from sim_platform.core.config.pipelines import load_pipelines
    from sim_platform.core.gold.features import feature_schema

    catalog = load_pipelines(_user_catalog(tmp_path)).catalog
    system = stored({"system_state": ["RUN"] * 720 + ["MAINTENANCE"] * 360 + ["IDLE"] * 10})
    ours = module_day_features(None, system, DAY, "phase1_module1", catalog)
    assert ours.schema.equals(feature_schema(catalog), check_metadata=True)
    got = ours.to_pylist()[0]
    assert got["maintenance_hours"] == 0.5 and got["other_state_hours"] == 0.0
    assert got["first_fault_time"] == "2024-07-01T01:00:00Z"  # bin 720, the first MAINTENANCE
    packaged = row(None, system)
    assert "maintenance_hours" not in packaged and packaged["first_fault_time"] is None
    assert json.loads(packaged["other_state_hours_map"]) == {"MAINTENANCE": 0.5}


def test_gold_cli_follows_the_users_catalog_to_the_warehouse(tmp_path):
    """`sim-platform etl --config` then `sim-platform gold --config`: the feature files and the
    warehouse table carry the user's state column and fault."""
    import duckdb

    from sim_platform.cli import main
    from sim_platform_tests.core.telemetry_files import MASTER, epoch, module_tags, write_export

    cfg = _user_catalog(tmp_path)
    t0 = epoch("2024-07-05T10:00:00")
    rows = []
    for s in range(0, 1800, 5):
        state = "MAINTENANCE" if s >= 900 else "RUN"
        rows += [(t0 + s, "module_voltage", "50.0", module_tags(1, 1)), (t0 + s, "system_state", state, [MASTER])]
    write_export(tmp_path / "in/2024/07/05/a.parquet", rows)
    assert main(["etl", "--config", str(cfg), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "silver")]) == 0
    assert main(["gold", "--config", str(cfg), "--silver", str(tmp_path / "silver"), "--gold", str(tmp_path / "gold")]) == 0
    # 180 real MAINTENANCE bins (10:15-10:30), then the last state carried into the 23 empty bins
    # the 120-second fill limit of system_state reaches (forward-filled bins count, as documented)
    hours = (180 + 23) * 5 / 3600
    feature = pq.read_table(tmp_path / "gold/module_day_features/phase1_module1/2024/07/05.parquet").to_pylist()[0]
    assert feature["maintenance_hours"] == pytest.approx(hours) and feature["first_fault_time"] == "2024-07-05T10:15:00Z"
    with duckdb.connect(str(tmp_path / "gold/warehouse.duckdb"), read_only=True) as db:
        assert db.execute("SELECT maintenance_hours, first_fault_time FROM ml_training_set").fetchall() == [
            (pytest.approx(hours), "2024-07-05T10:15:00Z")
        ]
