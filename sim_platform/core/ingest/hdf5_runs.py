"""The HDF5 layout of a simulation run file, and its reader.

A run is a folder `run_XX/` of files `sample_YY.h5`; each file holds the raw samples of one stretch
of simulated time (the generator writes one file per simulated day). Layout, schema version 1:

    /                       attrs: layout="sim_platform.run", schema_version=1, run_id, sample,
                                   start_ms, end_ms (int64, [start, end) covered, ms since epoch UTC),
                                   time_unit="ms", generator, seed, series_count
    /series/<name>/         one group per raw series; <name> = "<hierarchy>__<column>" (the catalog's
                            naming rule, informative only: the attributes are authoritative)
        attrs: payload_type, tags (JSON list of [key, value] pairs), unit, kind ("numeric"|"text")
        timestamp           int64 [n]   ms since 1970-01-01T00:00:00Z, non-decreasing
        value               float64 [n] (numeric) or variable-length UTF-8 string [n] (text)

Datasets are chunked and gzip-compressed with the shuffle filter, so `h5dump -H` shows the layout and
plain h5py reads any series without the rest. Duplicated rows are kept as the source produced them:
deduplication is the ETL's job, as for telemetry exports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim_platform.core.config.catalog import Catalog, SeriesError
from sim_platform.core.ingest.rawdata import InputError, RawBatch

LAYOUT = "sim_platform.run"
SCHEMA_VERSION = 1
_COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True)


def write_run_file(
    path: str | Path,
    series: list[tuple[str, tuple[tuple[str, str], ...], np.ndarray, np.ndarray]],
    catalog: Catalog,
    start_ms: int,
    end_ms: int,
    attrs: dict | None = None,
) -> None:
    """Write one run file. `series` items are (payload_type, tags, timestamps_ms, values)."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs.update(
                {
                    "layout": LAYOUT,
                    "schema_version": SCHEMA_VERSION,
                    "start_ms": np.int64(start_ms),
                    "end_ms": np.int64(end_ms),
                    "time_unit": "ms",
                    "series_count": len(series),
                    **(attrs or {}),
                }
            )
            root = f.create_group("series", track_order=True)
            for payload, tags, ts, values in series:
                info = catalog.place(payload, tags)
                g = root.create_group(f"{info.hierarchy}__{info.column}")
                g.attrs.update(
                    payload_type=payload,
                    tags=json.dumps([list(t) for t in tags]),
                    unit=info.signal.unit,
                    kind=info.signal.kind,
                )
                n = len(ts)
                chunks = (min(max(n, 1), 65536),)
                g.create_dataset("timestamp", data=np.asarray(ts, np.int64), chunks=chunks, **_COMPRESSION)
                if info.signal.kind == "text":
                    g.create_dataset(
                        "value",
                        data=np.asarray(values, dtype=object),
                        dtype=h5py.string_dtype("utf-8"),
                        chunks=chunks,
                        **_COMPRESSION,
                    )
                else:
                    g.create_dataset("value", data=np.asarray(values, np.float64), chunks=chunks, **_COMPRESSION)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def run_time_range_ms(path: str | Path) -> tuple[int, int]:
    """[start, end) of a run file from its root attributes (InputError if it is not our layout)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            _check_root(path, f)
            return int(f.attrs["start_ms"]), int(f.attrs["end_ms"])
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(path, f"corrupt or truncated HDF5: {exc}") from exc


def _check_root(path, f) -> None:
    if f.attrs.get("layout") != LAYOUT:
        raise InputError(path, f"unknown layout: HDF5 file without layout={LAYOUT!r} attribute")
    version = int(f.attrs.get("schema_version", -1))
    if version != SCHEMA_VERSION:
        raise InputError(path, f"unknown layout: schema_version {version}, this reader knows {SCHEMA_VERSION}")
    for key in ("start_ms", "end_ms"):
        if key not in f.attrs:
            raise InputError(path, f"unknown layout: root attribute {key!r} missing")
    if "series" not in f:
        raise InputError(path, "unknown layout: no /series group")


def read_run_file(path: str | Path, catalog: Catalog, day_ms: tuple[int, int] | None = None) -> RawBatch:
    """Read one run file into a `RawBatch` (rows of `day_ms` only, when given)."""
    import h5py

    path = Path(path)
    lo_ok, hi_ok = catalog.valid_time_range_ms
    series, num, txt = [], [], []
    raw_rows = 0
    try:
        with h5py.File(path, "r") as f:
            _check_root(path, f)
            start, end = int(f.attrs["start_ms"]), int(f.attrs["end_ms"])
            if start < lo_ok or end > hi_ok:
                raise InputError(path, f"time range [{start}, {end}) ms is out of the valid range")
            for name, g in f["series"].items():
                try:
                    payload = str(g.attrs["payload_type"])
                    tags = tuple(tuple(str(x) for x in t) for t in json.loads(g.attrs["tags"]))
                    ts = g["timestamp"][()]
                    values = g["value"]
                except (KeyError, ValueError, TypeError) as exc:
                    raise InputError(path, f"unknown layout in /series/{name}: {exc}") from exc
                if ts.dtype.kind not in "iu" or ts.ndim != 1 or values.shape != ts.shape:
                    raise InputError(path, f"/series/{name}: timestamp must be int64 [n] and value [n]")
                if len(ts) and (ts.min() < start or ts.max() >= end):
                    raise InputError(path, f"/series/{name}: timestamps outside the file's [start_ms, end_ms)")
                try:
                    kind = catalog.place(payload, tags).signal.kind
                except SeriesError as exc:
                    raise InputError(path, str(exc)) from exc
                sel = slice(None)
                if day_ms is not None:
                    sel = (ts >= day_ms[0]) & (ts < day_ms[1])
                    ts = ts[sel]
                raw_rows += len(ts)
                if not len(ts):
                    continue
                sid = len(series)
                series.append((payload, tags))
                if values.dtype.kind in "OSU":
                    vals = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values[()][sel]], dtype=object)
                    if kind == "text" or not _all_numeric(vals):
                        if kind != "text" and catalog.signal(payload).known:
                            bad = next(v for v in vals if not _is_number(v))
                            raise InputError(path, f"non-numeric value {bad!r} in numeric series {payload} {dict(tags)}")
                        txt.append((np.full(len(ts), sid, np.int32), ts.astype(np.int64), vals))
                        continue
                    vals = vals.astype(np.float64)
                else:
                    if values.dtype.kind not in "fiu":
                        raise InputError(path, f"/series/{name}: value dtype {values.dtype} is not numeric or text")
                    if kind == "text":
                        raise InputError(path, f"/series/{name}: text series {payload} stored as numbers")
                    vals = values[()][sel].astype(np.float64)
                ts, vals = _drop_adjacent_repeats(ts.astype(np.int64), vals)
                num.append((np.full(len(ts), sid, np.int32), ts, vals))
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(path, f"corrupt or truncated HDF5: {exc}") from exc
    return _batch(series, num, txt, raw_rows, str(path))


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _all_numeric(vals: np.ndarray) -> bool:
    return all(_is_number(v) for v in vals)


def _batch(series, num, txt, raw_rows: int, source: str) -> RawBatch:
    def cat(parts, i, dtype):
        return np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype)

    b = RawBatch(
        series,
        cat(num, 0, np.int32),
        cat(num, 1, np.int64),
        cat(num, 2, np.float64),
        cat(txt, 0, np.int32),
        cat(txt, 1, np.int64),
        cat(txt, 2, object),
        raw_rows=raw_rows,
        sources=[source],
    )
    return b


def _drop_adjacent_repeats(ts: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop a row equal to the row before it: cheap, since a series' rows are in time order.

    Repeats that are not adjacent stay; the day-level deduplication removes them.
    """
    if len(ts) < 2:
        return ts, vals
    bits = vals.view(np.int64)
    keep = np.ones(len(ts), bool)
    keep[1:] = (ts[1:] != ts[:-1]) | (bits[1:] != bits[:-1])
    return ts[keep], vals[keep]
