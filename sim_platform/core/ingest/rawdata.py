"""The canonical long form every reader produces, whatever the file format.

A `RawBatch` is one file's samples for one UTC day, already split into numeric and text samples
and keyed by series (payload type + tags), so the resampler never sees a format-specific detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim_platform.core.config.catalog import Tags
from sim_platform.core.text import shorten

SeriesKey = tuple[str, Tags]  # (payload_type, tags in their original order)


class InputError(Exception):
    """A bad input file: the message names the file and the problem (one short line)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = shorten(reason)
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):  # errors travel back from worker processes
        return (type(self), (self.path, self.reason))


@dataclass
class Flagged:
    """Numeric samples that broke a value rule when their file was read (see `core.silver.quality`).

    They are few, so they travel with the batch as plain arrays: which column, when, what value,
    which rule (`out_of_range` or `non_finite`), what was done (`keep`, `null` or `fail`) and the
    file they came from. The day's report deduplicates them across files before counting.
    """

    column: np.ndarray  # object: "hierarchy/column"
    payload: np.ndarray  # object: the payload type (its catalog entry gives the bounds)
    ts: np.ndarray  # int64 ms
    value: np.ndarray  # float64
    rule: np.ndarray  # object
    action: np.ndarray  # object
    file: np.ndarray  # object

    @classmethod
    def empty(cls) -> Flagged:
        o = np.empty(0, object)
        return cls(o, o, np.empty(0, np.int64), np.empty(0, np.float64), o, o, o)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def concat(cls, parts: list[Flagged]) -> Flagged:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("column", "payload", "ts", "value", "rule", "action", "file")
            )
        )


@dataclass
class RawBatch:
    """Samples of one input file (or a whole day after `concat`), distinct within the batch.

    `num_*` arrays hold numeric samples, `txt_*` arrays text samples; `*_sid` index `series`.
    Timestamps are int64 milliseconds since the epoch, UTC.
    """

    series: list[SeriesKey]
    num_sid: np.ndarray
    num_ts: np.ndarray
    num_val: np.ndarray
    txt_sid: np.ndarray
    txt_ts: np.ndarray
    txt_val: np.ndarray  # object array of str
    raw_rows: int = 0
    sources: list[str] = field(default_factory=list)
    flagged: Flagged = field(default_factory=Flagged.empty)
    #: [first, last] timestamp of each source, when every source's rows are distinct (a reader's
    #: batch): a repeat of another source's row can only lie in time two spans share, so the day's
    #: merge deduplicates only there (`shared_time`, `merged_distinct`). Empty: unknown, every row.
    spans: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def empty(cls) -> RawBatch:
        return cls(
            [],
            np.empty(0, np.int32),
            np.empty(0, np.int64),
            np.empty(0, np.float64),
            np.empty(0, np.int32),
            np.empty(0, np.int64),
            np.empty(0, object),
        )

    @property
    def rows(self) -> int:
        return len(self.num_ts) + len(self.txt_ts)


def select_series(batch: RawBatch, ids: np.ndarray) -> RawBatch:
    """The samples of the series `ids` (ascending), renumbered; rows keep their order."""
    remap = np.full(len(batch.series), -1, np.int32)
    remap[ids] = np.arange(len(ids), dtype=np.int32)
    num = remap[batch.num_sid] if len(batch.num_sid) else np.empty(0, np.int32)
    txt = remap[batch.txt_sid] if len(batch.txt_sid) else np.empty(0, np.int32)
    nk, tk = num >= 0, txt >= 0
    return RawBatch(
        [batch.series[i] for i in ids],
        num[nk],
        batch.num_ts[nk],
        batch.num_val[nk],
        txt[tk],
        batch.txt_ts[tk],
        batch.txt_val[tk],
        sources=batch.sources,
        spans=batch.spans,
    )


