"""Gold layer, first table: one row of features per (UTC day, module), from the silver 5-second data.

The row is what a model or an analyst asks about a module's day: how its voltage, current, state of
charge and temperature ranged, how much energy went in and out, how far its cells drifted apart, how
much of the day was actually measured, how long the plant spent in each state, how often it changed
state and when it first faulted (the fault label of a training set). Every statistic is taken over
the day's 5-second bins as stored (forward-filled bins count like real ones, up to each signal's fill
limit); `real_bin_share` and `valid_bins` tell how much of that rests on real samples.

`FEATURE_SCHEMA` is the one source of truth for the columns: each field carries its `unit` and
`formula` as metadata, the warehouse creates its table from it and `feature_docs()` renders the
documentation from it (docs/gold_features.md). The state columns are built from the packaged signal
catalog: one `{state}_hours` per `known_values` entry of `system_state`, in catalog order, and the
fault label from its `fault_values`; adding a known state to the catalog adds a column (and so needs
a warehouse migration, as any schema change).

Sign convention (measured, see docs/gold_features.md): on the real plant `module_current > 0` is
DISCHARGE. Over the active sample days the SoC falls while the current is positive (correlation of
the 5-minute SoC change with the 5-minute charge passed: -0.59) and the terminal voltage drops as the
current rises (about -43 mOhm after removing the SoC trend, in all 48 active module-days). So
P = V x I > 0 is energy leaving the module, P < 0 is energy going in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.grid import BIN_MS, BINS_PER_DAY
from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.silver.resample import REAL_ANY
from sim_platform.core.store.read import StoredDay

KEY_COLUMNS = ("date", "phase_module")
BIN_S = BIN_MS / 1000
#: 5-second bin of power in W -> energy in kWh
_W_BIN_TO_KWH = BIN_S / 3.6e6
_PHASE_MODULE = re.compile(r"^phase(\d+)_module(\d+)$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_CELL = re.compile(r"^cell_voltage_.*_cell(\d+)$")
#: prefix of the statistics columns, silver column, unit
_SIGNALS = (
    ("voltage_v", "module_voltage", "V"),
    ("current_a", "module_current", "A"),
    ("soc", "module_state_of_charge", "1"),
    ("temperature_degc", "module_temperature", "degC"),
)
_STATS = {
    "min": "minimum",
    "mean": "mean",
    "max": "maximum",
    "std": "population standard deviation (ddof=0)",
}
_BINS = "the day's 5-second bins"
_ENERGY = f"over {_BINS} where module_voltage and module_current are both non-null and V x I"
#: the plant state's silver column; the states the run's catalog knows get one hours column each (in
#: catalog order), and those it calls faults mark `first_fault_time` (`States`)
STATE_COLUMN = "system_state"
#: how first_fault_time is written: ISO 8601 UTC text (the warehouse has no timestamp type yet)
FAULT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def state_hours_column(state: str) -> str:
    """`run_hours` for RUN: the state in lower case, anything but letters and digits as `_`."""
    return f"{re.sub(r'[^0-9a-z]+', '_', state.lower()).strip('_')}_hours"


@dataclass(frozen=True)
class States:
    """The plant states of a catalog, as the features use them: the known ones (one hours column
    each, in catalog order) and the fault ones. Configuration is data: these follow the run's
    `pipelines.yaml`, never the packaged file."""

    known: tuple[str, ...]
    faults: tuple[str, ...]

    @property
    def hours(self) -> dict[str, str]:
        return {state: state_hours_column(state) for state in self.known}


def states_of(catalog: Catalog | None = None) -> States:
    """The states of `catalog` (None: the packaged one); a clash of their column names is refused."""
    catalog = catalog or default_catalog()
    signal = catalog.signals.get(STATE_COLUMN)
    states = States(tuple((signal.known_values or ()) if signal else ()), tuple(signal.fault_values if signal else ()))
    columns = states.hours
    if len(set(columns.values())) != len(columns) or "other_state_hours" in columns.values():
        raise ValueError(f"{catalog.source}: system_state known_values give clashing column names: {columns}")
    return states


def _field(name: str, type_: pa.DataType, unit: str, formula: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"unit": unit, "formula": formula})


@lru_cache(maxsize=8)
def _schema(states: States) -> pa.Schema:
    return pa.schema(
        [
            _field("date", pa.date32(), "-", "UTC day of the silver partition", nullable=False),
            _field("phase_module", pa.string(), "-", "silver hierarchy, phase{P}_module{M}", nullable=False),
            _field("phase", pa.int32(), "-", "P of phase_module", nullable=False),
            _field("module", pa.int32(), "-", "M of phase_module", nullable=False),
            _field("quarter", pa.string(), "-", "calendar quarter of date, YYYYQn", nullable=False),
            *(
                _field(f"{prefix}_{stat}", pa.float64(), unit, f"{words} of {column} over {_BINS} where it is non-null")
                for prefix, column, unit in _SIGNALS
                for stat, words in _STATS.items()
            ),
            _field(
                "valid_bins",
                pa.int32(),
                "bins",
                "number of bins in which module_voltage and module_current are both non-null (the energy bins)",
            ),
            _field(
                "charge_energy_kwh",
                pa.float64(),
                "kWh",
                f"sum {_ENERGY} < 0 of -V x I x {BIN_S:g} s / 3.6e6 (current < 0 = charging)",
            ),
            _field(
                "discharge_energy_kwh",
                pa.float64(),
                "kWh",
                f"sum {_ENERGY} > 0 of V x I x {BIN_S:g} s / 3.6e6 (current > 0 = discharging)",
            ),
            _field("soc_swing", pa.float64(), "1", "soc_max - soc_min"),
            _field(
                "cell_spread_mean_v",
                pa.float64(),
                "V",
                "mean over bins with at least 2 non-null cell_voltage_* columns of (max - min) over those cells",
            ),
            _field("cell_spread_max_v", pa.float64(), "V", "maximum of the same per-bin cell spread"),
            _field(
                "weakest_cell",
                pa.int32(),
                "-",
                "number N of the cell_voltage_*_cellN column with the lowest mean over its non-null bins (lowest N on a tie)",
            ),
            _field("weakest_cell_mean_v", pa.float64(), "V", "that lowest per-cell mean voltage"),
            _field(
                "real_bin_share",
                pa.float64(),
                "1",
                f"bins with a real (not forward-filled) sample in any module column / {BINS_PER_DAY}",
            ),
            *(
                _field(column, pa.float64(), "h", f"bins with system_state = {state} x {BIN_S:g} s / 3600")
                for state, column in states.hours.items()
            ),
            _field(
                "other_state_hours",
                pa.float64(),
                "h",
                f"bins with a non-null system_state that is not one of the catalog's known_values x {BIN_S:g} s / 3600",
            ),
            _field(
                "other_state_hours_map",
                pa.string(),
                "JSON",
                'those states and their hours, a JSON object {"STATE": hours} with sorted keys; "{}" when none',
            ),
            _field(
                "state_transitions",
                pa.int32(),
                "count",
                "number of bins whose system_state differs from the previous non-null one (null bins are skipped)",
            ),
            _field(
                "first_fault_time",
                pa.string(),
                "UTC",
                f"start of the first bin whose system_state is one of the catalog's fault_values "
                f"({', '.join(states.faults) or 'none'}), ISO 8601 text YYYY-MM-DDTHH:MM:SSZ; null when none",
            ),
        ]
    )


def feature_schema(catalog: Catalog | None = None) -> pa.Schema:
    """The module-day feature schema for `catalog`'s states (None: the packaged catalog)."""
    return _schema(states_of(catalog))


