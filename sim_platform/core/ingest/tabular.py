"""CSV and JSON sources -> the canonical long table -> `RawBatch`.

A source's `ColumnMap` says which columns hold the timestamp, payload type, value and tags; this
module only renames and reshapes, then hands the table to `batch_from_long_table`, the same code
that finishes a parquet export (range checks, numeric parsing by catalog, deduplication). So a CSV
or JSON row means exactly what the equivalent parquet row means.

Formats:
- CSV: a header row; every mapped column is read as text. Tags in one column as `k=v;k=v`.
- JSON: an array of objects, or JSON Lines (one object per line). Tags as an object, a list of
  `[key, value]` pairs, or a `k=v;k=v` string. Values may be numbers or strings.
- Timestamps: `iso8601` (an offset or `Z`; without one the time is taken as UTC), `epoch_s` or
  `epoch_ms` (integers or decimals).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.sources import ColumnMap, SourceFormat
from sim_platform.core.ingest.rawdata import InputError, RawBatch
from sim_platform.core.ingest.telemetry import batch_from_long_table


def read_tabular(path: str | Path, source: SourceFormat, catalog: Catalog, day_ms: tuple[int, int] | None = None) -> RawBatch:
    """Read one CSV/JSON file of `source` into a `RawBatch` (rows of `day_ms` only, when given)."""
    path = Path(path)
    return batch_from_long_table(path, long_table(path, source), catalog, day_ms)


def time_range_ms(path: str | Path, source: SourceFormat) -> tuple[int, int]:
    """(min, max) timestamp in ms. Text formats have no footer, so this reads the timestamp column."""
    path = Path(path)
    cols = source.columns
    if source.kind == "csv":
        raw = _read_csv(path, cols, [cols.timestamp]).column(cols.timestamp)
    else:
        raw = pa.array([_text(r.get(cols.timestamp)) for r in _json_records(path, cols)], pa.string())
    ts = _timestamps(path, raw, cols.timestamp_format)
    if len(ts) == 0:
        raise InputError(path, "empty file: no rows")
    return int(ts.min()), int(ts.max())


def long_table(path: Path, source: SourceFormat) -> pa.Table:
    cols = source.columns
    if cols is None:
        raise InputError(path, f"source {source.name!r} has no column mapping")
    if source.kind == "csv":
        t = _read_csv(path, cols, cols.source_columns)
        raw = {c: t.column(c).combine_chunks() for c in cols.source_columns}
        tag_text = raw[cols.tags] if cols.tags else None
        pairs = _tag_pairs_from_text(path, tag_text, cols, t.num_rows) if cols.tags else _no_pairs(t.num_rows)
    elif source.kind == "json":
        records = _json_records(path, cols)
        raw = {c: pa.array([_text(r.get(c)) for r in records], pa.string()) for c in cols.source_columns if c != cols.tags}
        pairs = _tag_pairs_from_json(path, records, cols) if cols.tags else _no_pairs(len(records))
    else:
        raise InputError(path, f"source {source.name!r}: {source.kind} is not a tabular kind")
    n = len(raw[cols.timestamp])
    if n == 0:
        raise InputError(path, "empty file: no rows")
    for column, key in cols.tag_columns:
        pairs = _add_column_tags(pairs, raw[column], key)
    return pa.table(
        {
            "timestamp": pa.array(_timestamps(path, raw[cols.timestamp], cols.timestamp_format), pa.int64()).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "payload_type": raw[cols.payload].cast(pa.string()),
            "value": raw[cols.value].cast(pa.string()),
            "tags": _as_list_of_pairs(pairs, n),
        }
    )


# ------------------------------------------------------------------ file formats
def _read_csv(path: Path, cols: ColumnMap, wanted: list[str]) -> pa.Table:
    from pyarrow import csv as pacsv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read CSV: {exc}") from exc
    if not header:
        raise InputError(path, "empty file: no CSV header")
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(path, f"unknown layout: CSV lacks the mapped columns {missing} (has {header})")
    try:
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted, column_types={c: pa.string() for c in wanted}, strings_can_be_null=True
            ),
        )
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"malformed CSV: {exc}") from exc


def _json_records(path: Path, cols: ColumnMap) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read JSON: {exc}") from exc
    stripped = text.lstrip()
    if not stripped:
        raise InputError(path, "empty file: no JSON records")
    try:
        if stripped.startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc}") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(path, "unknown layout: expected an array of objects or one object per line")
    required = [cols.timestamp, cols.payload, cols.value]
    for i, rec in enumerate(records):
        missing = [c for c in required if c not in rec]
        if missing:
            raise InputError(path, f"record {i} lacks the mapped fields {missing} (has {sorted(rec)})")
    return records


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


# ------------------------------------------------------------------ timestamps
def _timestamps(path: Path, raw: pa.Array, fmt: str) -> np.ndarray:
    """Timestamps as int64 ms since the epoch, UTC."""
    raw = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
    if raw.null_count:
        raise InputError(path, f"{raw.null_count} rows have no timestamp")
    if fmt == "iso8601":
        import pandas as pd

        try:
            parsed = pd.to_datetime(pd.Series(raw.to_pylist(), dtype=object), format="ISO8601", utc=True)
        except (ValueError, TypeError) as exc:
            raise InputError(path, f"timestamp is not ISO 8601: {exc}") from exc
        return parsed.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    try:
        numbers = pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid as exc:
        raise InputError(path, f"timestamp is not a number ({fmt}): {exc}") from exc
    scale = 1000.0 if fmt == "epoch_s" else 1.0
    return np.round(numbers * scale).astype(np.int64)


# ------------------------------------------------------------------ tags
# Tag pairs are kept in long form while they are assembled: (row, key, value) arrays, in row order.
def _no_pairs(n: int) -> tuple[np.ndarray, pa.Array, pa.Array]:
    return np.empty(0, np.int64), pa.array([], pa.string()), pa.array([], pa.string())


def _tag_pairs_from_text(path: Path, text: pa.Array, cols: ColumnMap, n: int):
    """`k=v;k=v` strings (null or empty: no tags) -> long-form pairs, vectorised."""
    text = pc.fill_null(text, "")
    items = pc.split_pattern(text, cols.tag_separator)
    row = np.repeat(np.arange(n, dtype=np.int64), np.diff(items.offsets.to_numpy()))
    flat = pc.utf8_trim_whitespace(pc.list_flatten(items))
    keep = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
    flat, row = flat.filter(pa.array(keep)), row[keep]
    kv = pc.split_pattern(flat, cols.tag_assign, max_splits=1)
    bad = np.flatnonzero(pc.list_value_length(kv).to_numpy(zero_copy_only=False) != 2)
    if len(bad):
        raise InputError(
            path, f"malformed tags: {flat[int(bad[0])].as_py()!r} in row {int(row[bad[0]]) + 1} is not key{cols.tag_assign}value"
        )
    keys = pc.utf8_trim_whitespace(pc.list_element(kv, 0))
    values = pc.utf8_trim_whitespace(pc.list_element(kv, 1))
    return row, keys, values


def _tag_pairs_from_json(path: Path, records: list[dict], cols: ColumnMap):
    rows, keys, values = [], [], []
    for i, rec in enumerate(records):
        tags = rec.get(cols.tags)
        if tags is None or tags == "":
            continue
        if isinstance(tags, str):
            r, k, v = _tag_pairs_from_text(path, pa.array([tags]), cols, 1)
            pairs = list(zip(k.to_pylist(), v.to_pylist()))
        elif isinstance(tags, dict):
            pairs = list(tags.items())
        elif isinstance(tags, list) and all(isinstance(p, list) and len(p) == 2 for p in tags):
            pairs = [tuple(p) for p in tags]
        else:
            raise InputError(path, f"malformed tags in record {i}: {tags!r} (expected an object or [key, value] pairs)")
        for k, v in pairs:
            if k is None or v is None:
                raise InputError(path, f"malformed tags in record {i}: a tag key or value is null")
            rows.append(i)
            keys.append(_text(k))
            values.append(_text(v))
    return np.array(rows, np.int64), pa.array(keys, pa.string()), pa.array(values, pa.string())


def _add_column_tags(pairs, column: pa.Array, key: str):
    """Append `key=<value>` for the rows whose `column` is non-empty (after the rows' other tags)."""
    row, keys, values = pairs
    column = pc.utf8_trim_whitespace(column.cast(pa.string()))
    present = pc.and_(pc.is_valid(column), pc.not_equal(pc.fill_null(column, ""), "")).to_numpy(zero_copy_only=False)
    new_rows = np.flatnonzero(present).astype(np.int64)
    all_rows = np.concatenate([row, new_rows])
    order = np.argsort(all_rows, kind="stable")
    all_keys = pa.concat_arrays([keys, pa.array([key] * len(new_rows), pa.string())]).take(pa.array(order))
    all_values = pa.concat_arrays([values, column.filter(pa.array(present))]).take(pa.array(order))
    return all_rows[order], all_keys, all_values


def _as_list_of_pairs(pairs, n: int) -> pa.Array:
    """Long-form pairs (sorted by row) -> list<list<string>>, one list of [key, value] per row."""
    row, keys, values = pairs
    m = len(row)
    interleaved = pa.concat_arrays([keys, values]).take(pa.array(np.arange(2 * m).reshape(2, m).T.ravel()))
    inner = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * m + 1, 2, dtype=np.int32)), interleaved)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)