def concat_batches(batches: list[RawBatch]) -> RawBatch:
    """Merge batches, re-indexing series so equal keys share one id across files."""
    index: dict[SeriesKey, int] = {}
    num_sid, txt_sid = [], []
    for b in batches:
        remap = np.array([index.setdefault(k, len(index)) for k in b.series] or [0], dtype=np.int32)
        num_sid.append(remap[b.num_sid] if len(b.num_sid) else b.num_sid)
        txt_sid.append(remap[b.txt_sid] if len(b.txt_sid) else b.txt_sid)
    if not batches:
        return RawBatch.empty()
    return RawBatch(
        series=list(index),
        num_sid=np.concatenate(num_sid).astype(np.int32, copy=False),
        num_ts=np.concatenate([b.num_ts for b in batches]),
        num_val=np.concatenate([b.num_val for b in batches]),
        txt_sid=np.concatenate(txt_sid).astype(np.int32, copy=False),
        txt_ts=np.concatenate([b.txt_ts for b in batches]),
        txt_val=np.concatenate([b.txt_val for b in batches]),
        raw_rows=sum(b.raw_rows for b in batches),
        sources=[s for b in batches for s in b.sources],
        flagged=Flagged.concat([b.flagged for b in batches]),
        spans=[s for b in batches for s in b.spans] if all(len(b.spans) == len(b.sources) for b in batches) else [],
    )


def shared_time(batch: RawBatch, ts: np.ndarray) -> np.ndarray | None:
    """Which rows lie in a time span that two of the batch's sources share: only those can repeat a
    row of another source (each source's own rows are distinct). The plant's exports cover
    consecutive windows that meet at one second, so this is a sliver of the day. None: the sources'
    spans are not known, every row may repeat one."""
    if not batch.spans or len(batch.spans) != len(batch.sources):
        return None
    spans = sorted(batch.spans)
    shared: list[list[int]] = []
    reach = spans[0][1]
    for lo, hi in spans[1:]:
        if lo <= reach:
            end = min(hi, reach)
            if shared and lo <= shared[-1][1]:
                shared[-1][1] = max(shared[-1][1], end)
            else:
                shared.append([lo, end])
        reach = max(reach, hi)
    if not shared:
        return np.zeros(len(ts), bool)
    starts = np.array([s for s, _ in shared], np.int64)
    ends = np.array([e for _, e in shared], np.int64)
    i = np.searchsorted(starts, ts, side="right") - 1
    return (i >= 0) & (ts <= ends[np.maximum(i, 0)])


def distinct_rows(sid: np.ndarray, ts: np.ndarray, val_key: np.ndarray, candidates: np.ndarray | None) -> np.ndarray:
    """`distinct_mask`, where only the `candidates` rows can be repeats (None: any row can)."""
    if candidates is None:
        return distinct_mask(sid, ts, val_key)
    keep = np.ones(len(ts), bool)
    rows = np.flatnonzero(candidates)
    if len(rows):
        keep[rows] = distinct_mask(sid[rows], ts[rows], val_key[rows])
    return keep


