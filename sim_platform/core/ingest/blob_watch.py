"""What the blob sensor decides, without Dagster: which blobs are new or changed since the cursor,
and which UTC days they belong to, from one listing.

Cursor = a watermark (greatest last-modified seen) plus every (name, etag) seen within a grace
window below it. A blob is considered when its last-modified is at or after `watermark - grace`
and its (name, etag) has not been seen: equal timestamps never hide a second blob (names are part
of the key), a blob arriving late with an older timestamp (a local copy keeping its mtime, clock
skew between uploaders) is still found within the grace window, and a changed blob (new etag)
counts again. Memory stays bounded: entries older than the window are dropped.

Days come from the blob's name when it carries one (the exporter's `YYYY/MM/DD/` folders and
`...-YYYY-MM-DD-...` file names): no download, no read. A name without a date (an HDF5 run file,
a CSV without a dated folder) is dated from its cached copy's metadata (`core.ingest.plan.file_days`:
parquet footer statistics, the run file's start/end attributes), never from its rows of samples.
Which blobs count, and how each is read, is the configured sources' business (`landing.blob_source`).

There is no per-tick cap: every new blob of the listing is dated in the same tick, so a day is
requested once with all of its listed files (a cap used to split a day over two ticks and build it
twice, the first time from part of its input). The run key of a day is a digest of ALL of its
listed (name, etag) pairs, so the same set never runs twice and any change re-runs the day.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sim_platform.storage import BlobInfo

GRACE = timedelta(minutes=15)
_DATE = re.compile(r"(?<!\d)(20\d{2})[/-](\d{2})[/-](\d{2})(?!\d)")


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

    def new_blobs(self, blobs: Iterable[BlobInfo]) -> list[BlobInfo]:
        """Unseen (name, etag) pairs inside the window, oldest first (ties by name)."""
        floor = self.watermark - GRACE if self.watermark else None
        fresh = [b for b in blobs if (floor is None or b.last_modified >= floor) and self.seen.get(b.name, ("",))[0] != b.etag]
        return sorted(fresh, key=lambda b: (b.last_modified, b.name))

    def advance(self, processed: Iterable[BlobInfo]) -> None:
        for b in processed:
            self.seen[b.name] = (b.etag, b.last_modified.isoformat())
            if self.watermark is None or b.last_modified > self.watermark:
                self.watermark = b.last_modified
        if self.watermark:
            floor = self.watermark - GRACE
            self.seen = {k: v for k, v in self.seen.items() if datetime.fromisoformat(v[1]) >= floor}


def days_in_name(name: str) -> tuple[date, ...]:
    """Days a blob name states: exporter folders `YYYY/MM/DD/` or file names with `YYYY-MM-DD`."""
    out = set()
    for y, m, d in _DATE.findall(name):
        try:
            out.add(date(int(y), int(m), int(d)))
        except ValueError:
            continue
    return tuple(sorted(out))


@dataclass
class Landed:
    """New blobs grouped by UTC day, for one sensor tick."""

    days: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # day -> new "name@etag"
    unreadable: list[str] = field(default_factory=list)  # "name: reason" (no day can be named for it)
    undated: list[BlobInfo] = field(default_factory=list)  # not dated yet (download failed): retried

    def day_keys(self) -> list[str]:
        return sorted(self.days)


def group_by_day(fresh: list[BlobInfo], date_unnamed: Callable[[BlobInfo], tuple[date, ...] | None]) -> Landed:
    """Days of each new blob: from its name, else from `date_unnamed(blob)` (metadata of a cached
    copy; None when the copy could not be made this tick, InputError/OSError when it is unusable)."""
    from sim_platform.core.ingest.rawdata import InputError

    out = Landed()
    for b in fresh:
        days = days_in_name(b.name)
        if not days:
            try:
                found = date_unnamed(b)
            except (InputError, OSError) as exc:
                out.unreadable.append(f"{b.name}: {exc}")
                continue
            if found is None:
                out.undated.append(b)
                continue
            days = found
        for d in days:
            out.days[d.isoformat()].append(f"{b.name}@{b.etag}")
    return out


def listed_by_day(listing: Iterable[BlobInfo]) -> dict[str, set[str]]:
    """`name@etag` of every listed blob whose name states a day, per day."""
    out: dict[str, set[str]] = defaultdict(set)
    for b in listing:
        for d in days_in_name(b.name):
            out[d.isoformat()].add(f"{b.name}@{b.etag}")
    return out


def digest(entries: Iterable[str]) -> str:
    """A short, order-free digest of `name@etag` entries (a day's run key)."""
    return hashlib.sha1("\n".join(sorted(set(entries))).encode()).hexdigest()[:16]
