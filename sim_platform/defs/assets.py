"""The assets, one group and one key prefix per layer: landing -> bronze -> silver -> gold.

Keys say their layer (`bronze/telemetry_day`, `silver/resampled_5s`, `gold/module_day_plot`), and
so do the storage prefixes (`raw/` in the container, `bronze/` and `silver/` under the home or in
the container, `gold/` in the container). The other gold assets are in `gold_assets`.

Each asset body only decides WHICH partitions to process and turns outcomes into metadata; the
work itself is `sim_platform.core` / `sim_platform.storage` (through `bronze_batch`/`silver_batch`).
"""


import base64
import shutil
from datetime import date
import tempfile
from collections import defaultdict
from pathlib import Path

from dagster import (
    AssetDep,
    AssetIn,
    AssetExecutionContext,
    BackfillPolicy,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiToSingleDimensionPartitionMapping,
    Output,
    asset,
)

from sim_platform.core.bronze import bronze_relpath
from sim_platform.core.rawdata import clip
from sim_platform.core.inputs import plan_inputs, plan_sources
from sim_platform.core.landing import fetch_blob_sources, runs_prefix, source_roots
from sim_platform.defs.checks import SilverCheckConfig, silver_check_results, silver_check_specs
from sim_platform.defs.bronze_batch import bronze_days
from sim_platform.defs.partitions import daily_partitions, phase_module_partitions, run_partitions, silver_partitions, split_key
from sim_platform.defs.resources import BlobStoreResource, PlatformPaths, SilverStore
from sim_platform.defs.silver_batch import SilverBatch, plot_partitions
from sim_platform.storage import sync_up

# --------------------------------------------------------------------------- landing
class RawRunsConfig(Config):
    generate: bool = False  # make the run with the generator instead of expecting it in the landing folder
    days: int = 1
    seed: int = 0
    start: str = "2024-07-01"


@asset(key_prefix="landing", group_name="landing", partitions_def=run_partitions)
def raw_hdf5_runs(context: AssetExecutionContext, config: RawRunsConfig, paths: PlatformPaths) -> MaterializeResult:
    """One simulation run in the landing folder, scanned and validated (or generated on request)."""
    run = context.partition_key
    folder = paths.landing_dir / run
    if config.generate:
        from sim_platform.core.generate import generate

        with tempfile.TemporaryDirectory(dir=paths.landing_dir.parent if paths.landing_dir.parent.exists() else None) as tmp:
            generate(tmp, runs=1, days=config.days, seed=config.seed, fmt="hdf5", start=date.fromisoformat(config.start))
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(next(Path(tmp).iterdir())), folder)
    if not folder.is_dir():
        raise Failure(f"run folder {folder} does not exist (put the run there, or set generate: true)")
    plan = plan_inputs(folder, paths.catalog())
    if plan.failures:
        raise Failure(
            f"run {run}: {len(plan.failures)} invalid file(s)",
            metadata={"failures": MetadataValue.json([str(e) for e in plan.failures])},
        )
    days = sorted({d.isoformat() for f in plan.files for d in f.days})
    return MaterializeResult(
        metadata={
            "files": len(plan.files),
            "bytes": sum(f.size for f in plan.files),
            "days": MetadataValue.json(days),
            "folder": MetadataValue.path(str(folder)),
        }
    )


@asset(key_prefix="landing", group_name="landing", partitions_def=run_partitions, deps=[raw_hdf5_runs])
def blob_synced_runs(context: AssetExecutionContext, paths: PlatformPaths, blob_store: BlobStoreResource) -> MaterializeResult:
    """The run uploaded to the container under `<raw prefix>runs/<run>/` (only what changed is sent)."""
    run = context.partition_key
    with blob_store.open() as store:
        report = sync_up(store, paths.landing_dir / run, prefix=f"{runs_prefix(paths.pipelines())}{run}/", log_dir=paths.log_dir)
    if not report.ok:
        raise Failure(f"sync of run {run} failed for {len(report.failed)} file(s)", metadata={"failed": MetadataValue.json([f"{f.name}: {f.error}" for f in report.failed])})
    return MaterializeResult(
        metadata={
            "files_sent": len(report.transferred),
            "files_skipped": len(report.skipped),
            "bytes_sent": report.bytes_transferred,
            "summary": report.summary(),
        }
    )