def merged_distinct(batch: RawBatch, text_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The day's merge of readers' batches: which numeric and which text rows (`text_key`: a code
    per text value) are distinct. Each source's rows are distinct already, so only rows in time two
    sources share are compared (all rows when the spans are not known)."""
    keep_num = distinct_rows(batch.num_sid, batch.num_ts, batch.num_val.view(np.int64), shared_time(batch, batch.num_ts))
    keep_txt = distinct_rows(batch.txt_sid, batch.txt_ts, text_key, shared_time(batch, batch.txt_ts))
    return keep_num, keep_txt


def numpy_view(arr) -> np.ndarray:
    """An Arrow array (or chunked array) of integers, floats or timestamps as numpy: a zero-copy,
    read-only view when it has no nulls, like `Array.to_numpy()` (timestamps as int64).

    Why not `to_numpy()` itself: pyarrow's conversion imports pandas the first time it runs
    (0.12 s of a process), and the ETL's reading, resampling and writing never build a DataFrame.
    Anything else (nulls, booleans, strings) goes through `to_numpy(zero_copy_only=False)`."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    t = arr.type
    if pa.types.is_timestamp(t):
        dtype = np.dtype(np.int64)
    elif pa.types.is_integer(t):
        dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(t) else 'u'}{t.bit_width // 8}")
    elif pa.types.is_float32(t) or pa.types.is_float64(t):
        dtype = np.dtype(f"f{t.bit_width // 8}")
    else:
        dtype = None
    if dtype is None or arr.null_count:
        return arr.to_numpy(zero_copy_only=False)
    data = arr.buffers()[1]
    if data is None:  # an empty array may carry no buffer
        return np.empty(0, dtype)
    return np.frombuffer(data, dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def arrow_view(values: np.ndarray, valid: np.ndarray | None = None):
    """A numpy array of numbers as an Arrow array over the same memory (null where `valid` is
    False): `pa.array(values, mask=~valid)` without the pandas import (see `numpy_view`)."""
    import pyarrow as pa

    if values.dtype.kind not in "iuf":  # booleans are bits in Arrow, bytes in numpy: no shared memory
        return pa.array(values, mask=None if valid is None else ~valid)
    values = np.ascontiguousarray(values)
    validity, nulls = None, 0
    if valid is not None:
        nulls = len(values) - int(np.count_nonzero(valid))
        if nulls:
            validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [validity, pa.py_buffer(values)], nulls)


def arrow_strings(words: list[str]):
    """Python strings as an Arrow string array, built from its buffers: `pa.array(words)` would
    import pandas (see `numpy_view`)."""
    import pyarrow as pa

    data = [w.encode() for w in words]
    offsets = np.zeros(len(data) + 1, np.int32)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int64, numbered in order of first appearance) and the distinct values, like
    `pandas.factorize`, from Arrow's hash kernel: about twice as fast on the readers' keys."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(arrow_view(values))
    return numpy_view(encoded.indices).astype(np.int64), numpy_view(encoded.dictionary)


def distinct_mask(sid: np.ndarray, ts: np.ndarray, val_key: np.ndarray, step: int | None = None) -> np.ndarray:
    """True for the first occurrence of each distinct (series, timestamp, value) row.

    Linear: rows are grouped by (series, timestamp), and a row is a duplicate when its value equals
    the value first seen for its group. Groups that really carry two different values (never seen
    in the sample data, but possible) keep one row per distinct value. The groups are numbered by
    a dense table when series x time steps is small (one file: a few hundred series over a quarter
    of an hour of whole seconds), which is three times faster than hashing; else by hashing.
    `step`: a divisor of every timestamp, when the caller knows one (epoch seconds: 1000 ms);
    else it is found here.
    """
    n = len(ts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    first = _first_of_group(sid.astype(np.int64, copy=False), ts, step)
    keep = first == np.arange(n)
    conflict = val_key != val_key[first]
    if conflict.any():
        import pandas as pd

        rows = np.flatnonzero(conflict)
        frame = pd.DataFrame({"k": first[rows], "v": val_key[rows]})
        keep[rows[~frame.duplicated().to_numpy()]] = True
    return keep


def _first_of_group(sid: np.ndarray, ts: np.ndarray, step: int | None) -> np.ndarray:
    """For every row, the first row with its (series, timestamp)."""
    n = len(ts)
    lo, hi = int(ts.min()), int(ts.max())
    if step is None:
        step = 1000 if not np.any(ts % 1000) else 1
    steps = (hi - lo) // step + 1
    n_sid = int(sid.max()) + 1
    rows = np.arange(n - 1, -1, -1, dtype=np.int32 if n < 1 << 31 else np.int64)
    if n_sid * steps <= max(4 * n, 1 << 20):
        key = sid * np.int64(steps) + (ts - lo) // step
        table = np.empty(n_sid * steps, rows.dtype)  # only slots some row has are written, then read
        table[key[::-1]] = rows  # the last write per slot is its first row
        return table[key]
    if n_sid >= 1 << 20:  # any series identity, made small enough to share an int64 with the time
        sid = factorize(sid)[0]
    codes, uniques = factorize(sid * np.int64(1 << 43) + (ts - lo))
    first = np.empty(len(uniques), dtype=rows.dtype)
    first[codes[::-1]] = rows
    return first[codes]
