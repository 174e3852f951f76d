"""Load a quarter of the module-day feature table into PostgreSQL, or into an embedded DuckDB file.

Both engines get the same table, created from FEATURE_SCHEMA with PRIMARY KEY (date, phase_module),
and the same load: in ONE transaction the rows are staged in a temporary table that has the same
constraints (so a duplicate key or a null key fails there, as a database error), upserted by key,
and the quarter's rows whose keys are not in the new table are deleted. A rerun of a quarter
therefore replaces it and never duplicates it; any error rolls the whole load back and leaves the
previous data as it was. A table that exists with other columns is an error, never altered here.

The connection URL may hold a password: it is never logged, and error messages show it masked.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sim_platform.core.gold.features import FEATURE_SCHEMA, KEY_COLUMNS, quarter_days

DEFAULT_TABLE = "ml_training_set"
#: arrow -> SQL, the same words for both engines
SQL_TYPES = {pa.date32(): "DATE", pa.string(): "TEXT", pa.int32(): "INTEGER", pa.float64(): "DOUBLE PRECISION"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg2", "postgres")


class WarehouseError(RuntimeError):
    """A load or a table check failed; the message names the table (and the quarter)."""


@dataclass(frozen=True)
class LoadReport:
    inserted: int
    updated: int
    deleted: int
    rows: int


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def describe(url: str | None, duckdb_path: str | Path) -> str:
    """Where `open_warehouse(url, duckdb_path)` connects, fit for logs: the password masked."""
    return f"postgresql {masked_url(url)}" if url else f"duckdb {duckdb_path}"


def _ident(name: str) -> str:
    """A table name, checked to be a plain identifier and quoted."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def _q(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


def table_ddl(table: str, temporary: bool = False, schema: pa.Schema = FEATURE_SCHEMA) -> str:
    """CREATE TABLE for a feature schema: SQL type per arrow type, NOT NULL for non-nullable fields, the key."""
    cols = [f'"{f.name}" {SQL_TYPES[f.type]}{"" if f.nullable else " NOT NULL"}' for f in schema]
    kind = "TEMPORARY TABLE" if temporary else "TABLE IF NOT EXISTS"
    return f"CREATE {kind} {table} ({', '.join(cols)}, PRIMARY KEY ({_q(KEY_COLUMNS)}))"


