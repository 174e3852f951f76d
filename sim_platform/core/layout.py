"""The silver layout: `{hierarchy}/YYYY/MM/DD/HH.parquet`, all UTC, and how files get there.

Hour files are serialised in memory and published a day at a time (`publishing`): in a local
folder the whole day (all its hierarchies and its quality report) is staged and swapped in as one
unit (`core.publish`), so a reader, a crash or a write error never leaves a day half old, half new;
a blob target uploads each file in one commit. Rewriting a day also removes the hour files of that
day that the new input no longer produces, so the output is always a pure function of the input.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from sim_platform.core.resample import BINS_PER_HOUR, HierarchyDay

_HOUR_FILE = re.compile(r"^(\d{2})\.parquet$")
#: Hour files are small (720 rows); per-file overhead dominates, so no dictionary pages, no statistics
#: and no serialised Arrow schema (types come from parquet logical types; column facts from META_KEY).
PARQUET_OPTIONS = dict(compression="snappy", use_dictionary=False, write_statistics=False, store_schema=False)
META_KEY = "sim_platform"


def day_prefix(hierarchy: str, day: date) -> str:
    return f"{hierarchy}/{day:%Y/%m/%d}"


def hour_relpath(hierarchy: str, day: date, hour: int) -> str:
    return f"{day_prefix(hierarchy, day)}/{hour:02d}.parquet"


def day_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


class OutputTarget(Protocol):
    """Where hour files go: a local folder here, a blob container in the Dagster layer."""

    def put(self, relpath: str, data: bytes) -> None: ...
    def list_day(self, prefix: str) -> list[str]: ...
    def delete(self, relpath: str) -> None: ...


class LocalTarget:
    """A folder on disk; every file appears by an atomic rename of a hidden temporary file."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def put(self, relpath: str, data: bytes) -> None:
        write_bytes_atomic(self.root / relpath, data)

    def list_day(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(f"{prefix}/{p.name}" for p in folder.iterdir() if _HOUR_FILE.match(p.name))

    def delete(self, relpath: str) -> None:
        (self.root / relpath).unlink(missing_ok=True)

    def get(self, relpath: str) -> bytes:
        return (self.root / relpath).read_bytes()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that `path` is either absent, the old file, or the complete new one
    (fsynced before the rename, and the folder after it; see `publish.DURABLE`)."""
    from sim_platform.core.publish import fsync_path, write_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        write_file(tmp, data)
        os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def parse_meta(raw: bytes | str | None) -> dict:
    """The metadata of an hour file as written by `file_meta`, with every column's facts listed."""
    if not raw:
        return {}
    meta = json.loads(raw)
    for group in meta.pop("uncatalogued", []):
        payloads = group.get("payloads", {})
        for name, n in zip(group["columns"], group["real_bins"]):
            meta["columns"][name] = {"payload_type": payloads.get(name, name), **group["facts"]}
            meta["real_bins"][name] = n
    return meta


def read_file_meta(path: str | Path) -> dict:
    """The column facts an hour file carries (`hierarchy`, `columns`: payload type, unit, ...)."""
    kv = pq.read_metadata(path).metadata or {}
    return parse_meta(kv.get(META_KEY.encode()))


def hour_tables(hd: HierarchyDay) -> Iterable[tuple[int, pa.Table]]:
    for hour in hd.hours:
        yield hour, hd.table.slice(hour * BINS_PER_HOUR, BINS_PER_HOUR)


class DirectPublisher:
    """Publishing into a target that has no folders to swap (a blob container): each file is put
    atomically (one commit per blob), then the stale hour files of the written hierarchies are
    deleted. The unit of atomicity is a file, not a day (see docs/storage)."""

    def __init__(self, target: OutputTarget, day: date, hierarchies: list[str]):
        self.target, self.day, self.hierarchies = target, day, hierarchies
        self.files: list[str] = []

    def put(self, relpath: str, data: bytes) -> None:
        self.target.put(relpath, data)
        self.files.append(relpath)

    def commit(self) -> None:
        keep = set(self.files)
        for h in self.hierarchies:
            for rel in self.target.list_day(day_prefix(h, self.day)):
                if rel not in keep:
                    self.target.delete(rel)

    def abort(self) -> None:
        pass


@contextmanager
def publishing(target: OutputTarget, day: date, hierarchies: list[str] | None = None):
    """Write a day's files (`.put`) and make them appear as one unit when the block ends; on an
    error nothing of them appears and the previous output stays. `hierarchies=None`: the whole day
    (hierarchies without new output lose their old files too); a list: only those."""
    from sim_platform.core.publish import DayPublisher

    if isinstance(target, LocalTarget):
        pub = DayPublisher(target.root, day, hierarchies)
    else:
        pub = DirectPublisher(target, day, hierarchies or [])
    try:
        yield pub
    except BaseException:
        pub.abort()
        raise
    pub.commit()


def put_hierarchy_day(pub, hd: HierarchyDay, day: date) -> list[str]:
    """Encode and put the hour files of one (hierarchy, day); returns the paths written."""
    written = []
    for hour, table in hour_tables(hd):
        rel = hour_relpath(hd.hierarchy, day, hour)
        pub.put(rel, table_to_parquet_bytes(table, file_meta(hd, hour)))
        written.append(rel)
    return written


@dataclass
class StoredDay:
    """The hour files of one (hierarchy, day) read back: the table of the hours present (in time
    order) and, summed over them, the bins with a real sample (`real_bins`, per column and `*any*`)."""

    table: pa.Table
    hours: list[int]
    real_bins: dict[str, int]
    columns: dict[str, dict[str, str]]


def read_stored_day(target, hierarchy: str, day: date) -> StoredDay | None:
    """Read a (hierarchy, day) back through any target with `list_day` and `get` (folder or container)."""
    rels = target.list_day(day_prefix(hierarchy, day))
    if not rels:
        return None
    tables, hours, real, columns = [], [], {}, {}
    for rel in rels:
        pf = pq.ParquetFile(io.BytesIO(target.get(rel)))
        meta = parse_meta((pf.metadata.metadata or {}).get(META_KEY.encode()))
        for col, n in meta.get("real_bins", {}).items():
            real[col] = real.get(col, 0) + int(n)
        columns.update(meta.get("columns", {}))
        tables.append(pf.read())
        hours.append(int(rel.rsplit("/", 1)[1][:2]))
    return StoredDay(pa.concat_tables(tables, promote_options="permissive"), hours, real, columns)


def read_hierarchy_day(root: str | Path, hierarchy: str, day: date) -> pa.Table | None:
    """All hour files of one (hierarchy, day) from a local output folder, in time order."""
    folder = Path(root) / day_prefix(hierarchy, day)
    files = sorted(p for p in folder.glob("*.parquet") if _HOUR_FILE.match(p.name)) if folder.is_dir() else []
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
