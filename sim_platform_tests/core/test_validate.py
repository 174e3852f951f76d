"""The pandera schema of an hour file rejects what breaks the contract, and says what it was."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandera.errors import SchemaError

from sim_platform.core.catalog import default_catalog
from sim_platform.core.validate import validate_table


def hour_table(**overrides) -> pa.Table:
    cat = default_catalog()
    ts = pd.date_range("2024-07-05T10:00:00", periods=720, freq="5s", tz="UTC", unit="ns")
    data = {"timestamp": ts}
    for name, sig in cat.declared_columns("module"):
        data[name] = np.full(720, np.nan)
    data["module_voltage"] = np.full(720, 50.0)
    data.update(overrides)
    return pa.table(data)


def test_a_good_hour_passes():
    validate_table(hour_table(), default_catalog(), "phase1_module3")


def test_value_outside_bounds_names_the_column():
    soc = np.full(720, 0.5)
    soc[17] = 1.5
    with pytest.raises(SchemaError, match="module_state_of_charge"):
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
    with pytest.raises(SchemaError, match=why):
        validate_table(hour_table(timestamp=ts), default_catalog(), "phase1_module3")


def test_missing_catalog_column_and_wrong_dtype():
    t = hour_table().drop_columns(["module_current"])
    with pytest.raises(SchemaError, match="module_current"):
        validate_table(t, default_catalog(), "phase1_module3")
    t = hour_table(module_voltage=np.full(720, 50, dtype=np.int64))
    with pytest.raises(SchemaError, match="float64"):
        validate_table(t, default_catalog(), "phase1_module3")


def test_text_outside_allowed_values():
    cat = default_catalog()
    ts = pd.date_range("2024-07-05T10:00:00", periods=720, freq="5s", tz="UTC", unit="ns")
    data = {"timestamp": ts, **{n: (np.full(720, None, object) if s.kind == "text" else np.full(720, np.nan)) for n, s in cat.declared_columns("system")}}
    data["system_state"] = np.array(["IDLE"] * 719 + ["EXPLODED"], object)
    with pytest.raises(SchemaError, match="system_state"):
        validate_table(pa.table(data), cat, "system")
