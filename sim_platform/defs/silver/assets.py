"""Silver: the 5-second hour files of every (phase_module, day) partition (`{phase_module}/YYYY/MM/DD/HH.parquet`).

The asset computes (`core.silver.days.build_silver_days`, days in parallel processes: read each of
the run's bronze days once, for the run's modules of that day; refuse what the catalog's blocking
policies or the structural schema refuse; resample, validate, encode the hour files, staged on
local disk) and returns them as `SilverDays`; the silver IO manager only stores them (and loads
them for the plot). A run covers a rectangle of modules by days (`partitions.module_day_partitions`).

Per-partition isolation: a day without a bronze file is skipped (no upstream data: reported, no
event per module); a (module, day) that breaks the hour-file contract is not written and keeps its
previous hour files, and the other modules of its day are written and materialised all the same;
a day whose bronze file cannot be read fails all of its requested modules. When every requested
partition was built, the tables go out as the asset's output and Dagster materialises the whole
range; otherwise (Dagster materialises every partition of a ranged output at once,
dagster-io/dagster#17836) the built ones are handed to the same IO manager's `write` and
materialised one by one, and the step then fails naming exactly the failed partitions and why, so
the partition grid shows them red.
"""

import shutil

from dagster import (
    AssetExecutionContext,
    MetadataValue,
    ResourceParam,
    asset,
)

from sim_platform.core.silver.days import (
    BUILT,
    FAILED,
    SKIPPED,
    PartitionSummary,
    SilverDay,
    SilverDays,
    build_silver_days,
    staging_dir,
)
from sim_platform.core.text import shorten
from sim_platform.defs.automation import after_upstream
from sim_platform.defs.keys import TELEMETRY_DAY
from sim_platform.defs.materialize import days_failure, materialize_days
from sim_platform.defs.partitions import by_day, module_day_partitions
from sim_platform.defs.policies import CONTAINER_RETRY, with_single_run
from sim_platform.defs.resources import PlatformPaths
from sim_platform.defs.silver.checks import SilverCheckConfig, silver_check_results, silver_check_specs
from sim_platform.defs.silver.io_managers import SilverIOManager


def partition_metadata(p: PartitionSummary, extra: dict | None = None) -> dict:
    """One (module, day)'s materialisation: rows, hours, completeness, silence, worst null share, preview."""
    return {
        "rows": p.rows,
        "files": p.files,
        "completeness": p.completeness,
        "longest_silence_min": p.longest_silence_min,
        "max_null_share": max(p.null_share.values(), default=0.0),
        "anomalies": sum(p.anomalies.values()),
        "preview": MetadataValue.md(p.preview or "(no samples on this day)"),
        **(extra or {}),
    }


@asset(
    key_prefix="silver",
    group_name="silver",
    partitions_def=module_day_partitions,
    io_manager_key="silver_io_manager",
    deps=[TELEMETRY_DAY],
    check_specs=silver_check_specs(["silver", "resampled_5s"]),
    output_required=False,
    automation_condition=after_upstream(),
    retry_policy=CONTAINER_RETRY,
)
def resampled_5s(
    context: AssetExecutionContext,
    paths: PlatformPaths,
    silver_io_manager: ResourceParam[SilverIOManager],
    config: SilverCheckConfig,
):
    """5-second hour files of the run's (module, day) partitions; each day's bronze is read once."""
    staging = staging_dir(paths.home_dir)
    try:
        days = build_silver_days(
            by_day(context.partition_keys), str(paths.bronze_dir), paths.catalog(), staging, paths.worker_count()
        )
        yield from _materialize(context, days, silver_io_manager, config)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _materialize(
    context: AssetExecutionContext, days: list[SilverDay], silver_io_manager: SilverIOManager, config: SilverCheckConfig
):
    built = [d for d in days if d.status == BUILT]
    skipped = [d for d in days if d.status == SKIPPED]
    refused = {f"{d.day}|{pm}": why for d in built for pm, why in sorted(d.refused.items())}
    errors = {f"{d.day}|{pm}": d.reason for d in days if d.status == FAILED for pm in d.hierarchies}
    hours = SilverDays(built)
    complete = not skipped and not refused and not errors
    parts = hours.partitions
    if complete:  # the IO manager stores the output
        metadata = {f"{d}|{pm}": partition_metadata(p) for (d, pm), p in parts.items()}
    else:
        written = silver_io_manager.write(hours) if parts else {}
        target = silver_io_manager.store.spec().root
        metadata = {
            f"{d}|{pm}": partition_metadata(p, {"target": target, "day_files_written": written.get(d, 0)})
            for (d, pm), p in parts.items()
        }
    yield from materialize_days(context, metadata, complete, hours)
    if skipped:
        context.log.info(
            shorten(
                f"{len(skipped)} day(s) without a bronze file, skipped (no upstream data): {', '.join(d.day for d in skipped)}",
                2000,
            )
        )
    yield from silver_check_results(parts, refused, config.min_completeness)
    failed = {**refused, **errors}
    if failed:
        raise days_failure(
            f"{len(failed)} partition(s) failed, {len(parts)} written, {len(skipped)} day(s) without bronze; failed: "
            + "; ".join(f"{k}: {why}" for k, why in sorted(failed.items())),
            {
                "failed": MetadataValue.json(dict(sorted(failed.items())[:200])),
                "written": len(parts),
                "skipped_days": MetadataValue.json([d.day for d in skipped]),
            },
        )


resampled_5s = with_single_run(resampled_5s)
