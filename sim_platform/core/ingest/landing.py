"""Where each configured source's files are on local disk, so every reader works on plain files.

A source in a local folder is read in place. A source under a blob prefix is read from the local
cache of that prefix (`<cache>/<prefix>/...`, the blob's name below the cache root), which
`fetch_blob_sources` brings up to date with `sync_down`: only missing or changed blobs move,
verified by MD5. Prefixes nested in another are fetched once, with the outer one.

A run of some days fetches and plans only the files that may hold them (`may_hold`): a name that
states a day within `NAME_DAY_MARGIN` of one of them, or a name that states none (an HDF5 run,
dated by its metadata). So a bronze run of one day lists the container once and verifies that
day's blobs, whatever the container holds besides.

`landed_days` is where the data is: the first and last day the sources' blobs are named for, and
whether the plant is live (its newest day within `LIVE_WITHIN_DAYS` of today) or a replay.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

from sim_platform.core.config.pipelines import Pipelines
from sim_platform.core.config.sources import SourceFormat, claim
from sim_platform.core.ingest.blob_watch import days_in_name
from sim_platform.core.ingest.plan import SourceRoot
from sim_platform.storage import BlobStore, SyncReport, sync_down


def source_roots(pipes: Pipelines, cache_dir: Path, names: list[str] | None = None) -> list[SourceRoot]:
    """(folder, source) per configured source (or per source of `names`), in configuration order."""
    out = []
    for fmt in pipes.source_formats(names):
        loc = pipes.location(fmt.name)
        out.append((pipes.folder(loc) if loc.folder is not None else Path(cache_dir) / loc.prefix, fmt))
    return out


def blob_prefixes(pipes: Pipelines, names: list[str] | None = None) -> list[str]:
    """Distinct blob prefixes of the (named) sources, none nested in another."""
    wanted = {f.name for f in pipes.source_formats(names)}
    prefixes = sorted({pipes.location(n).prefix for n in wanted if pipes.location(n).blob_prefix is not None})
    return [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]


#: an exporter's file named for a day holds samples of that day or of the day before or after it
NAME_DAY_MARGIN = 1


def near_days(days: Iterable[date]) -> frozenset[date]:
    """`days` and the days within `NAME_DAY_MARGIN` of them: the names a file of `days` may carry."""
    return frozenset(d + timedelta(days=k) for d in days for k in range(-NAME_DAY_MARGIN, NAME_DAY_MARGIN + 1))


def may_hold(name: str, near: frozenset[date]) -> bool:
    """Whether a raw file or blob (its name below the source's root) may hold samples of the days
    whose `near_days` are `near`: its name states one of them, or no day at all."""
    named = days_in_name(name)
    return not named or any(d in near for d in named)


def fetch_blob_sources(
    store: BlobStore,
    pipes: Pipelines,
    cache_dir: Path,
    names: list[str] | None = None,
    log_dir: Path | None = None,
    days: Iterable[date] | None = None,
    **sync_options,
) -> list[SyncReport]:
    """Bring the cache of every blob-prefix source up to date; one report per prefix. With `days`,
    only the blobs that may hold them (`may_hold`) are verified and fetched."""
    near = near_days(days) if days is not None else None
    select = (lambda b: may_hold(b.name, near)) if near is not None else None
    reports = []
    for prefix in blob_prefixes(pipes, names):
        (Path(cache_dir) / prefix).mkdir(parents=True, exist_ok=True)
        reports.append(sync_down(store, Path(cache_dir) / prefix, prefix=prefix, log_dir=log_dir, select=select, **sync_options))
    return reports


def blob_source(pipes: Pipelines, blob_name: str) -> SourceFormat | None:
    """The source a blob belongs to: the first, in configuration order, whose prefix holds it and
    whose patterns match its file name (the same rule as for local files)."""
    holders = [
        f
        for f in pipes.source_formats()
        if (loc := pipes.location(f.name)).blob_prefix is not None and blob_name.startswith(loc.prefix)
    ]
    return claim(blob_name.rsplit("/", 1)[-1], holders)


#: the folder under a source's blob prefix where each kind of input is uploaded
UPLOAD_FOLDER = {"hdf5": "runs/", "telemetry": "telemetry/"}


def upload_prefix(pipes: Pipelines, kind: str) -> str:
    """Where inputs of a kind are uploaded: its folder (`runs/`, `telemetry/`) under the blob prefix
    of the first source of that kind that has one."""
    for fmt in pipes.source_formats():
        loc = pipes.location(fmt.name)
        if fmt.kind == kind and loc.blob_prefix is not None:
            return loc.prefix + UPLOAD_FOLDER[kind]
    raise ValueError(f"{pipes.path}: no {kind} source has a blob_prefix to upload to")


#: a container whose newest day is at most this many days old is a live plant's: its days go on
LIVE_WITHIN_DAYS = 3


def landed_days(store: BlobStore, pipes: Pipelines, today: date) -> tuple[date, date | None] | None:
    """(first day, end day exclusive) of the days the sources' blobs are named for (exporter folders
    `YYYY/MM/DD/`, names with `YYYY-MM-DD`), the end None for a live plant; None for an empty
    container. One listing per source prefix, no blob read."""
    days = {
        d
        for prefix in blob_prefixes(pipes)
        for b in store.list_blobs(prefix)
        if blob_source(pipes, b.name)
        for d in days_in_name(b.name)
    }
    if not days:
        return None
    first, last = min(days), max(days)
    return first, None if (today - last).days <= LIVE_WITHIN_DAYS else last + timedelta(days=1)