# --------------------------------------------------------------------------- bronze
@asset(key_prefix="bronze", group_name="bronze", partitions_def=daily_partitions, backfill_policy=BackfillPolicy.single_run())
def telemetry_day(context: AssetExecutionContext, paths: PlatformPaths, blob_store: BlobStoreResource) -> MaterializeResult:
    """Every input of the run's UTC days from every configured source (blob prefixes cached
    locally, folders read in place), deduplicated and stored once per day with one row group per
    hierarchy. Registers the phase_modules it finds."""
    days = list(context.partition_keys)
    pipes = paths.pipelines()
    with blob_store.open() as store:
        syncs = fetch_blob_sources(store, pipes, paths.raw_cache_dir, log_dir=paths.log_dir)
    for sync in syncs:
        if not sync.ok:
            context.log.warning("raw cache: " + "; ".join(f"{f.name}: {f.error}" for f in sync.failed))
    plan = plan_sources(source_roots(pipes, paths.raw_cache_dir), pipes.catalog)
    by_day = {d.isoformat(): files for d, files in plan.by_day().items()}
    for e in plan.failures:  # a file whose days cannot even be read from its metadata
        context.log.warning(f"raw input not usable for any day: {e}")
    outcomes = bronze_days({d: by_day.get(d, []) for d in days}, str(paths.bronze_dir), paths.config_path, paths.worker_count())

    found = sorted({h for o in outcomes if o.ok for h in o.summary.get("hierarchies", [])})
    new = [h for h in found if not context.instance.has_dynamic_partition(phase_module_partitions.name, h)]
    if new:
        context.instance.add_dynamic_partitions(phase_module_partitions.name, new)
        context.log.info(f"new phase_module partitions: {new}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        lines = [f"day {o.day} not written: {err}" for o in failed for err in o.errors]
        raise Failure(
            clip(f"{len(failed)} of {len(days)} day(s) failed (other days were written); first: {lines[0]}", 300),
            metadata={"failures": MetadataValue.json(lines), "ok_days": MetadataValue.json([o.day for o in outcomes if o.ok])},
        )
    meta = {
        "days": len(outcomes),
        "files_read": sum(o.files for o in outcomes),
        "distinct_rows": sum(o.summary.get("distinct_rows", 0) for o in outcomes),
        "raw_rows": sum(o.summary.get("raw_rows", 0) for o in outcomes),
        "bytes": sum(o.summary.get("bytes", 0) for o in outcomes),
        "phase_modules": MetadataValue.json(found),
        "raw_cache": f"downloaded {sum(len(s.transferred) for s in syncs)}, already cached {sum(len(s.skipped) for s in syncs)}",
        "files_by_source": MetadataValue.json(plan.files_by_source()),
    }
    if len(outcomes) == 1:
        meta["rows_per_hierarchy"] = MetadataValue.json(outcomes[0].summary.get("rows", {}))
    return MaterializeResult(metadata=meta)


# --------------------------------------------------------------------------- silver
@asset(
    key_prefix="silver",
    group_name="silver",
    partitions_def=silver_partitions,
    io_manager_key="silver_io_manager",
    backfill_policy=BackfillPolicy.single_run(),
    deps=[AssetDep(telemetry_day, partition_mapping=MultiToSingleDimensionPartitionMapping(partition_dimension_name="date"))],
    check_specs=silver_check_specs(["silver", "resampled_5s"]),
)
def resampled_5s(context: AssetExecutionContext, paths: PlatformPaths, config: SilverCheckConfig):
    """5-second hour files per (day, phase_module); each day's bronze is read and resampled once."""
    days: dict[str, list[str]] = defaultdict(list)
    for key in context.partition_keys:
        day, pm = split_key(key)
        days[day].append(pm)
    missing = sorted(d for d in days if not (paths.bronze_dir / bronze_relpath(date.fromisoformat(d))).is_file())
    if missing:  # checked before anything is written, so a run never leaves some days half done
        raise Failure(f"no bronze file for {', '.join(missing)}: materialise telemetry_day for these days first")
    batch = SilverBatch(dict(days), str(paths.bronze_dir), paths.config_path, paths.worker_count())
    yield Output(batch)  # the IO manager executes and writes it, filling batch.results
    yield from silver_check_results(batch.results, config.min_completeness)


# --------------------------------------------------------------------------- gold
@asset(
    key_prefix="gold",
    group_name="gold",
    partitions_def=silver_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"resampled_5s": AssetIn(key=resampled_5s.key)},
)
def module_day_plot(context: AssetExecutionContext, resampled_5s, silver_store: SilverStore, paths: PlatformPaths) -> MaterializeResult:
    """One PNG per partition, stored beside its hour files and shown in the UI as markdown."""
    spec = silver_store.spec()
    keys = [(key, *split_key(key)) for key in resampled_5s]
    stored, shown = [], None
    for key, rel, png in plot_partitions(resampled_5s, spec, keys, paths.worker_count()):
        if rel is None:
            context.log.warning(f"{key}: no 5-second data, no plot")
            continue
        stored.append(rel)
        if shown is None:
            shown = (key, png)
    meta = {"plots": len(stored), "first_stored": stored[0] if stored else ""}
    if shown is not None:
        meta["plot"] = MetadataValue.md(f"**{shown[0]}**\n\n![plot](data:image/png;base64,{base64.b64encode(shown[1]).decode()})")
    return MaterializeResult(metadata=meta)
