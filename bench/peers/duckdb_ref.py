"""The DuckDB reference for bench/etl_bench.py: the ETL's work in DuckDB SQL, as far as SQL takes it.

    python bench/peers/duckdb_ref.py --input DIR --output OUT

Per UTC day (the exporter's day folders, see common.py), in one in-memory DuckDB using every core:
1. distinct rows of the day's files (`SELECT DISTINCT` over the four export columns);
2. tags -> hierarchy and column name by the README's naming rule, in SQL, once per distinct
   (payload_type, tags) series, joined back to the rows;
3. 5-second bins: numeric value = mean of the distinct samples, text (`system_state`) = the last
   sample (equal timestamps: the greatest value);
4. per hierarchy, a pivot to one column per series (sorted by name) on the full 5-second grid of
   every hour with at least one sample (720 rows), written as one parquet file per hierarchy-hour
   (`OUT/{hierarchy}/YYYY/MM/DD/hh={H}/data_0.parquet`, DuckDB's partitioned COPY).

What it leaves out, against `sim-platform etl`: the fill-forward with fill limits, the catalog's
always-present (null) columns and their order, the bounds policy (out-of-range samples are averaged
in), the quality report, the structural validation, per-file checks and typed errors, the column
metadata (`real_bins`), the atomic all-or-nothing publication of a day and fsync.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN_S, OMIT, TAG_ORDER, TEXT_PAYLOADS, VALUE_ONLY, files_by_day  # noqa: E402


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def series_sql() -> str:
    """Hierarchy and column name of every distinct (payload_type, tags) of `raw`, by the naming rule."""
    rank = " ".join(f"WHEN {_quote(k)} THEN '{i}'" for i, k in enumerate(TAG_ORDER))
    value_only = ", ".join(_quote(k) for k in VALUE_ONLY)
    omit = " OR ".join(f"(x[1] = {_quote(k)} AND x[2] = {_quote(v)})" for k, v in OMIT.items())
    text = ", ".join(_quote(p) for p in TEXT_PAYLOADS)
    return f"""
    CREATE OR REPLACE TEMP TABLE series AS
    WITH s AS (SELECT DISTINCT payload_type, tags FROM raw),
    t AS (
        SELECT payload_type, tags,
               list_filter(tags, lambda x: x[1] = 'phase')[1][2] AS phase,
               list_filter(tags, lambda x: x[1] = 'module')[1][2] AS module
        FROM s
    ),
    named AS (
        SELECT payload_type, tags, phase, module,
               list_transform(
                   list_sort(list_transform(
                       list_filter(tags, lambda x: x[1] <> 'phase' AND NOT (x[1] = 'module' AND phase IS NOT NULL) AND NOT ({omit})),
                       lambda x: struct_pack(o := CASE x[1] {rank} ELSE '9' || x[1] END,
                                        s := CASE WHEN x[1] IN ({value_only}) THEN x[2] ELSE x[1] || x[2] END))),
                   lambda x: x.s) AS parts
        FROM t
    )
    SELECT payload_type, tags,
           CASE WHEN phase IS NOT NULL AND module IS NOT NULL THEN 'phase' || phase || '_module' || module
                WHEN phase IS NOT NULL THEN 'phase' || phase ELSE 'system' END AS hierarchy,
           array_to_string(list_prepend(payload_type, parts), '_') AS col,
           payload_type IN ({text}) AS is_text
    FROM named
    """


BINNED = f"""
CREATE OR REPLACE TEMP TABLE binned AS
SELECT s.hierarchy, s.col, r.timestamp // {BIN_S} * {BIN_S} AS bin,
       avg(TRY_CAST(r.value AS DOUBLE)) FILTER (WHERE NOT s.is_text) AS num,
       (max(struct_pack(t := r.timestamp, v := r.value)) FILTER (WHERE s.is_text)).v AS txt
FROM raw r JOIN series s USING (payload_type, tags)
GROUP BY ALL
"""


def write_day(con: duckdb.DuckDBPyConnection, day, out: Path) -> int:
    """One pivoted, gridded COPY per hierarchy, partitioned by hour; returns the hour files written."""
    cols = con.execute("SELECT hierarchy, col, bool_or(is_text) FROM series GROUP BY ALL ORDER BY hierarchy, col").fetchall()
    by_h: dict[str, list[tuple[str, bool]]] = {}
    for h, c, is_text in cols:
        by_h.setdefault(h, []).append((c, is_text))
    files = 0
    for h, columns in by_h.items():
        picks = ", ".join(
            f'max({"txt" if is_text else "num"}) FILTER (WHERE col = {_quote(c)}) AS "{c}"' for c, is_text in columns
        )
        names = ", ".join(f'w."{c}"' for c, _ in columns)
        folder = out / h / f"{day:%Y/%m/%d}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"""
        COPY (
            WITH mine AS (SELECT * FROM binned WHERE hierarchy = {_quote(h)}),
            hours AS (SELECT DISTINCT bin // 3600 * 3600 AS hour FROM mine),
            grid AS (SELECT hour + i AS bin FROM hours, range(0, 3600, {BIN_S}) g(i)),
            wide AS (SELECT bin, {picks} FROM mine GROUP BY bin)
            SELECT to_timestamp(g.bin) AS timestamp, {names}, (g.bin % 86400) // 3600 AS hh
            FROM grid g LEFT JOIN wide w ON g.bin = w.bin
            ORDER BY g.bin
        ) TO {_quote(str(folder))} (FORMAT parquet, PARTITION_BY (hh), OVERWRITE_OR_IGNORE)
        """)
        files += con.execute("SELECT count(DISTINCT bin // 3600) FROM binned WHERE hierarchy = ?", [h]).fetchone()[0]
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    sql_series = series_sql()
    raw_rows = distinct = files = 0
    for day, day_files in files_by_day(args.input).items():
        raw_rows += con.execute("SELECT count(*) FROM read_parquet(?)", [day_files]).fetchone()[0]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw AS SELECT DISTINCT timestamp, payload_type, value, tags FROM read_parquet(?)",
            [day_files],
        )
        distinct += con.execute("SELECT count(*) FROM raw").fetchone()[0]
        con.execute(sql_series)
        con.execute(BINNED)
        files += write_day(con, day, out)
    print(
        f"duckdb {duckdb.__version__}: raw rows: {raw_rows} distinct rows: {distinct} files written: {files} "
        f"seconds: {time.perf_counter() - t0:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
