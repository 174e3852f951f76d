"""Telemetry exports (long-form parquet) -> `RawBatch`.

The exports carry `timestamp` (epoch seconds), `payload_type`, `value` (always a string) and `tags`
(list of [key, value] pairs). Decoding `tags` as Python objects is what makes naive readers slow, so
this reader asks Arrow for dictionary-encoded leaves and identifies each row's series from small
integer codes: every distinct (key, value) pair of a file gets a bit, a row's tag set is the OR of its
bits, and (payload, bitmask) pairs are factorised. Only the few distinct series are decoded to
strings, each once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.ingest.rawdata import InputError, RawBatch, arrow_view, distinct_mask, factorize, numpy_view

REQUIRED = ("timestamp", "payload_type", "value", "tags")
_DICT_COLUMNS = ["payload_type", "value", "tags.list.element.list.element"]


#: epoch values at or above this are milliseconds (as seconds they would be after the year 5000)
_EPOCH_MS_FROM = 100_000_000_000


def check_schema(path: Path, schema: pa.Schema) -> None:
    """Accept every layout whose meaning is unambiguous (schema drift of the exporter): extra
    columns, no pandas index column, `value` as a number, `tags` as a map, `timestamp` in epoch
    seconds or milliseconds or as a timestamp type. Anything else is an `InputError` naming the file."""
    missing = [c for c in REQUIRED if c not in schema.names]
    if missing:
        raise InputError(path, f"unknown layout: not a telemetry export (missing columns {missing}; has {schema.names[:8]})")
    ts = schema.field("timestamp").type
    if not (pa.types.is_integer(ts) or pa.types.is_timestamp(ts)):
        raise InputError(path, f"unknown layout: column 'timestamp' is {ts}, expected epoch seconds or ms, or a timestamp")
    t = schema.field("payload_type").type
    if not _is_text(t):
        raise InputError(path, f"unknown layout: column 'payload_type' is {t}, expected string")
    t = schema.field("value").type
    if not (_is_text(t) or pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise InputError(path, f"unknown layout: column 'value' is {t}, expected string or number")
    tags = schema.field("tags").type
    if not ((pa.types.is_list(tags) and pa.types.is_list(tags.value_type)) or pa.types.is_map(tags)):
        raise InputError(path, f"unknown layout: column 'tags' is {tags}, expected list<list<string>> or map<string, string>")


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or (pa.types.is_dictionary(t) and _is_text(t.value_type))


def _epoch_to_ms(path: Path, lo: int, hi: int) -> int:
    """The factor that turns a file's integer timestamps into ms: 1000 for seconds, 1 for ms."""
    if lo >= _EPOCH_MS_FROM:
        return 1
    if hi < _EPOCH_MS_FROM:
        return 1000
    raise InputError(path, f"timestamps mix epoch seconds and milliseconds ({lo}..{hi})")


def timestamp_range_ms(path: Path, pf: pq.ParquetFile | None = None) -> tuple[int, int] | None:
    """(min, max) timestamp of a telemetry file in ms, from the parquet footer statistics when it
    has them (no rows read), else from the one column. None for a file without rows. `pf`: the
    file already opened (its footer read once, not twice)."""
    pf = pf or pq.ParquetFile(path)
    meta = pf.metadata
    if meta.num_rows == 0:
        return None
    idx = meta.schema.names.index("timestamp") if "timestamp" in meta.schema.names else None
    lo = hi = None
    for rg in range(meta.num_row_groups if idx is not None else 0):
        st = meta.row_group(rg).column(idx).statistics
        if st is None or not st.has_min_max or not isinstance(st.min, int):
            lo = hi = None
            break
        lo = st.min if lo is None else min(lo, st.min)
        hi = st.max if hi is None else max(hi, st.max)
    if lo is not None and pa.types.is_integer(pf.schema_arrow.field("timestamp").type):
        f = _epoch_to_ms(path, int(lo), int(hi))
        return int(lo) * f, int(hi) * f
    ts, _ = _timestamps_ms(path, pf.read(columns=["timestamp"]).column("timestamp"))
    return int(ts.min()), int(ts.max())


def _timestamps_ms(path: Path, col: pa.ChunkedArray) -> tuple[np.ndarray, bool]:
    """Epoch milliseconds, and whether they are whole seconds by construction (epoch seconds)."""
    if col.null_count:
        raise InputError(path, f"{col.null_count} rows have no timestamp")
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_timestamp(arr.type):
        return numpy_view(pc.cast(arr, pa.timestamp("ms", tz=arr.type.tz))), False
    values = numpy_view(arr).astype(np.int64)
    if not len(values):
        return values, False
    factor = _epoch_to_ms(path, int(values.min()), int(values.max()))
    return values * factor, factor == 1000


