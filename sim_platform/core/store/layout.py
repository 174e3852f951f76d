"""The silver layout: `{hierarchy}/YYYY/MM/DD/HH.parquet`, all UTC, and how files get there.

Names (`day_prefix`, `hour_relpath`), the metadata key every hour file carries, the folder target,
and publishing a day. Hour files are serialised in memory (`silver.encode`) and published a day at a time (`publishing`): in a local
folder the whole day (all its hierarchies and its quality report) is staged and swapped in as one
unit (`store.publish`), so a reader, a crash or a write error never leaves a day half old, half new;
a blob target uploads each file in one commit. Rewriting a day also removes the hour files of that
day that the new input no longer produces, so the output is always a pure function of the input.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Protocol

import pyarrow.parquet as pq

_HOUR_FILE = re.compile(r"^(\d{2})\.parquet$")
META_KEY = "sim_platform"


def day_prefix(hierarchy: str, day: date) -> str:
    return f"{hierarchy}/{day:%Y/%m/%d}"


def hour_relpath(hierarchy: str, day: date, hour: int) -> str:
    return f"{day_prefix(hierarchy, day)}/{hour:02d}.parquet"


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
        from sim_platform.core.store.publish import write_bytes_atomic

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
    from sim_platform.core.store.publish import DayPublisher

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
