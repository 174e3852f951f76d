"""The warehouse load, on a real PostgreSQL server and on DuckDB: upsert, stale keys, rollback, schema."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim_platform.core.gold.features import FEATURE_SCHEMA, quarter_days, quarter_of
from sim_platform.core.gold.warehouse import LoadReport, WarehouseError, masked_url, open_warehouse
from sim_platform_tests.postgres import Postgres

Q2, Q3 = quarter_days("2024Q2")[-2:], quarter_days("2024Q3")[:3]


@pytest.fixture(scope="module")
def postgres():
    with Postgres() as pg:
        yield pg


@pytest.fixture(params=["duckdb", "postgresql"])
def wh(request, tmp_path):
    """An open warehouse and a fresh table name (the PostgreSQL server is shared by the module)."""
    url = request.getfixturevalue("postgres").url if request.param == "postgresql" else None
    with open_warehouse(url, tmp_path / "warehouse.duckdb") as warehouse:
        yield warehouse, f"t_{uuid.uuid4().hex[:8]}"


def features(days, modules, value: float, **override) -> pa.Table:
    """Feature rows of FEATURE_SCHEMA: keys, `value` in a few columns, the rest null; `override[i]` replaces row i's fields."""
    rows = []
    for day in days:
        for m in modules:
            row = dict.fromkeys(FEATURE_SCHEMA.names)
            row.update(
                date=day,
                phase_module=f"phase1_module{m}",
                phase=1,
                module=m,
                quarter=quarter_of(day),
                voltage_v_mean=value + m / 10,
                valid_bins=int(value),
                weakest_cell=m,
                run_hours=None,
            )
            rows.append(row)
    for i, fields in override.items():
        rows[int(i.removeprefix("row"))].update(fields)
    schema = pa.schema([f.with_nullable(True) for f in FEATURE_SCHEMA])  # lets a test send a null key
    return pa.Table.from_pylist(rows, schema=schema)


def keyed(table: pa.Table) -> dict:
    return {(r["date"], r["phase_module"]): r for r in table.to_pylist()}


def test_rerun_replaces_values_and_never_duplicates(wh):
    warehouse, name = wh
    first = warehouse.load_quarter(features(Q3, [1, 2, 3], 50.0), "2024Q3", name)
    assert first == LoadReport(inserted=9, updated=0, deleted=0, rows=9)
    again = warehouse.load_quarter(features(Q3, [1, 2, 3], 60.0), "2024Q3", name)
    assert again == LoadReport(inserted=0, updated=9, deleted=0, rows=9)
    got = warehouse.read_table(name)
    assert warehouse.row_count(name) == 9 and len(keyed(got)) == 9
    assert got.schema.equals(FEATURE_SCHEMA, check_metadata=True)
    assert got.to_pylist() == features(Q3, [1, 2, 3], 60.0).to_pylist()  # sorted by key, every value replaced


def test_rerun_with_fewer_modules_deletes_only_that_quarters_missing_keys(wh):
    warehouse, name = wh
    warehouse.load_quarter(features(Q2, [1, 2, 3], 10.0), "2024Q2", name)
    warehouse.load_quarter(features(Q3, [1, 2, 3], 20.0), "2024Q3", name)
    report = warehouse.load_quarter(features(Q3, [1, 3, 4], 30.0), "2024Q3", name)
    assert report == LoadReport(inserted=3, updated=6, deleted=3, rows=9)
    got = keyed(warehouse.read_table(name))
    assert got == {**keyed(features(Q2, [1, 2, 3], 10.0)), **keyed(features(Q3, [1, 3, 4], 30.0))}


@pytest.mark.parametrize(
    "bad_row, cause",
    [
        ({"phase": None}, r"(?i)not.null"),
        ({"date": Q3[0], "phase_module": "phase1_module1"}, r"(?i)duplicate key"),  # row 0's key again
    ],
)
def test_a_failure_mid_load_rolls_back_and_keeps_the_previous_data(wh, bad_row, cause):
    warehouse, name = wh
    warehouse.load_quarter(features(Q2, [1, 2], 1.0), "2024Q2", name)
    warehouse.load_quarter(features(Q3, [1, 2, 3], 2.0), "2024Q3", name)
    before = warehouse.read_table(name)
    rerun = features(Q3, [1, 2, 3, 4], 3.0, row5=bad_row)  # row 5 of 12, new values everywhere else
    with pytest.raises(WarehouseError, match=rf"2024Q3 into table '{name}'.*rolled back") as err:
        warehouse.load_quarter(rerun, "2024Q3", name)
    assert re.search(cause, str(err.value)), err.value  # the database's own reason is in the message
    assert warehouse.read_table(name).equals(before)
    # the connection is usable afterwards and a good rerun goes through
    assert warehouse.load_quarter(features(Q3, [1], 4.0), "2024Q3", name).deleted == 6


