"""Landing: simulation runs arrive in a folder and go up to the container; every raw file in the
container, whoever put it there, is `landing/raw_files`, partitioned by UTC day.

`raw_files` is not computed here: the blob sensor reports it (one materialisation per day whose
files changed, with the files as metadata), and `bronze/telemetry_day` reads it. That is the link
between landing and bronze in the asset graph.
"""

import shutil
import tempfile
from datetime import date
from pathlib import Path

from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from sim_platform.core.ingest.landing import upload_prefix
from sim_platform.core.ingest.plan import plan_inputs
from sim_platform.defs.partitions import daily_partitions, run_partitions
from sim_platform.defs.policies import CONTAINER_RETRY
from sim_platform.defs.resources import BlobStoreResource, PlatformPaths
from sim_platform.storage import sync_up


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
        from sim_platform.core.synth.generate import generate

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


@asset(
    key_prefix="landing", group_name="landing", partitions_def=run_partitions, deps=[raw_hdf5_runs], retry_policy=CONTAINER_RETRY
)
def blob_synced_runs(context: AssetExecutionContext, paths: PlatformPaths, blob_store: BlobStoreResource) -> MaterializeResult:
    """The run uploaded to the container under `<raw prefix>runs/<run>/` (only what changed is sent)."""
    run = context.partition_key
    with blob_store.open() as store:
        report = sync_up(
            store, paths.landing_dir / run, prefix=f"{upload_prefix(paths.pipelines(), 'hdf5')}{run}/", log_dir=paths.log_dir
        )
    if not report.ok:
        raise Failure(
            f"sync of run {run} failed for {len(report.failed)} file(s)",
            metadata={"failed": MetadataValue.json([f"{f.name}: {f.error}" for f in report.failed])},
        )
    return MaterializeResult(
        metadata={
            "files_sent": len(report.transferred),
            "files_skipped": len(report.skipped),
            "bytes_sent": report.bytes_transferred,
            "summary": report.summary(),
        }
    )


raw_files = AssetSpec(
    ["landing", "raw_files"],
    group_name="landing",
    partitions_def=daily_partitions,
    # uploaded runs are raw files too; which days a run holds is only known from its files
    deps=[AssetDep(blob_synced_runs, partition_mapping=AllPartitionMapping())],
    description="Raw files in the container under the configured sources' prefixes, by UTC day. Reported by "
    "new_blob_sensor (one materialisation per day whose files are new or changed); read by bronze/telemetry_day.",
)