#: the schema of the packaged catalog (documentation and tests); a run uses `feature_schema(catalog)`
FEATURE_SCHEMA = feature_schema()


#: the columns `_state_features` fills besides the hours of each known state
_OTHER_STATE_FEATURES = ("other_state_hours", "other_state_hours_map", "state_transitions", "first_fault_time")


def quarter_of(day: date) -> str:
    """The calendar quarter of a day, "2024Q3": the warehouse loads and replaces one quarter at a time."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_days(quarter: str) -> list[date]:
    """All days of a quarter such as "2024Q3" (raises ValueError on anything else)."""
    m = _QUARTER.match(quarter)
    if not m:
        raise ValueError(f"not a quarter: {quarter!r} (expected e.g. 2024Q3)")
    year, q = int(m.group(1)), int(m.group(2))
    first = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return [first + timedelta(days=i) for i in range((end - first).days)]


def _values(table: pa.Table | None, column: str) -> np.ndarray | None:
    """A float column as numpy with NaN for null; None when the column (or the table) is missing."""
    if table is None or column not in table.column_names:
        return None
    return pc.cast(table[column], pa.float64()).to_numpy()


def _stats(values: np.ndarray | None) -> tuple:
    """(min, mean, max, population std) over the non-null values; all None when there are none."""
    v = values[~np.isnan(values)] if values is not None else np.empty(0)
    if v.size == 0:
        return None, None, None, None
    return float(v.min()), float(v.mean()), float(v.max()), float(v.std())


def _energy(volt: np.ndarray | None, amp: np.ndarray | None) -> tuple:
    """(valid_bins, charge kWh, discharge kWh), both energies positive; see the sign convention above."""
    if volt is None or amp is None:
        return None, None, None
    kwh = volt * amp * _W_BIN_TO_KWH
    kwh = kwh[~np.isnan(kwh)]
    if kwh.size == 0:
        return 0, None, None
    return kwh.size, abs(float(kwh[kwh < 0].sum())), float(kwh[kwh > 0].sum())


def _cells(table: pa.Table | None) -> tuple:
    """(spread mean, spread max, weakest cell number, its mean) over the cell_voltage_* columns."""
    names = table.column_names if table is not None else []
    cols = sorted((int(m.group(1)), name) for name in names if (m := _CELL.match(name)))
    if not cols:
        return None, None, None, None
    volts = np.column_stack([_values(table, name) for _, name in cols])
    present = ~np.isnan(volts)
    rows = present.sum(axis=1) >= 2
    spread = np.nanmax(volts[rows], axis=1) - np.nanmin(volts[rows], axis=1) if rows.any() else np.empty(0)
    counts = present.sum(axis=0)
    means = np.where(counts > 0, np.where(present, volts, 0.0).sum(axis=0) / np.maximum(counts, 1), np.inf)
    weakest = int(np.argmin(means))  # first minimum: the lowest cell number on a tie
    return (
        float(spread.mean()) if spread.size else None,
        float(spread.max()) if spread.size else None,
        cols[weakest][0] if counts[weakest] else None,
        float(means[weakest]) if counts[weakest] else None,
    )


def _state_features(system: StoredDay | None, states: States) -> dict:
    """Hours per state, other states, transitions and the first fault, from the system day's
    system_state; all null when that day or that column is missing."""
    hours_of = states.hours
    if system is None or STATE_COLUMN not in system.table.column_names:
        return dict.fromkeys((*hours_of.values(), *_OTHER_STATE_FEATURES))
    table = system.table
    if table.num_rows > 1 and not pc.all(pc.greater_equal(table["timestamp"][1:], table["timestamp"][:-1])).as_py():
        table = table.sort_by("timestamp")
    encoded = pc.cast(table[STATE_COLUMN], pa.string()).combine_chunks().dictionary_encode()  # nulls stay null
    words = encoded.dictionary.to_pylist()
    present = encoded.is_valid().to_numpy(zero_copy_only=False)
    bins = np.flatnonzero(present)  # the non-null bins, in time order
    seen = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)[bins]
    counts = np.bincount(seen, minlength=len(words))
    hours = {w: int(n) * BIN_S / 3600 for w, n in zip(words, counts) if n}
    other = {w: h for w, h in sorted(hours.items()) if w not in hours_of}
    out = {column: hours.get(state, 0.0) for state, column in hours_of.items()}
    out["other_state_hours"] = float(sum(other.values()))
    out["other_state_hours_map"] = json.dumps(other, sort_keys=True)
    out["state_transitions"] = int(np.count_nonzero(seen[1:] != seen[:-1]))
    is_fault = np.array([w in states.faults for w in words], bool)
    faults = bins[is_fault[seen]]
    out["first_fault_time"] = None
    if len(faults):
        ns = pc.cast(table["timestamp"], pa.timestamp("ns", tz="UTC")).cast(pa.int64())[int(faults[0])].as_py()
        out["first_fault_time"] = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime(FAULT_TIME_FORMAT)
    return out


def module_day_features(
    module: StoredDay | None, system: StoredDay | None, day: date, phase_module: str, catalog: Catalog | None = None
) -> pa.Table:
    """One row of `feature_schema(catalog)` for one module on one day; features whose inputs are
    missing are null.

    `module` and `system` are the silver (hierarchy, day) read back (`read_stored_day`), None when that
    day has no hour file; a missing module day gives a row of nulls with real_bin_share 0.
    """
    m = _PHASE_MODULE.match(phase_module)
    if not m:
        raise ValueError(f"not a module hierarchy: {phase_module!r} (expected phase<P>_module<M>)")
    table = module.table if module is not None else None
    row = {
        "date": day,
        "phase_module": phase_module,
        "phase": int(m.group(1)),
        "module": int(m.group(2)),
        "quarter": quarter_of(day),
    }
    signals = {prefix: _values(table, column) for prefix, column, _ in _SIGNALS}
    for prefix, values in signals.items():
        row.update(zip((f"{prefix}_{stat}" for stat in _STATS), _stats(values)))
    row["valid_bins"], row["charge_energy_kwh"], row["discharge_energy_kwh"] = _energy(signals["voltage_v"], signals["current_a"])
    row["soc_swing"] = row["soc_max"] - row["soc_min"] if row["soc_max"] is not None else None
    row["cell_spread_mean_v"], row["cell_spread_max_v"], row["weakest_cell"], row["weakest_cell_mean_v"] = _cells(table)
    row["real_bin_share"] = (module.real_bins.get(REAL_ANY, 0) if module is not None else 0) / BINS_PER_DAY
    states = states_of(catalog)
    row.update(_state_features(system, states))
    return pa.Table.from_pylist([row], schema=_schema(states))


def features_table(rows: list[pa.Table], catalog: Catalog | None = None) -> pa.Table:
    """The module-day rows as one table of `feature_schema(catalog)`, sorted by KEY_COLUMNS; rows
    read back from parquet (which may drop the field metadata) get the schema again."""
    schema = feature_schema(catalog)
    if not rows:
        return schema.empty_table()
    return pa.concat_tables([r.cast(schema) for r in rows]).sort_by([(k, "ascending") for k in KEY_COLUMNS])


def feature_docs(catalog: Catalog | None = None) -> str:
    """A markdown table of every column of `feature_schema(catalog)`: name, unit, formula."""
    lines = ["| column | unit | formula |", "|---|---|---|"]
    for f in feature_schema(catalog):
        meta = {k.decode(): v.decode().replace("|", "\\|") for k, v in f.metadata.items()}
        lines.append(f"| `{f.name}` | {meta['unit']} | {meta['formula']} |")
    return "\n".join(lines) + "\n"
