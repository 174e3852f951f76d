"""Bronze: every raw input of a UTC day, deduplicated, one parquet file per day (one row group per
hierarchy). The asset body picks the days and turns outcomes into events; the work is
`core.bronze.days` (days in parallel processes).

Each day stands alone: a day without any input file is skipped (reported, not an error), and a
day with a bad input fails alone, as in `sim-platform etl` (`InputPlan.days_kept`, one rule for
both): a file refused while planning (corrupt, truncated, wrong columns) or while reading fails its
day, which is not written and keeps its previous bronze file; the message names the file and the
reason, and the run fails listing exactly those days after the others have been written and
materialised. A refused file whose day cannot be told fails every day that already has bronze.

When every requested day is written, bronze yields its (`Nothing`) output, so the assets selected
with it in the same run (silver, plots, features: the UI's Materialize on the whole graph, or an
asset backfill, which puts a child in its parent's run) go on from it. Otherwise (Dagster
materialises every partition of a ranged output at once, dagster-io/dagster#17836) the written days
are materialised one by one as `AssetMaterialization` events, and the steps after bronze in that run
are skipped: silver over the range, in its own run, skips the days without bronze.
"""

from collections import Counter
from datetime import date
from urllib.parse import quote

from dagster import (
    AssetDep,
    AssetExecutionContext,
    MetadataValue,
    Nothing,
    asset,
)

from sim_platform.core.bronze.day_file import bronze_relpath
from sim_platform.core.bronze.days import BronzeOutcome, bronze_days
from sim_platform.core.ingest.landing import fetch_blob_sources, may_hold, near_days, source_roots
from sim_platform.core.ingest.plan import plan_sources
from sim_platform.core.text import shorten
from sim_platform.defs.automation import daily_last_day
from sim_platform.defs.keys import RAW_FILES
from sim_platform.defs.materialize import days_failure, materialize_days
from sim_platform.defs.partitions import daily_partitions, phase_module_partitions
from sim_platform.defs.policies import CONTAINER_RETRY, with_single_run
from sim_platform.defs.resources import BlobStoreResource, PlatformPaths


def _links(day: str) -> str:
    """Markdown links from a bronze day to the same day downstream in the UI."""
    keys = ("silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features")
    return " | ".join(f"[{k}](/assets/{k}?view=partitions&partition={quote(day)})" for k in keys)


@asset(
    key_prefix="bronze",
    group_name="bronze",
    dagster_type=Nothing,
    partitions_def=daily_partitions,
    deps=[AssetDep(RAW_FILES)],
    output_required=False,
    automation_condition=daily_last_day(),
    retry_policy=CONTAINER_RETRY,
)
def telemetry_day(context: AssetExecutionContext, paths: PlatformPaths, blob_store: BlobStoreResource):
    """Every input of the run's UTC days from every configured source (blob prefixes cached
    locally, folders read in place), deduplicated and stored once per day with one row group per
    hierarchy. Only the files whose names may hold those days are fetched and planned
    (`landing.may_hold`). Registers the phase_modules it finds."""
    days = list(context.partition_keys)
    pipes = paths.pipelines()
    # only the files that may hold the run's days (their names), however large the container
    wanted = [date.fromisoformat(d) for d in days]
    near = near_days(wanted)
    with blob_store.open() as store:
        syncs = fetch_blob_sources(store, pipes, paths.raw_cache_dir, log_dir=paths.log_dir, days=wanted)
    for sync in syncs:
        if not sync.ok:
            context.log.warning("raw cache: " + "; ".join(f"{f.name}: {f.error}" for f in sync.failed))
    plan = plan_sources(source_roots(pipes, paths.raw_cache_dir), pipes.catalog, select=lambda rel: may_hold(rel, near))
    by_day = {d.isoformat(): files for d, files in plan.by_day().items()}
    # a refused input fails its day, which keeps its previous bronze file: the rule of `sim-platform etl`
    kept = plan.days_kept([date.fromisoformat(d) for d in days], lambda d: (paths.bronze_dir / bronze_relpath(d)).exists())
    _, unknown = plan.refused_days()
    for e in unknown:  # a refused file whose day cannot be told: it fails every day that has bronze
        context.log.warning(f"refused input of unknown day: {e}")
    outcomes = bronze_days(
        {d: by_day.get(d, []) for d in days},
        str(paths.bronze_dir),
        pipes.catalog,
        paths.worker_count(),
        kept={d.isoformat(): lines for d, lines in kept.items()},
    )

    found = sorted({h for o in outcomes if o.ok for h in o.summary.get("hierarchies", [])})
    known = set(context.instance.get_dynamic_partitions(phase_module_partitions.name))  # one query, not one per module
    new = [h for h in found if h not in known]
    if new:
        context.instance.add_dynamic_partitions(phase_module_partitions.name, new)
        context.log.info(f"new phase_module partitions: {new}")
    cache = f"downloaded {sum(len(s.transferred) for s in syncs)}, already cached {sum(len(s.skipped) for s in syncs)}"
    metadata = {o.day: _day_metadata(o, by_day[o.day], cache) for o in outcomes if o.ok and not o.skipped}
    written = list(metadata)
    skipped = [o.day for o in outcomes if o.skipped]
    failed = [o for o in outcomes if not o.ok]
    # every requested day written: the layers selected with bronze in this run (silver, plots,
    # features: one run, as the UI and an asset backfill launch them) go on
    complete = bool(written) and not skipped and not failed
    yield from materialize_days(context, metadata, complete)
    if written and not complete:
        context.log.info(
            "not every day of the run was written: steps after bronze in this run are skipped; run them over the range next"
        )
    if skipped:
        context.log.info(shorten(f"{len(skipped)} day(s) without any raw file, skipped: {', '.join(skipped)}", 2000))
    context.log.info(f"{len(written)} day(s) written, {len(skipped)} without data, files by source: {plan.files_by_source()}")
    if failed:
        lines = [f"day {o.day} not written: {err}" for o in failed for err in o.errors]
        raise days_failure(
            f"{len(failed)} of {len(days)} day(s) failed ({len(written)} written, {len(skipped)} without data); "
            f"failed: {', '.join(o.day for o in failed)}; first: {lines[0]}",
            {
                "failures": MetadataValue.json(lines),
                "written": MetadataValue.json(written),
                "failed_days": MetadataValue.json([o.day for o in failed]),
            },
            limit=600,
        )


def _day_metadata(o: BronzeOutcome, files: list, cache: str) -> dict:
    """What the UI shows of one bronze day."""
    modules = o.summary.get("hierarchies", [])
    return {
        "files_read": o.files,
        "files_by_source": MetadataValue.json(dict(Counter(f.source.name if f.source else f.kind for f in files))),
        "raw_rows": o.summary.get("raw_rows", 0),
        "distinct_rows": o.summary.get("distinct_rows", 0),
        "bytes": o.summary.get("bytes", 0),
        "phase_modules": MetadataValue.json(modules),
        "rows_per_hierarchy": MetadataValue.json(o.summary.get("rows", {})),
        "downstream": MetadataValue.md(_links(o.day)),
        "raw_cache": cache,
    }


telemetry_day = with_single_run(telemetry_day)
