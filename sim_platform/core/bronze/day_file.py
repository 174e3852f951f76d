"""The bronze layer: one parquet file per UTC day holding that day's distinct raw samples.

Why it exists: the silver partitions are (day x hierarchy), and a run that materialises one
hierarchy of a day must not pay for reading every raw export of that day again. So a day's raw
files are read once, deduplicated with the core rule (`merged_distinct`, the ETL's day merge), and
stored sorted by hierarchy with exactly ONE ROW GROUP PER HIERARCHY. Reading one module back is then
a row-group selection (`read_bronze(path, ["phase1_module3"])`), and the resampler sees the same
samples it would have seen from the raw files, so silver built from bronze equals the ETL's output.

Layout of a bronze file (long format, one row per distinct sample):
`hierarchy, payload, tags (JSON list of [key, value] in original order), ts (int64 ms UTC),
value (float64, null for text), text (string, null for numbers)`; the key-value metadata
`sim_platform_bronze` records the day and the hierarchy of each row group.

No Dagster import: the Dagster asset `telemetry_day` only calls `write_bronze` / `read_bronze`.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.grid import DAY_MS, day_start_ms
from sim_platform.core.ingest.rawdata import RawBatch, merged_distinct
from sim_platform.core.ingest.screen import summarize_flagged
from sim_platform.core.store.publish import write_bytes_atomic

BRONZE_META_KEY = "sim_platform_bronze"
BRONZE_SCHEMA = pa.schema(
    [
        ("hierarchy", pa.string()),
        ("payload", pa.string()),
        ("tags", pa.string()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("text", pa.string()),
    ]
)


def bronze_relpath(day: date) -> str:
    return f"{day:%Y/%m/%d}/telemetry_day.parquet"


def _series_strings(batch: RawBatch) -> tuple[np.ndarray, np.ndarray]:
    payloads = np.array([p for p, _ in batch.series] or [""], dtype=object)
    tags = np.array([json.dumps([list(kv) for kv in t]) for _, t in batch.series] or ["[]"], dtype=object)
    return payloads, tags


def _dict_array(indices: np.ndarray, dictionary: list, mask: np.ndarray | None = None) -> pa.DictionaryArray:
    """A dictionary-encoded string column from codes: no per-row Python strings are ever built."""
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32), mask=mask), pa.array(dictionary, pa.string()))


def bronze_table(batch: RawBatch, day: date, catalog: Catalog) -> tuple[pa.Table, list[str]]:
    """The day's distinct samples as one table sorted by hierarchy; returns (table, hierarchies)."""
    import pandas as pd

    start = day_start_ms(day)
    end = start + DAY_MS
    t_codes, t_words = pd.factorize(batch.txt_val.astype(str)) if len(batch.txt_val) else (np.empty(0, np.int64), [])
    keep_n, keep_t = merged_distinct(batch, np.asarray(t_codes, dtype=np.int64))  # the day's merge, as the ETL's
    keep_n &= (batch.num_ts >= start) & (batch.num_ts < end)
    keep_t &= (batch.txt_ts >= start) & (batch.txt_ts < end)

    series_h = [catalog.place(p, t).hierarchy for p, t in batch.series]
    payloads, tags = _series_strings(batch)
    sid = np.concatenate([batch.num_sid[keep_n], batch.txt_sid[keep_t]]).astype(np.int64)
    ts = np.concatenate([batch.num_ts[keep_n], batch.txt_ts[keep_t]])
    n_num = int(keep_n.sum())
    value = np.concatenate([batch.num_val[keep_n], np.zeros(len(ts) - n_num)])
    is_text = np.arange(len(ts)) >= n_num
    text_code = np.concatenate([np.zeros(n_num, np.int64), np.asarray(t_codes, np.int64)[keep_t]])

    used = np.unique(sid)
    hier_names = sorted({series_h[i] for i in used.tolist()})
    rank = {h: i for i, h in enumerate(hier_names)}
    series_rank = np.array([rank.get(h, 0) for h in series_h] or [0], dtype=np.int64)
    # hierarchy, then series (payload, tags), then time, as ONE int64 sort key:
    # rank < 2^8, series position < 2^20, ms within the day < 2^27
    by_name = sorted(range(len(batch.series)), key=lambda i: (payloads[i], tags[i]))
    series_pos = np.empty(max(1, len(by_name)), np.int64)
    series_pos[by_name] = np.arange(len(by_name))
    key = ((series_rank[sid] << 20 | series_pos[sid]) << 27) | (ts - start) if len(sid) else sid
    order = np.argsort(key, kind="stable")
    sid, ts, value, is_text, text_code = sid[order], ts[order], value[order], is_text[order], text_code[order]
    p_codes, p_words = pd.factorize(payloads)
    g_codes, g_words = pd.factorize(tags)
    table = pa.Table.from_arrays(
        [
            _dict_array(series_rank[sid] if len(sid) else sid, hier_names),
            _dict_array(p_codes[sid] if len(sid) else sid, list(p_words)),
            _dict_array(g_codes[sid] if len(sid) else sid, list(g_words)),
            pa.array(ts, pa.int64()),
            pa.array(value, pa.float64(), mask=is_text),
            _dict_array(text_code, [str(w) for w in t_words], mask=~is_text),
        ],
        names=BRONZE_SCHEMA.names,
    )
    return table, hier_names