def _tags_as_pairs(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """`map<string, string>` tags -> the canonical list of [key, value] pairs (same order)."""
    if not pa.types.is_map(col.type):
        return col
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    keys, items = arr.keys, arr.items
    n = len(keys)
    interleaved = pa.concat_arrays([keys.cast(pa.string()), items.cast(pa.string())]).take(
        pa.array(np.column_stack([np.arange(n), np.arange(n) + n]).ravel() if n else np.empty(0, np.int64))
    )
    pairs = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), interleaved)
    offsets = arr.offsets
    if arr.null_count:
        offsets = pc.fill_null(offsets, 0)
    return pa.chunked_array([pa.ListArray.from_arrays(offsets, pairs, mask=arr.is_null() if arr.null_count else None)])


def _dict_parts(col: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if not pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_encode()
    return numpy_view(arr.indices), arr.dictionary


#: a plain decimal number, which Arrow's cast and Python's `float` both parse to the nearest double
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def _parse_numbers(dictionary: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Float value and is-numeric flag for every dictionary entry.

    Arrow casts the whole dictionary when every entry is a number. A file with text states (IDLE,
    FAULT) has a few entries that are not: the plain decimals are still cast by Arrow, and only the
    rest ("nan", " 5", "IDLE") go through Python's `float`, one by one."""
    try:
        return numpy_view(pc.cast(dictionary, pa.float64())), np.ones(len(dictionary), bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    decimal = pc.match_substring_regex(dictionary, _DECIMAL)  # a null entry: in neither list below
    vals = np.full(len(dictionary), np.nan)
    ok = np.zeros(len(dictionary), bool)
    cast = numpy_view(pc.indices_nonzero(decimal))
    vals[cast] = numpy_view(pc.cast(dictionary.filter(decimal), pa.float64()))
    ok[cast] = True
    rest = numpy_view(pc.indices_nonzero(pc.invert(decimal)))
    for i, s in zip(rest.tolist(), dictionary.take(arrow_view(rest)).to_pylist()):
        try:
            vals[i] = float(s)
            ok[i] = True
        except (TypeError, ValueError):
            pass
    return vals, ok


def _row_series(
    path: Path, tags_col: pa.ChunkedArray, payload: np.ndarray, n_payloads: int
) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """Per-row series code (tag set and payload type, numbered in order of first appearance), and
    for each code its payload code and its tags (in file order).

    Every distinct (key, value) pair of the file gets a bit; a row's tag set is the OR of its bits,
    kept in 63-bit words so any number of distinct pairs works. Rows are identified by their words,
    their payload and their pair count (so a pair given twice is not merged away), and each
    identity is decoded once, from its first row. In the usual file (a few dozen pairs, a few dozen
    payload types) the bits and the payload share one 64-bit key, so one hash pass numbers the series.
    """
    n = len(payload)
    tags = tags_col.combine_chunks() if tags_col.num_chunks != 1 else tags_col.chunk(0)
    if tags.null_count:
        tags = pc.fill_null(tags, pa.scalar([], tags.type))
    outer = numpy_view(tags.offsets)
    pairs = tags.values
    inner = numpy_view(pairs.offsets)[outer[0] : outer[-1] + 1]
    if pairs.null_count or (len(inner) > 1 and not np.all(np.diff(inner) == 2)):
        raise InputError(path, "malformed tags: every tag must be a [key, value] pair")
    leaves = pairs.values.slice(inner[0], inner[-1] - inner[0]) if len(inner) > 1 else pairs.values.slice(0, 0)
    if leaves.null_count:
        raise InputError(path, "malformed tags: a tag key or value is null")
    if not pa.types.is_dictionary(leaves.type):
        leaves = leaves.dictionary_encode()
    codes = numpy_view(leaves.indices)
    words = leaves.dictionary.to_pylist()
    k_code, v_code = codes[0::2], codes[1::2]
    payload_bits = max(int(n_payloads - 1).bit_length(), 1)
    if len(words) ** 2 <= 1 << 16:  # the usual case: a dense lookup table beats hashing
        pair_code = k_code.astype(np.int32, copy=False) * np.int32(len(words))
        pair_code += v_code
        present = np.bincount(pair_code, minlength=len(words) ** 2) > 0
        slot_of_pair = np.cumsum(present) - 1
        n_slots = int(slot_of_pair[-1]) + 1 if len(slot_of_pair) else 0
        if n_slots + payload_bits <= 64:  # each pair's bit, above the payload's, by one gather
            bits = np.left_shift(np.uint64(1), np.maximum(slot_of_pair, 0).astype(np.uint64) + np.uint64(payload_bits))[pair_code]
        else:
            slot = slot_of_pair[pair_code]
    else:
        slot, _ = factorize(k_code.astype(np.int64) * len(words) + v_code)
        n_slots = int(slot.max()) + 1 if len(slot) else 0
        if n_slots + payload_bits <= 64:
            bits = np.left_shift(np.uint64(1), slot.astype(np.uint64) + np.uint64(payload_bits))
    row_starts = outer[:-1] - outer[0]
    counts = np.diff(outer)
    nonempty = counts > 0
    if n_slots + payload_bits <= 64:  # one word holds the tag bits and the payload
        if nonempty.all():  # the usual case: every row has tags
            mask = np.bitwise_or.reduceat(bits, row_starts) if n else np.zeros(0, np.uint64)
        else:
            mask = np.zeros(n, dtype=np.uint64)
            mask[nonempty] = np.bitwise_or.reduceat(bits, row_starts[nonempty])
        if np.any(np.bitwise_count(mask) != counts):
            raise InputError(path, "malformed tags: the same tag is given twice in one row")
        sid, _ = factorize(mask | payload.astype(np.uint64))
    else:  # many distinct pairs: a word of 63 bits at a time, then the pair count and the payload
        row_code = np.zeros(n, np.int64)
        for word in range(n_slots // 63 + 1):
            bits = np.where(slot // 63 == word, np.left_shift(np.uint64(1), (slot % 63).astype(np.uint64)), np.uint64(0))
            mask = np.zeros(n, dtype=np.uint64)
            mask[nonempty] = np.bitwise_or.reduceat(bits, row_starts[nonempty])
            word_code, word_uniq = factorize(mask)
            row_code = factorize(row_code * np.int64(len(word_uniq)) + word_code)[0]
        row_code = factorize(row_code * np.int64(counts.max() + 1) + counts)[0]
        sid, _ = factorize(row_code * np.int64(n_payloads) + payload)
    n_codes = int(sid.max()) + 1 if n else 0
    first_rows = np.empty(n_codes, np.int64)
    first_rows[sid[::-1]] = np.arange(n - 1, -1, -1)
    return sid, payload[first_rows], _tag_sets(words, first_rows, row_starts, counts, codes)


#: decoded tag sets by the file's tag words, then by the codes of their pairs in row order: the
#: files of one exporter share both, so a day decodes each tag set about once, not once per file
_TAG_SETS: dict[tuple, dict[bytes, tuple]] = {}


def _tag_sets(words: list[str], rows: np.ndarray, row_starts: np.ndarray, counts: np.ndarray, codes: np.ndarray) -> list[tuple]:
    """The tags of the rows `rows` (the first row of each series), in their order. The rows' pair
    codes are gathered in one go and cut into one bytes key per row; only keys not seen in an
    earlier file with the same words are decoded to strings."""
    if len(_TAG_SETS) > 64:
        _TAG_SETS.clear()
    known = _TAG_SETS.setdefault(tuple(words), {})
    n_pairs = counts[rows].astype(np.int64)
    ends = np.cumsum(n_pairs)
    take = np.repeat(row_starts[rows] - (ends - n_pairs), n_pairs) + np.arange(int(ends[-1]) if len(ends) else 0)
    pairs = codes.reshape(-1, 2)[take]
    blob, width = pairs.tobytes(), pairs.itemsize * 2
    bounds = [0, *ends.tolist()]
    keys = [blob[a * width : b * width] for a, b in zip(bounds[:-1], bounds[1:])]
    new = [(key, a, b) for key, a, b in zip(keys, bounds[:-1], bounds[1:]) if key not in known]
    if new:
        word_arr = np.array(words, dtype=object)
        names, values = word_arr[pairs[:, 0]].tolist(), word_arr[pairs[:, 1]].tolist()
        for key, a, b in new:
            known[key] = tuple(zip(names[a:b], values[a:b]))
    return [known[key] for key in keys]


def read_telemetry(path: str | Path, catalog: Catalog, day_ms: tuple[int, int] | None = None) -> RawBatch:
    """Read one telemetry export into a `RawBatch` (rows of `day_ms` only, when given).

    Raises `InputError` naming the file for anything that makes the file untrustworthy: unreadable or
    truncated parquet, a layout that is not a telemetry export, no rows, null or out-of-range
    timestamps, malformed tags, or a non-numeric value in a series the catalog declares numeric.
    """
    path = Path(path)
    try:
        meta = pq.read_metadata(path)
        text_paths = {c.path for c in meta.schema if c.physical_type == "BYTE_ARRAY"}
        pf = pq.ParquetFile(path, metadata=meta, read_dictionary=[c for c in _DICT_COLUMNS if c in text_paths])
        check_schema(path, pf.schema_arrow)
        if pf.metadata.num_rows == 0:
            raise InputError(path, "empty file: no rows")
        table = pf.read(columns=list(REQUIRED))
        if any(c.num_chunks > 1 for c in table.columns):
            table = table.unify_dictionaries().combine_chunks()
    except InputError:
        raise
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise InputError(path, f"corrupt or truncated parquet: {exc}") from exc
    return batch_from_long_table(path, table, catalog, day_ms)


def batch_from_long_table(path: Path, table: pa.Table, catalog: Catalog, day_ms: tuple[int, int] | None = None) -> RawBatch:
    """The canonical long table (`timestamp`, `payload_type`, `value` as text, `tags` as a list of
    [key, value] pairs) of one file -> `RawBatch`. Every reader ends here, so the checks and the
    deduplication below are the same for parquet, CSV and JSON sources."""
    ts, whole_seconds = _timestamps_ms(path, table.column("timestamp"))
    lo, hi = catalog.valid_time_range_ms
    bad = (ts < lo) | (ts >= hi)
    if bad.any():
        raise InputError(path, f"{int(bad.sum())} timestamps out of range (e.g. {int(ts[bad][0])} ms since epoch)")
    if table.column("payload_type").null_count:
        raise InputError(path, "rows without payload_type")
    if table.column("value").null_count:
        raise InputError(path, f"{table.column('value').null_count} rows have a null value")
    p_idx, p_dict = _dict_parts(table.column("payload_type"))
    v_idx, v_dict = _dict_parts(table.column("value"))
    sid, series_payload, series_tags = _row_series(path, _tags_as_pairs(table.column("tags")), p_idx, len(p_dict))
    payloads = p_dict.to_pylist()
    series = [(payloads[p], tags) for p, tags in zip(series_payload.tolist(), series_tags)]

    if day_ms is not None:
        keep = (ts >= day_ms[0]) & (ts < day_ms[1])
        if not keep.all():
            sid, ts, v_idx = sid[keep], ts[keep], v_idx[keep]
    if not _is_text(v_dict.type):  # a numeric `value` column (schema drift): same numbers, as text
        v_dict = pc.cast(v_dict, pa.string())
    numbers, is_num = _parse_numbers(v_dict)
    # Decide per series whether it is text; catalog numeric series must parse.
    row_ok = is_num[v_idx]
    series_text = np.zeros(len(series), bool)
    bad_per_series = np.bincount(sid[~row_ok], minlength=len(series)) if not row_ok.all() else None
    for i, (payload, tags) in enumerate(series):
        sig = catalog.signal(payload)
        if sig.kind == "text":
            series_text[i] = True
        elif bad_per_series is not None and bad_per_series[i]:
            if sig.known:
                example = v_dict[int(v_idx[(sid == i) & ~row_ok][0])].as_py()
                raise InputError(
                    path,
                    f"non-numeric value {example!r} in numeric series {payload} {dict(tags)} ({int(bad_per_series[i])} rows)",
                )
            series_text[i] = True  # not in the catalog and not numeric: keep it as text
    step = 1000 if whole_seconds else None
    if not series_text.any():  # the usual file: every row numeric
        num_sid, num_ts, num_val = sid.astype(np.int32), ts, numbers[v_idx]
        t_sid, t_ts, t_vidx = np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64)
    else:
        is_text_row = series_text[sid]
        nrow = ~is_text_row
        num_sid, num_ts, num_val = sid[nrow].astype(np.int32), ts[nrow], numbers[v_idx[nrow]]
        t_sid, t_ts, t_vidx = sid[is_text_row].astype(np.int32), ts[is_text_row], v_idx[is_text_row]
    keep = distinct_mask(num_sid, num_ts, num_val.view(np.int64), step)
    tkeep = distinct_mask(t_sid, t_ts, t_vidx.astype(np.int64), step)
    words = np.array(v_dict.to_pylist(), dtype=object) if len(t_sid) else np.empty(0, object)
    return RawBatch(
        series=series,
        num_sid=num_sid[keep],
        num_ts=num_ts[keep],
        num_val=num_val[keep],
        txt_sid=t_sid[tkeep],
        txt_ts=t_ts[tkeep],
        txt_val=words[t_vidx[tkeep]] if len(words) else np.empty(0, object),
        raw_rows=int(len(ts)),
        sources=[str(path)],
        spans=[(int(ts.min()), int(ts.max()))] if len(ts) else [],
    )
