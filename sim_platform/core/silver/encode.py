"""Encoding a hierarchy's day into hour files: one parquet file per hour present, with the
column facts and real-sample counts in its metadata (`store.layout.META_KEY`)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from sim_platform.core.config.grid import BINS_PER_HOUR
from sim_platform.core.silver.resample import HierarchyDay
from sim_platform.core.store.layout import META_KEY, hour_relpath

#: Hour files are small (720 rows); per-file overhead dominates, so no dictionary pages, no statistics
#: and no serialised Arrow schema (types come from parquet logical types; column facts from META_KEY).
PARQUET_OPTIONS = dict(compression="snappy", use_dictionary=False, write_statistics=False, store_schema=False)


def table_to_parquet_bytes(table: pa.Table, meta: dict | str | None = None) -> bytes:
    """Serialise a table; `meta` (a dict, or its JSON) goes into the key-value metadata."""
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, table.schema, **PARQUET_OPTIONS) as writer:
        writer.write_table(table)
        if meta is not None:
            writer.add_key_value_metadata({META_KEY: meta if isinstance(meta, str) else json.dumps(meta, sort_keys=True)})
    return sink.getvalue()


def file_meta(hd: HierarchyDay, hour: int) -> dict:
    """What an hour file records: its hierarchy, the facts of every column, and real-sample counts.

    Columns the catalog does not know share their facts (the catalog defaults), so they are listed
    once by name under `uncatalogued` instead of each carrying a copy: an input that brings
    thousands of new series keeps its hour files' metadata small (`parse_meta` expands it again).
    """
    columns, uncatalogued = {}, {}
    real = {c: counts[hour] for c, counts in hd.real_bins.items()}
    for name, facts in hd.column_meta.items():
        if facts.get("in_catalog") == "false":
            shared = {k: v for k, v in facts.items() if k != "payload_type"}
            group = uncatalogued.setdefault(json.dumps(shared, sort_keys=True), {"facts": shared, "columns": [], "real_bins": []})
            group["columns"].append(name)
            group["real_bins"].append(real.pop(name))
            if facts["payload_type"] != name:
                group.setdefault("payloads", {})[name] = facts["payload_type"]
        else:
            columns[name] = facts
    meta = {"hierarchy": hd.hierarchy, "columns": columns, "real_bins": real}
    if uncatalogued:
        meta["uncatalogued"] = [uncatalogued[k] for k in sorted(uncatalogued)]
    return meta


def hour_tables(hd: HierarchyDay) -> Iterable[tuple[int, pa.Table]]:
    for hour in hd.hours:
        yield hour, hd.table.slice(hour * BINS_PER_HOUR, BINS_PER_HOUR)


def put_hierarchy_day(pub, hd: HierarchyDay, day: date) -> list[str]:
    """Encode and put the hour files of one (hierarchy, day); returns the paths written."""
    written = []
    for hour, table in hour_tables(hd):
        rel = hour_relpath(hd.hierarchy, day, hour)
        pub.put(rel, table_to_parquet_bytes(table, file_meta(hd, hour)))
        written.append(rel)
    return written
