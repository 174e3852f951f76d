"""Raw samples of one UTC day -> one 5-second table per hierarchy.

The rules, all here and nowhere else:
- Bin `[t, t+5 s)` is labelled `t`; a day has 17,280 bins, 720 per hour.
- Duplicates are removed first (`distinct_mask`), so a sample exported five times counts once.
- Numeric series: mean of the distinct samples in the bin (or the last one, if the catalog says so).
  Text series: the last sample in the bin (ties on the timestamp: the greatest value, so the result
  does not depend on file order).
- An empty bin carries the previous bin's value forward while `t < last_real_sample + fill_limit`,
  else it is null. Nothing is carried across midnight: each (hierarchy, day) table is a pure
  function of that day's samples.
- Several raw series that map to one column (e.g. with and without `message_source=master`) are one
  series for binning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from sim_platform.core.config.catalog import Catalog, SeriesInfo, Signal
from sim_platform.core.config.grid import BIN_MS, BINS_PER_DAY, BINS_PER_HOUR, DAY_MS
from sim_platform.core.ingest.rawdata import RawBatch, arrow_strings, arrow_view, merged_distinct
from sim_platform.core.silver import quality

#: key of `HierarchyDay.real_bins` counting bins with a real sample in any column
REAL_ANY = "*any*"


@dataclass
class HierarchyDay:
    """The 5-second table of one hierarchy for one day, and which hours had real samples."""

    hierarchy: str
    table: pa.Table  # BINS_PER_DAY rows: timestamp + one column per series
    hours: list[int]  # hours (0-23) with at least one raw sample
    real_share: dict[str, float]  # share of bins with a real sample, per column
    distinct_rows: int = 0  # distinct raw samples of the day that landed in this hierarchy
    unknown_columns: list[str] = field(default_factory=list)
    column_meta: dict[str, dict[str, str]] = field(default_factory=dict)  # per column: payload, unit, ...
    #: bins with a real sample, per hour (24 numbers): per column, and `any` = in at least one column.
    #: Filled bins look like real ones in the table; these counts keep the difference for later layers.
    real_bins: dict[str, list[int]] = field(default_factory=dict)
    #: value-rule findings of this hierarchy's day (see `core.silver.quality`): new text values per column,
    #: unknown payloads and tag keys with their distinct samples, gaps longer than the fill limit
    quality: dict[str, dict] = field(default_factory=dict)


def _column_plan(catalog: Catalog, batch: RawBatch) -> tuple[dict[str, dict[str, Signal]], np.ndarray, list[SeriesInfo]]:
    """Columns per hierarchy (declared ones first, in catalog order) and each series' global column.

    Only series with samples make hierarchies and extra columns: a series whose samples were all
    left out (outside the plant, or outside this day) leaves no empty folder or column behind."""
    text_series = set(np.unique(batch.txt_sid).tolist())
    used = np.zeros(len(batch.series), bool)
    used[batch.num_sid] = True
    used[batch.txt_sid] = True
    placed: list[SeriesInfo] = []
    for i, (payload, tags) in enumerate(batch.series):
        info = catalog.place(payload, tags)
        if i in text_series and info.signal.kind != "text":
            info = SeriesInfo(info.hierarchy, info.column, replace(info.signal, kind="text", aggregation="last"))
        placed.append(info)
    hierarchies = {info.hierarchy for info, u in zip(placed, used) if u}
    columns: dict[str, dict[str, Signal]] = {}
    for h in sorted(hierarchies):
        declared = dict(catalog.declared_columns(catalog.hierarchy_level(h)))
        extra_sigs: dict[str, Signal] = {}
        for i, u in zip(placed, used):  # a text sighting wins, so one column has one kind
            if not u or i.hierarchy != h or i.column in declared:
                continue
            if i.column not in extra_sigs or i.signal.kind == "text":
                extra_sigs[i.column] = i.signal
        extra = sorted(extra_sigs.items())
        columns[h] = {**declared, **dict(extra)}
    flat = [(h, c) for h, cols in columns.items() for c in cols]
    index = {hc: i for i, hc in enumerate(flat)}
    series_col = np.array([index.get((i.hierarchy, i.column), 0) for i in placed] or [0], dtype=np.int64)
    return columns, series_col, placed


def _fill(values: np.ndarray, has: np.ndarray, last_ts: np.ndarray, limit_ms: np.ndarray, day_start: int):
    """Forward-fill a (columns x bins) array under the fill-limit rule; returns values and validity."""
    ncol, nb = has.shape
    src = np.where(has, np.arange(nb), -1)
    np.maximum.accumulate(src, axis=1, out=src)
    rows = np.arange(ncol)[:, None]
    safe = np.maximum(src, 0)
    bin_start = day_start + np.arange(nb, dtype=np.int64) * BIN_MS
    flat = (safe + rows * nb).ravel()  # one flat gather: cheaper than indexing by (row, bin)
    source_last = np.take(last_ts.ravel(), flat).reshape(ncol, nb)
    valid = (src >= 0) & (has | (bin_start[None, :] < source_last + limit_ms[:, None]))
    return np.take(values.ravel(), flat).reshape(ncol, nb), valid


def _last_per_cell(cell: np.ndarray, ts: np.ndarray, tiebreak: np.ndarray):
    """Index of the last sample (greatest ts, then greatest tiebreak) of every occupied cell."""
    order = np.lexsort((tiebreak, ts, cell))
    c = cell[order]
    ends = np.flatnonzero(np.append(c[1:] != c[:-1], True))
    return c[ends], order[ends]


def resample_day(batch: RawBatch, day_start_ms: int, catalog: Catalog) -> list[HierarchyDay]:
    """Resample one day's raw samples (all files of that UTC day) to 5-second tables.

    Samples are grouped by output column once (a stable sort), then each hierarchy is binned and
    filled on its own small (columns x 17,280) arrays, which keeps memory flat and caches warm.
    """
    columns, series_col, placed = _column_plan(catalog, batch)
    flat = [(h, c, sig) for h, cols in columns.items() for c, sig in cols.items()]
    day_end = day_start_ms + DAY_MS
    batch = _numbers_of_text_columns_as_text(batch, series_col, flat)

    keep, tkeep = merged_distinct(batch, _codes(batch.txt_val)[0])
    keep &= (batch.num_ts >= day_start_ms) & (batch.num_ts < day_end)
    num = _by_column(series_col, batch.num_sid, batch.num_ts, batch.num_val, keep)
    tkeep &= (batch.txt_ts >= day_start_ms) & (batch.txt_ts < day_end)
    t_codes, words = _codes(batch.txt_val[tkeep])
    txt = _by_column(series_col, batch.txt_sid[tkeep], batch.txt_ts[tkeep], t_codes)
    words_arr = arrow_strings(words)
    samples = np.bincount(batch.num_sid[keep], minlength=len(batch.series)) + np.bincount(
        batch.txt_sid[tkeep], minlength=len(batch.series)
    )
    series_findings = _series_findings(catalog, placed, batch.series, samples)

    timestamps = (
        arrow_view(day_start_ms + np.arange(BINS_PER_DAY, dtype=np.int64) * BIN_MS)
        .cast(pa.timestamp("ms", tz="UTC"))
        .cast(pa.timestamp("ns", tz="UTC"))
    )
    out: list[HierarchyDay] = []
    c0 = 0
    for h, cols in columns.items():
        c1 = c0 + len(cols)
        sigs = list(cols.values())
        values, has, last_ts, rows = _bin_columns(num, txt, c0, c1, day_start_ms, sigs)
        limit_ms = np.array([sig.fill_limit_s * 1000 for sig in sigs], dtype=np.int64)
        filled, valid = _fill(values, has, last_ts, limit_ms, day_start_ms)
        arrays, fields, share, meta = [timestamps], [pa.field("timestamp", timestamps.type, nullable=False)], {}, {}
        for i, (name, sig) in enumerate(cols.items()):
            ok = valid[i]
            if sig.kind == "text":
                arr = (
                    words_arr.take(arrow_view(np.where(ok, filled[i], 0).astype(np.int64), ok))
                    if len(words)
                    else pa.nulls(len(ok), pa.string())
                )
            else:
                arr = arrow_view(filled[i], ok)
            arrays.append(arr)
            fields.append(pa.field(name, arr.type))
            meta[name] = column_meta(sig)
            share[name] = float(has[i].mean())
        per_hour = has.reshape(len(cols), 24, BINS_PER_HOUR)
        hour_has = per_hour.any(axis=(0, 2))
        real_bins = {name: per_hour[i].sum(axis=1).tolist() for i, name in enumerate(cols)}
        real_bins[REAL_ANY] = per_hour.any(axis=0).sum(axis=1).tolist()
        table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        names = list(cols)
        h_unknown = [c for c, sig in cols.items() if not sig.known]
        hours = [int(x) for x in np.flatnonzero(hour_has)]
        findings = dict(series_findings.get(h, {}))
        findings["gaps"] = quality.gaps(has, names, limit_ms / 1000.0, BIN_MS / 1000)
        findings["new_text_values"], findings["fault_values"] = _text_findings(txt, c0, cols, words)
        out.append(HierarchyDay(h, table, hours, share, rows, h_unknown, meta, real_bins, findings))
        c0 = c1
    return out


def _series_findings(catalog: Catalog, placed: list[SeriesInfo], series: list, samples: np.ndarray) -> dict[str, dict[str, dict]]:
    """Per hierarchy: distinct samples of payloads the catalog does not know, and of tag keys it
    does not name."""
    known_keys = catalog.known_tag_keys()
    out: dict[str, dict[str, dict]] = {}
    for i, info in enumerate(placed):
        n = int(samples[i]) if i < len(samples) else 0
        if not n:
            continue
        h = out.setdefault(info.hierarchy, {"unknown_payloads": {}, "unknown_tag_keys": {}})
        if not info.signal.known:
            h["unknown_payloads"][info.signal.payload_type] = h["unknown_payloads"].get(info.signal.payload_type, 0) + n
        for key in sorted({k for k, _ in series[i][1]} - known_keys):
            h["unknown_tag_keys"][key] = h["unknown_tag_keys"].get(key, 0) + n
    return out


def _text_findings(txt, c0: int, cols: dict[str, Signal], words: list[str]) -> tuple[dict, dict]:
    """Per catalogued text column of this hierarchy: the values outside its known_values, and the
    samples of its fault values, each counted (distinct samples)."""
    col, _, codes = txt
    new, faults = {}, {}
    for i, (name, sig) in enumerate(cols.items()):
        if sig.kind != "text" or sig.known_values is None:
            continue
        lo, hi = np.searchsorted(col, [c0 + i, c0 + i + 1])
        counts = quality.value_counts(codes[lo:hi], words, sig.known_values)
        if counts:
            new[name] = counts
        if sig.fault_values:
            counts = quality.value_counts(codes[lo:hi], words, tuple(w for w in words if w not in sig.fault_values))
            if counts:
                faults[name] = counts
    return new, faults


def _by_column(series_col: np.ndarray, sid: np.ndarray, ts: np.ndarray, val: np.ndarray, keep: np.ndarray | None = None):
    """The samples (the `keep` rows only, when given) sorted by output column, stable so that
    ties keep file order, with the column of each row. The sort key is the column as a 16-bit
    integer when the columns fit, which numpy sorts by radix: 7x faster than the int64 sort."""
    col = series_col[sid] if len(sid) else np.empty(0, np.int64)
    n_cols = int(series_col.max(initial=0)) + 2  # the last: rows left out, sorted behind every kept row
    key = col if keep is None or keep.all() else np.where(keep, col, n_cols - 1)
    n = len(col) if keep is None else int(np.count_nonzero(keep))
    small = np.int16 if n_cols <= np.iinfo(np.int16).max else np.int32
    small_key = key.astype(small)
    order = np.argsort(small_key, kind="stable")[:n]
    sorted_col = np.repeat(np.arange(n_cols, dtype=col.dtype), np.bincount(small_key, minlength=n_cols))[:n]
    return sorted_col, ts[order], val[order]


def _bin_columns(num, txt, c0: int, c1: int, day_start_ms: int, sigs: list[Signal]):
    """Per-bin value, has-sample flag and last sample time for global columns [c0, c1)."""
    ncol = c1 - c0
    total = ncol * BINS_PER_DAY
    values = np.full(total, np.nan)
    counts = np.zeros(total, np.int64)
    last_ts = np.full(total, np.iinfo(np.int64).min // 2, dtype=np.int64)
    rows = 0
    for part, is_text in ((num, False), (txt, True)):
        col, ts, val = part
        lo, hi = np.searchsorted(col, [c0, c1])
        if hi == lo:
            continue
        col, ts, val = col[lo:hi], ts[lo:hi], val[lo:hi]
        rows += hi - lo
        cell = (col - c0) * BINS_PER_DAY + (ts - day_start_ms) // BIN_MS
        n = np.bincount(cell, minlength=total)
        counts += n
        np.maximum.at(last_ts, cell, ts)
        use_last = np.array([is_text or sig.aggregation == "last" for sig in sigs])[col - c0]
        if not use_last.all():  # a cell is one column's: the sums of "last" cells are overwritten below
            np.divide(np.bincount(cell, weights=val, minlength=total), n, out=values, where=n > 0)
        if use_last.any():
            cells, last_idx = _last_per_cell(cell[use_last], ts[use_last], val[use_last])
            values[cells] = val[use_last][last_idx]
    shape = (ncol, BINS_PER_DAY)
    return values.reshape(shape), counts.reshape(shape) > 0, last_ts.reshape(shape), int(rows)


def _numbers_of_text_columns_as_text(batch: RawBatch, series_col: np.ndarray, flat) -> RawBatch:
    """An uncatalogued series that is text in one file and numeric in another is text throughout."""
    text_col = np.array([sig.kind == "text" for _, _, sig in flat] or [False])
    if not len(batch.num_sid):
        return batch
    move = text_col[series_col[batch.num_sid]]
    if not move.any():
        return batch
    moved = np.array([repr(float(v)) for v in batch.num_val[move]], dtype=object)
    return RawBatch(
        batch.series,
        batch.num_sid[~move],
        batch.num_ts[~move],
        batch.num_val[~move],
        np.concatenate([batch.txt_sid, batch.num_sid[move]]),
        np.concatenate([batch.txt_ts, batch.num_ts[move]]),
        np.concatenate([batch.txt_val, moved]),
        batch.raw_rows,
        batch.sources,
    )


def _codes(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Sorted dictionary codes of string values (so code order is value order)."""
    if len(values) == 0:
        return np.empty(0, np.int64), []
    words, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int64), [str(w) for w in words]


def column_meta(sig: Signal) -> dict[str, str]:
    """What an hour file records about each column (so plots and readers need no catalog)."""
    return {
        "payload_type": sig.payload_type,
        "unit": sig.unit,
        "kind": sig.kind,
        "aggregation": sig.aggregation,
        "fill_limit_s": f"{sig.fill_limit_s:g}",
        "in_catalog": "true" if sig.known else "false",
    }
