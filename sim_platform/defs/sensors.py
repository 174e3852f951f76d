"""Sensors: new blobs -> bronze days -> silver (day x phase_module) partitions.

`new_blob_sensor` lists the blob prefixes of the configured sources, keeps the blobs a source
claims, finds new or changed blobs with its cursor
(see `blob_watch`), caches them locally (only what is missing), registers new phase_module
partitions and requests one `telemetry_day` run per affected day. The run key is the day plus a
digest of the (name, etag) pairs that touched it: re-evaluating the same blobs requests nothing
new (Dagster drops a run key it has seen), a changed blob (new etag) re-runs its day. The affected
phase_modules travel with the run as a tag.

`silver_after_bronze_sensor` follows every successful `telemetry_day` materialisation (from the
blob sensor, the daily schedule or the UI) with runs of `resampled_5s` + `module_day_plot` +
`module_day_features` for
that day: the phase_modules named in the run's tag, else all modules stored in the bronze day.
Those runs cover consecutive phase_modules as one partition range, so a day costs one run, not
one per module. Runs that belong to a backfill are skipped: the backfill includes silver itself.
Silver must wait for bronze, which is why it is a second step and not part of the first request.
"""


from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, BACKFILL_ID_TAG

from sim_platform.core.bronze import bronze_relpath, bronze_summary
from sim_platform.defs.assets import module_day_plot, resampled_5s, telemetry_day
from sim_platform.core.landing import blob_prefixes, blob_source, fetch_blob_sources
from sim_platform.defs.gold_assets import module_day_features
from sim_platform.defs.blob_watch import BlobCursor, affected_by, contiguous_blocks, parse_day
from sim_platform.defs.partitions import daily_partitions, phase_module_partitions, silver_key
from sim_platform.defs.resources import BlobStoreResource, PlatformPaths

PHASE_MODULES_TAG = "sim_platform/phase_modules"
MAX_BLOBS_PER_TICK = 400


@sensor(
    name="new_blob_sensor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    asset_selection=[telemetry_day],
    description="New or changed raw blobs -> telemetry_day runs for exactly the affected days.",
)
def new_blob_sensor(context: SensorEvaluationContext, paths: PlatformPaths, blob_store: BlobStoreResource):
    cursor = BlobCursor.parse(context.cursor)
    pipes = paths.pipelines()
    prefixes = blob_prefixes(pipes)
    with blob_store.open() as store:
        claimed = {b.name: (b, src) for p in prefixes for b in store.list_blobs(p) if (src := blob_source(pipes, b.name))}
        listing = [b for b, _ in claimed.values()]
        fresh = cursor.new_blobs(listing, MAX_BLOBS_PER_TICK)
        if not fresh:
            return SkipReason(f"no new or changed blobs under {prefixes} ({len(listing)} listed)")
        reports = fetch_blob_sources(store, pipes, paths.raw_cache_dir, log_dir=paths.log_dir)
    failed = {f.name for r in reports for f in r.failed}
    usable = [b for b in fresh if b.name not in failed]  # a failed download is retried next tick
    catalog = pipes.catalog
    affected = affected_by([claimed[b.name] for b in usable], paths.raw_cache_dir, catalog)
    for line in affected.unreadable:
        context.log.warning(f"unreadable blob: {line}")

    valid_days = set(daily_partitions.get_partition_keys())
    known = set(context.instance.get_dynamic_partitions(phase_module_partitions.name))
    new_pms = sorted({pm for pms in affected.days.values() for pm in pms} - known)
    requests = []
    for day, pms in sorted(affected.days.items()):
        if day not in valid_days:
            context.log.warning(f"day {day} is outside the daily partitions; blobs ignored")
            continue
        requests.append(
            RunRequest(
                run_key=f"telemetry_day:{day}:{affected.digest(day)}",
                asset_selection=[telemetry_day.key],
                partition_key=day,
                tags={PHASE_MODULES_TAG: ",".join(sorted(pms))},
            )
        )
    cursor.advance(usable)
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[phase_module_partitions.build_add_request(new_pms)] if new_pms else [],
        cursor=cursor.dump(),
    )


@sensor(
    name="silver_after_bronze_sensor",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.STOPPED,
    asset_selection=[resampled_5s, module_day_plot, module_day_features],
    description="After a telemetry_day materialisation: resampled_5s, module_day_plot and module_day_features for its phase_modules.",
)
def silver_after_bronze_sensor(context: SensorEvaluationContext, paths: PlatformPaths):
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=telemetry_day.key, after_storage_id=after), limit=200, ascending=True
    ).records
    if not records:
        return SkipReason("no new telemetry_day materialisations")
    order = list(context.instance.get_dynamic_partitions(phase_module_partitions.name))
    requests = []
    for rec in records:
        day = rec.partition_key
        run = context.instance.get_run_by_id(rec.run_id)
        if day is None or run is None or BACKFILL_ID_TAG in run.tags:
            continue
        tagged = run.tags.get(PHASE_MODULES_TAG)
        if tagged is not None:
            pms = set(filter(None, tagged.split(",")))
        else:
            path = paths.bronze_dir / bronze_relpath(parse_day(day))
            pms = set(bronze_summary(path)["hierarchies"]) if path.is_file() else set()
        for first, last in contiguous_blocks(pms, order):
            requests.append(
                RunRequest(
                    run_key=f"resampled_5s:{day}:{rec.storage_id}:{first}..{last}",
                    asset_selection=[resampled_5s.key, module_day_plot.key, module_day_features.key],
                    tags={
                        ASSET_PARTITION_RANGE_START_TAG: str(silver_key(day, first)),
                        ASSET_PARTITION_RANGE_END_TAG: str(silver_key(day, last)),
                    },
                )
            )
    return SensorResult(run_requests=requests, cursor=str(records[-1].storage_id))