class Warehouse:
    """One connection to PostgreSQL (psycopg2, autocommit; loads run in explicit transactions) or DuckDB."""

    def __init__(self, conn, engine: str, schema: pa.Schema = FEATURE_SCHEMA):
        self.conn = conn
        self.engine = engine  # "postgresql" or "duckdb"
        self.schema = schema  # the run's feature schema (`features.feature_schema(catalog)`)

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        """Run one statement (`?` placeholders on both engines); the rows it returns, if any."""
        if self.engine == "duckdb":
            return self.conn.execute(statement, params).fetchall()
        with self.conn.cursor() as cur:
            cur.execute(statement.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def columns(self, name: str) -> list[str]:
        """Column names of a table in the current schema, [] when it does not exist."""
        _ident(name)
        rows = self.sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (name,),
        )
        return [r[0] for r in rows]

    def _ensure_table(self, name: str) -> None:
        existing = self.columns(name)
        if not existing:
            self.sql(table_ddl(_ident(name), schema=self.schema))
        elif set(existing) != set(self.schema.names):
            missing = sorted(set(self.schema.names) - set(existing))
            extra = sorted(set(existing) - set(self.schema.names))
            raise WarehouseError(
                f"table {name!r} exists with other columns than FEATURE_SCHEMA (missing {missing}, "
                f"unexpected {extra}); it is not altered automatically: migrate or drop it"
            )

    def _stage(self, stage: str, table: pa.Table) -> None:
        """Copy the rows (in FEATURE_SCHEMA order) into the temporary table `stage`, whose constraints apply."""
        if self.engine == "duckdb":
            self.conn.from_arrow(table).insert_into(stage)  # by position: both in FEATURE_SCHEMA order
            return
        buf = io.BytesIO()
        pcsv.write_csv(table, buf, pcsv.WriteOptions(include_header=False))  # null -> empty unquoted = NULL
        buf.seek(0)
        with self.conn.cursor() as cur:
            cur.copy_expert(f"COPY {stage} ({_q(table.column_names)}) FROM STDIN WITH (FORMAT csv)", buf)

    def load_quarter(self, table: pa.Table, quarter: str, name: str = DEFAULT_TABLE) -> LoadReport:
        """Make the warehouse's rows of `quarter` equal to `table` (rows of FEATURE_SCHEMA, all of that quarter)."""
        target, stage = _ident(name), _ident(f"{name}_stage")
        quarter_days(quarter)  # validates the format
        if set(table.column_names) != set(self.schema.names):
            raise ValueError(f"the rows for {name!r} do not have the FEATURE_SCHEMA columns")
        table = table.select(self.schema.names)
        others = set(pc.unique(table["quarter"]).to_pylist()) - {quarter}
        if others:
            raise ValueError(f"rows of quarter(s) {sorted(others, key=str)} in the load of {quarter} into {name!r}")
        keys = " AND ".join(f's."{k}" = t."{k}"' for k in KEY_COLUMNS)
        stale = f'FROM {target} t WHERE t."quarter" = ? AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {keys})'
        values = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in self.schema.names if c not in KEY_COLUMNS)
        self.sql("BEGIN")
        try:
            self._ensure_table(name)
            self.sql(table_ddl(stage, temporary=True, schema=self.schema))
            self._stage(stage, table)
            updated = self.sql(f"SELECT count(*) FROM {target} t JOIN {stage} s USING ({_q(KEY_COLUMNS)})")[0][0]
            deleted = self.sql(f"SELECT count(*) {stale}", (quarter,))[0][0]
            self.sql(
                f"INSERT INTO {target} ({_q(self.schema.names)}) SELECT {_q(self.schema.names)} FROM {stage} "
                f"ON CONFLICT ({_q(KEY_COLUMNS)}) DO UPDATE SET {values}"
            )
            self.sql(f"DELETE {stale}", (quarter,))
            self.sql(f"DROP TABLE {stage}")
            self.sql("COMMIT")
        except Exception as exc:
            self.sql("ROLLBACK")
            raise WarehouseError(
                f"loading {quarter} into table {name!r} ({self.engine}) failed and was rolled back, "
                f"the previous data is intact: {exc}"
            ) from exc
        return LoadReport(inserted=table.num_rows - updated, updated=updated, deleted=deleted, rows=table.num_rows)

    def read_table(self, name: str = DEFAULT_TABLE) -> pa.Table:
        """The whole table as FEATURE_SCHEMA, sorted by the key."""
        rows = self.sql(f"SELECT {_q(self.schema.names)} FROM {_ident(name)} ORDER BY {_q(KEY_COLUMNS)}")
        return pa.Table.from_pylist([dict(zip(self.schema.names, r)) for r in rows], schema=self.schema)

    def row_count(self, name: str = DEFAULT_TABLE) -> int:
        return self.sql(f"SELECT count(*) FROM {_ident(name)}")[0][0]


def open_warehouse(url: str | None, duckdb_path: str | Path, schema: pa.Schema = FEATURE_SCHEMA) -> Warehouse:
    """PostgreSQL when `url` is a postgresql:// (or postgresql+psycopg2://) URL, else the DuckDB file;
    `schema`: the run's feature schema (`features.feature_schema(catalog)`)."""
    if not url:
        import duckdb

        Path(duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        return Warehouse(duckdb.connect(str(duckdb_path)), "duckdb", schema)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _POSTGRES_SCHEMES:
        raise ValueError(f"unsupported warehouse URL {masked_url(url)!r}: expected postgresql://...")
    import psycopg2

    try:
        conn = psycopg2.connect(f"postgresql://{rest}")
    except psycopg2.Error as exc:
        raise WarehouseError(f"cannot connect to the warehouse at {masked_url(url)}: {exc}") from None
    conn.autocommit = True  # transactions are explicit (BEGIN ... COMMIT), as on DuckDB
    return Warehouse(conn, "postgresql", schema)
