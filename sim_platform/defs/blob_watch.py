"""What the blob sensor decides, without Dagster: which blobs are new or changed since the cursor,
and which UTC days and phase_modules they affect.

Cursor = a watermark (greatest last-modified seen) plus every (name, etag) seen within a grace
window below it. A blob is considered when its last-modified is at or after `watermark - grace`
and its (name, etag) has not been seen: equal timestamps never hide a second blob (names are part
of the key), a blob arriving late with an older timestamp (a local copy keeping its mtime, clock
skew between uploaders) is still found within the grace window, and a changed blob (new etag)
counts again. Memory stays bounded: entries older than the window are dropped.

Which blobs count, and how each is read, is the configured sources' business (`landing.blob_source`).
Days come from the file's metadata (`core.inputs.file_days`), phase_modules from its series
(`core.etl.read_file` + `Catalog.place`). A file whose days cannot be read is reported, not
retried forever: its day cannot be named, so nothing can be requested for it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sim_platform.core.catalog import Catalog
from sim_platform.core.etl import read_file
from sim_platform.core.inputs import InputFile, file_days
from sim_platform.core.rawdata import InputError
from sim_platform.core.sources import SourceFormat
from sim_platform.storage import BlobInfo

GRACE = timedelta(minutes=15)


@dataclass
class BlobCursor:
    watermark: datetime | None = None
    seen: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (etag, last_modified iso)

    @classmethod
    def parse(cls, text: str | None) -> BlobCursor:
        if not text:
            return cls()
        raw = json.loads(text)
        wm = datetime.fromisoformat(raw["watermark"]) if raw.get("watermark") else None
        return cls(wm, {k: tuple(v) for k, v in raw.get("seen", {}).items()})

    def dump(self) -> str:
        return json.dumps(
            {"watermark": self.watermark.isoformat() if self.watermark else None, "seen": self.seen}, sort_keys=True
        )

    def new_blobs(self, blobs: list[BlobInfo], limit: int) -> list[BlobInfo]:
        """Unseen (name, etag) pairs inside the window, oldest first, at most `limit`."""
        floor = self.watermark - GRACE if self.watermark else None
        fresh = [b for b in blobs if (floor is None or b.last_modified >= floor) and self.seen.get(b.name, ("",))[0] != b.etag]
        return sorted(fresh, key=lambda b: (b.last_modified, b.name))[:limit]

    def advance(self, processed: list[BlobInfo]) -> None:
        for b in processed:
            self.seen[b.name] = (b.etag, b.last_modified.isoformat())
            if self.watermark is None or b.last_modified > self.watermark:
                self.watermark = b.last_modified
        if self.watermark:
            floor = self.watermark - GRACE
            self.seen = {k: v for k, v in self.seen.items() if datetime.fromisoformat(v[1]) >= floor}


@dataclass
class Affected:
    """Days and phase_modules touched by a set of blobs, and a digest of (name, etag) per day."""

    days: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    blobs_by_day: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unreadable: list[str] = field(default_factory=list)

    def digest(self, day: str) -> str:
        return hashlib.sha1("\n".join(sorted(self.blobs_by_day[day])).encode()).hexdigest()[:16]


def affected_by(blobs: list[tuple[BlobInfo, SourceFormat]], cache: Path, catalog: Catalog) -> Affected:
    """Read each blob's cached copy (`cache / blob name`) for its days and hierarchies."""
    out = Affected()
    for b, source in blobs:
        path = cache / b.name
        try:
            days = file_days(path, source.kind, catalog, source)
        except (InputError, OSError) as exc:
            out.unreadable.append(f"{b.name}: {exc}")
            continue
        info = InputFile(path, source.kind, b.size, days, source)
        for d in days:
            key = d.isoformat()
            out.blobs_by_day[key].append(f"{b.name}@{b.etag}")
            try:
                batch = read_file(info, d, catalog)
                out.days[key] |= {catalog.place(p, t).hierarchy for p, t in batch.series}
            except InputError as exc:  # the day still runs, so that its failure is reported clearly
                out.days[key] |= set()
                out.unreadable.append(f"{b.name}: {exc}")
    return out


def contiguous_blocks(wanted: set[str], order: list[str]) -> list[tuple[str, str]]:
    """Runs of consecutive keys of `order` that are all in `wanted`, as (first, last)."""
    blocks, start, prev = [], None, None
    for key in order:
        if key in wanted:
            start = start or key
            prev = key
        elif start is not None:
            blocks.append((start, prev))
            start = None
    if start is not None:
        blocks.append((start, prev))
    return blocks


def parse_day(text: str) -> date:
    return date.fromisoformat(text)


def utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
