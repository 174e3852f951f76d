"""`new_blob_sensor`: raw files landing in the container -> bronze runs of exactly the affected days.

No library sensor exists for Azure blobs, so this one stays a sensor; each tick is cheap: ONE
listing of the configured sources' blob prefixes (keeping the blobs a source claims, so a new
CSV/JSON source is watched as soon as it is configured) and the cursor (`core.ingest.blob_watch`). The
days of new or changed blobs come from their names (the exporter's dated folders and file names);
only a name without a date (an HDF5 run file) is downloaded into the raw cache, where bronze reads
it anyway, and dated from its metadata. No rows of any file are read in a tick.

There is no per-tick cap: a day is requested once, with all of its listed files. Per affected day
the tick reports a materialisation of `landing/raw_files` (the new files as metadata) and requests a
`telemetry_day` run; the run key is the day plus a digest of every (name, etag) listed for it, so
the same files never run twice and a new or changed file re-runs its day. Everything after bronze
follows by declarative automation (`defs/automation.py`).

The sensor is on by default (so is `pipeline_automation`): a new instance takes whatever already lies
in the container from its first tick -- after `sim-platform demo`, the demo week. Stop it under
Automation or with `dagster sensor stop new_blob_sensor`; a stop is kept in the instance.
"""

import os
import tempfile
from pathlib import Path

from dagster import (
    AssetMaterialization,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from sim_platform.core.ingest.blob_watch import BlobCursor, digest, group_by_day, listed_by_day
from sim_platform.core.ingest.landing import blob_prefixes, blob_source
from sim_platform.core.ingest.plan import file_days
from sim_platform.defs.keys import RAW_FILES, TELEMETRY_DAY
from sim_platform.defs.partitions import daily_partitions
from sim_platform.defs.resources import BlobStoreResource, PlatformPaths
from sim_platform.storage import BlobInfo, BlobStore, BlobStoreError

#: seconds between ticks (the freshness benchmark's figures assume this)
BLOB_SENSOR_INTERVAL_S = 5


def _cached_copy(store: BlobStore, blob: BlobInfo, cache: Path) -> Path | None:
    """The blob in the raw cache (downloaded when absent or of another size); None if that failed."""
    path = cache / blob.name
    if path.is_file() and path.stat().st_size == blob.size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sensor-", suffix=".simtmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            store.download_into(blob.name, fh, etag=blob.etag)
        os.replace(tmp, path)
        return path
    except (BlobStoreError, OSError):
        Path(tmp).unlink(missing_ok=True)
        return None


@sensor(
    name="new_blob_sensor",
    minimum_interval_seconds=BLOB_SENSOR_INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    asset_selection=[TELEMETRY_DAY],
    description="New or changed raw blobs -> telemetry_day runs for exactly the affected days (one listing per tick).",
)
def new_blob_sensor(context: SensorEvaluationContext, paths: PlatformPaths, blob_store: BlobStoreResource):
    cursor = BlobCursor.parse(context.cursor)
    pipes = paths.pipelines()
    prefixes = blob_prefixes(pipes)
    with blob_store.open() as store:
        claimed = {b.name: (b, src) for p in prefixes for b in store.list_blobs(p) if (src := blob_source(pipes, b.name))}
        listing = [b for b, _ in claimed.values()]
        fresh = cursor.new_blobs(listing)
        if not fresh:
            return SkipReason(f"no new or changed blobs under {prefixes} ({len(listing)} listed)")

        def date_unnamed(b: BlobInfo):
            path = _cached_copy(store, b, paths.raw_cache_dir)
            if path is None:
                return None
            source = claimed[b.name][1]
            return file_days(path, source.kind, pipes.catalog, source)

        landed = group_by_day(fresh, date_unnamed)
    for line in landed.unreadable:
        context.log.warning(f"unreadable blob, no day can be named for it: {line}")
    if landed.undated:  # its day is unknown, and it may belong to any day: request nothing yet
        return SkipReason(
            f"{len(landed.undated)} new blob(s) could not be fetched to read their day "
            f"(first: {landed.undated[0].name}); nothing requested, retried next tick"
        )

    valid = set(daily_partitions.get_partition_keys())
    dated = listed_by_day(listing)
    requests, events = [], []
    for day in landed.day_keys():
        if day not in valid:
            context.log.warning(f"day {day} is outside the daily partitions; its blobs are ignored")
            continue
        entries = dated.get(day, set()) | set(landed.days[day])
        requests.append(
            RunRequest(run_key=f"telemetry_day:{day}:{digest(entries)}", asset_selection=[TELEMETRY_DAY], partition_key=day)
        )
        new = sorted(landed.days[day])
        events.append(
            AssetMaterialization(
                asset_key=RAW_FILES,
                partition=day,
                metadata={
                    "new_or_changed": len(new),
                    "files_listed": len(entries),
                    "new_files": MetadataValue.json([e.rsplit("@", 1)[0] for e in new[:50]]),
                },
            )
        )
    cursor.advance(fresh)
    return SensorResult(run_requests=requests, asset_events=events, cursor=cursor.dump())