def bronze_bytes(batch: RawBatch, day: date, catalog: Catalog) -> tuple[bytes, dict]:
    """Serialise a day: one row group per hierarchy; returns (bytes, summary)."""
    table, hierarchies = bronze_table(batch, day, catalog)
    codes = table.column("hierarchy").combine_chunks().indices.to_numpy() if len(table) else np.empty(0, np.int32)
    starts = list(np.flatnonzero(np.append(True, codes[1:] != codes[:-1])) if len(codes) else []) + [len(table)]
    rows = {}
    summary = {
        "day": day.isoformat(),
        "hierarchies": hierarchies,
        "raw_rows": int(batch.raw_rows),
        "sources": len(batch.sources),
        # samples the value rules flagged when the files were read (silver puts them in the report)
        "flagged": summarize_flagged(batch.flagged, catalog),
    }
    sink = io.BytesIO()
    with pq.ParquetWriter(
        sink, table.schema, compression="snappy", use_dictionary=["hierarchy", "payload", "tags", "text"]
    ) as writer:
        for i, h in enumerate(hierarchies):
            part = table.slice(starts[i], starts[i + 1] - starts[i])
            writer.write_table(part, row_group_size=max(1, len(part)))
            rows[h] = len(part)
        writer.add_key_value_metadata({BRONZE_META_KEY: json.dumps(summary, sort_keys=True)})
    summary["rows"] = rows
    summary["distinct_rows"] = len(table)
    return sink.getvalue(), summary


def write_bronze(batch: RawBatch, day: date, catalog: Catalog, path: str | Path) -> dict:
    """Write the day's bronze file atomically (absent, old, or complete new); returns its summary."""
    data, summary = bronze_bytes(batch, day, catalog)
    write_bytes_atomic(Path(path), data)
    summary["bytes"] = len(data)
    return summary


def bronze_summary(path: str | Path) -> dict:
    """What a bronze file records about its day: hierarchies (one per row group, in order), raw
    rows, and the flagged-sample summary of the value rules."""
    kv = pq.read_metadata(path).metadata or {}
    return json.loads(kv[BRONZE_META_KEY.encode()])


def read_bronze(path: str | Path, hierarchies: list[str] | None = None) -> RawBatch:
    """The stored samples (all, or only those of `hierarchies`, by row-group selection) as a RawBatch."""
    pf = pq.ParquetFile(path)
    stored = json.loads(pf.metadata.metadata[BRONZE_META_KEY.encode()])["hierarchies"]
    wanted = set(stored if hierarchies is None else hierarchies)
    groups = [i for i, h in enumerate(stored) if h in wanted]
    if not groups:
        return RawBatch.empty()
    table = pf.read_row_groups(groups, columns=["payload", "tags", "ts", "value", "text"])
    payload, tags = _as_dict(table.column("payload")), _as_dict(table.column("tags"))
    pcode = payload.indices.to_numpy().astype(np.int64)
    tcode = tags.indices.to_numpy().astype(np.int64)
    uniq, sid = np.unique(pcode * (len(tags.dictionary) + 1) + tcode, return_inverse=True)
    pdict, tdict = payload.dictionary.to_pylist(), tags.dictionary.to_pylist()
    series = [
        (pdict[int(u) // (len(tdict) + 1)], tuple(tuple(kv) for kv in json.loads(tdict[int(u) % (len(tdict) + 1)]))) for u in uniq
    ]
    sid = sid.astype(np.int32)
    ts = table.column("ts").to_numpy()
    text_col = table.column("text")
    is_text = text_col.is_valid().to_numpy(zero_copy_only=False)
    texts = text_col.filter(pa.array(is_text)).cast(pa.string()).to_numpy(zero_copy_only=False)
    value = table.column("value").to_numpy(zero_copy_only=False)
    return RawBatch(
        series=series,
        num_sid=sid[~is_text],
        num_ts=ts[~is_text],
        num_val=np.asarray(value[~is_text], dtype=np.float64),
        txt_sid=sid[is_text],
        txt_ts=ts[is_text],
        txt_val=np.asarray(texts, dtype=object),
        raw_rows=len(ts),
        sources=[str(path)],
        # one source whose rows are distinct (the day's merge wrote them): the resampler's day merge
        # has no time two sources share, so it compares no rows (see `rawdata.shared_time`)
        spans=[(int(ts.min()), int(ts.max()))] if len(ts) else [],
    )


def _as_dict(column: pa.ChunkedArray) -> pa.DictionaryArray:
    arr = column.combine_chunks()
    return arr if pa.types.is_dictionary(arr.type) else arr.dictionary_encode()