def test_schema_mismatch_is_a_clear_error_and_nothing_is_altered(wh):
    warehouse, name = wh
    warehouse.sql(f'CREATE TABLE {name} ("date" DATE, phase_module TEXT, voltage_v_mean DOUBLE PRECISION, old_col TEXT)')
    with pytest.raises(WarehouseError, match=rf"table '{name}' exists with other columns.*old_col"):
        warehouse.load_quarter(features(Q3, [1], 1.0), "2024Q3", name)
    assert warehouse.columns(name) == ["date", "phase_module", "voltage_v_mean", "old_col"]
    assert warehouse.row_count(name) == 0


def test_input_checks(wh):
    warehouse, name = wh
    with pytest.raises(ValueError, match="quarter"):
        warehouse.load_quarter(features(Q2 + Q3, [1], 1.0), "2024Q3", name)
    with pytest.raises(ValueError, match="identifier"):
        warehouse.load_quarter(features(Q3, [1], 1.0), "2024Q3", "x; DROP TABLE y")
    with pytest.raises(ValueError, match="quarter"):
        warehouse.load_quarter(features(Q3, [1], 1.0), "Q3-2024", name)


def test_duckdb_file_keeps_the_data_in_a_new_process(tmp_path):
    path = tmp_path / "sub" / "w.duckdb"
    with open_warehouse(None, path) as warehouse:
        warehouse.load_quarter(features(Q3, [1, 2], 7.0), "2024Q3")
        want = warehouse.read_table()
    code = (
        "import sys, pyarrow.parquet as pq; from sim_platform.core.gold.warehouse import open_warehouse\n"
        "with open_warehouse(None, sys.argv[1]) as w: pq.write_table(w.read_table(), sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "read.parquet")], check=True)
    got = pq.read_table(tmp_path / "read.parquet")
    assert want.num_rows == 6 and got.equals(want)


def test_url_handling(postgres):
    assert masked_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    with pytest.raises(ValueError, match="postgresql://"):
        open_warehouse("mysql://u:s3cret@h/db", "unused.duckdb")
    bad = postgres.url.replace("postgres@", "postgres:s3cret@").replace("/dagster", "/no_such_db")
    with pytest.raises(WarehouseError) as err:
        open_warehouse(bad, "unused.duckdb")
    assert "s3cret" not in str(err.value) and "***" in str(err.value)
    with open_warehouse(postgres.url, "unused.duckdb") as warehouse:  # the +psycopg2 form of the fixture
        assert warehouse.engine == "postgresql"


def test_a_failure_after_the_upsert_rolls_back_the_upsert_too(wh):
    """The stale-key delete is the last statement: make it fail (a foreign key still references a
    stale row) after the upsert has replaced every value, and nothing of the load may remain."""
    warehouse, name = wh
    warehouse.load_quarter(features(Q3, [1, 2, 3], 2.0), "2024Q3", name)
    before = warehouse.read_table(name)
    warehouse.sql(
        f'CREATE TABLE {name}_ref ("date" DATE, phase_module TEXT, '
        f'FOREIGN KEY ("date", phase_module) REFERENCES {name} ("date", phase_module))'
    )
    warehouse.sql(f"INSERT INTO {name}_ref VALUES (?, 'phase1_module3')", (Q3[1],))
    with pytest.raises(WarehouseError, match="rolled back"):
        warehouse.load_quarter(features(Q3, [1, 2], 9.0), "2024Q3", name)
    assert warehouse.read_table(name).equals(before)


def test_state_features_round_trip(wh):
    """The state columns as the features fill them: hours, a JSON map (quotes, commas), a count and
    the fault time text, exactly as sent, on both engines."""
    warehouse, name = wh
    state = {
        "run_hours": 1.25,
        "error_hours": 0.5,
        "other_state_hours": 0.75,
        "state_transitions": 7,
        "other_state_hours_map": '{"MAINTENANCE, B": 0.25, "SERVICE": 0.5}',
        "first_fault_time": "2024-07-01T01:03:45Z",
    }
    table = features(Q3[:1], [1, 2], 5.0, row0=state, row1={"other_state_hours_map": "{}", "state_transitions": 0})
    warehouse.load_quarter(table, "2024Q3", name)
    got = warehouse.read_table(name).to_pylist()
    assert got == table.to_pylist()
    assert {k: got[0][k] for k in state} == state and got[1]["first_fault_time"] is None
