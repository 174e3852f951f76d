"""The structural pandera schema of an hour file rejects what breaks the structure, says what it was
in one short line, and leaves values to the quality report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.silver.validate import StructuralError, validate_table


def hour_table(**overrides) -> pa.Table:
    cat = default_catalog()
    ts = pd.date_range("2024-07-05T10:00:00", periods=720, freq="5s", tz="UTC", unit="ns")
    data = {"timestamp": ts}
    for name, _sig in cat.declared_columns("module"):
        data[name] = np.full(720, np.nan)
    data["module_voltage"] = np.full(720, 50.0)
    data.update(overrides)
    return pa.table(data)


def test_a_good_hour_passes():
    validate_table(hour_table(), default_catalog(), "phase1_module3")


def test_values_outside_bounds_are_not_structural():
    soc = np.full(720, 0.5)
    soc[17] = 1.5  # a value rule (counted in the quality report), never a structural break
    validate_table(hour_table(module_state_of_charge=soc), default_catalog(), "phase1_module3")


@pytest.mark.parametrize(
    "ts, why",
    [
        (pd.date_range("2024-07-05T10:00:00", periods=721, freq="5s", tz="UTC", unit="ns").delete(300), "720 rows, 5 s apart"),
        (pd.date_range("2024-07-05T10:00:00", periods=720, freq="6s", tz="UTC", unit="ns"), "5-second grid"),
        (pd.date_range("2024-07-05T10:00:01", periods=720, freq="5s", tz="UTC", unit="ns"), "5-second grid"),
        (pd.date_range("2024-07-05T10:00:00", periods=720, freq="5s", tz="UTC", unit="ns")[::-1], "increase"),
    ],
)
def test_cadence_violations(ts, why):
    with pytest.raises(StructuralError, match=why) as err:
        validate_table(hour_table(timestamp=ts), default_catalog(), "phase1_module3")
    assert str(err.value).startswith("phase1_module3: timestamp: ") and len(str(err.value)) <= 240


def test_missing_catalog_column_and_wrong_dtype():
    t = hour_table().drop_columns(["module_current"])
    with pytest.raises(StructuralError, match="module_current") as err:
        validate_table(t, default_catalog(), "phase1_module3")
    assert len(str(err.value)) <= 240  # not the list of every column pandera appends
    t = hour_table(module_voltage=np.full(720, 50, dtype=np.int64))
    with pytest.raises(StructuralError, match="float64"):
        validate_table(t, default_catalog(), "phase1_module3")


def _empty_system_hour(cat) -> dict:
    """An hour of the system hierarchy's declared columns, every value missing."""
    ts = pd.date_range("2024-07-05T10:00:00", periods=720, freq="5s", tz="UTC", unit="ns")
    return {
        "timestamp": ts,
        **{
            n: (np.full(720, None, object) if s.kind == "text" else np.full(720, np.nan))
            for n, s in cat.declared_columns("system")
        },
    }


def test_text_values_outside_the_known_set_are_not_structural():
    cat = default_catalog()
    data = _empty_system_hour(cat)
    data["system_state"] = np.array(["IDLE"] * 719 + ["EXPLODED"], object)
    validate_table(pa.table(data), cat, "system")  # kept, and counted as a new value in the report


def test_a_text_column_holding_numbers_is_structural_and_short():
    cat = default_catalog()
    data = _empty_system_hour(cat)
    data["system_state"] = np.array([1.5] * 720, object)
    with pytest.raises(StructuralError, match=r"system_state: text values must be strings") as err:
        validate_table(pa.table(data), cat, "system")
    assert len(str(err.value)) <= 240


def test_the_fast_path_and_pandera_agree_and_a_break_is_never_let_through():
    """`validate_table` checks Arrow columns itself and asks pandera for the message: each break
    above is found by both; an integer column with nulls (float64 once in pandas, so pandera would
    pass it) still fails, with the fast path's sentence."""
    from sim_platform.core.silver.validate import arrow_problem, schema_columns

    cat = default_catalog()
    good = hour_table()
    assert arrow_problem(good, schema_columns(good, cat, "phase1_module3")) is None
    ints = pa.array([50] * 719 + [None], pa.int64())
    t = hour_table().set_column(hour_table().schema.get_field_index("module_voltage"), "module_voltage", ints)
    with pytest.raises(StructuralError, match="module_voltage: expected float64, got int64"):
        validate_table(t, cat, "phase1_module3")
