"""Silver: the 5-second hour files of each day, every phase_module (`{phase_module}/YYYY/MM/DD/HH.parquet`).

The asset computes (`core.silver.days.build_silver_days`, days in parallel processes: read the
day's bronze once, refuse what the catalog's blocking policies refuse, resample, validate, encode
the hour files, staged on local disk) and returns them as `SilverDays`; the silver IO manager only
stores them (and loads them for the plot).

Per-partition isolation: a day without a bronze file is skipped (reported, not an error); a day
that fails is reported with its reason, and the other days are written and materialised all the
same. When every requested partition was built, the tables go out as the asset's output and
Dagster materialises the whole range; otherwise (Dagster materialises every partition of a ranged
output at once, dagster-io/dagster#17836) the built days are handed to the same IO manager's
`write` and materialised one partition at a time, and the run then fails naming exactly the failed
partitions and why.
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
    SilverDay,
    SilverDays,
    build_silver_days,
    modules_of_days,
    staging_dir,
)
from sim_platform.core.text import shorten
from sim_platform.defs.automation import after_upstream
from sim_platform.defs.keys import TELEMETRY_DAY
from sim_platform.defs.materialize import days_failure, materialize_days
from sim_platform.defs.partitions import daily_partitions, phase_module_partitions
from sim_platform.defs.policies import CONTAINER_RETRY, with_single_run
from sim_platform.defs.resources import PlatformPaths
from sim_platform.defs.silver.checks import SilverCheckConfig, silver_check_results, silver_check_specs
from sim_platform.defs.silver.io_managers import SilverIOManager


def day_metadata(day: SilverDay, extra: dict | None = None) -> dict:
    """One day's materialisation: totals, and per module its rows, completeness and worst null share."""
    parts = [day.partitions[pm] for pm in sorted(day.partitions)]
    with_data = [p for p in parts if p.rows]
    lines = [
        "| phase_module | rows | hours | completeness | longest silence (min) | max null share |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.hierarchy} | {p.rows} | {p.files} | {p.completeness:.3f} | {p.longest_silence_min:g} | {max(p.null_share.values(), default=0):.3f} |"
        for p in parts
    ]
    first = next((p for p in with_data if "_module" in p.hierarchy), with_data[0] if with_data else None)
    return {
        "phase_modules": len(with_data),
        "rows": sum(p.rows for p in parts),
        "files": sum(p.files for p in parts),
        "min_completeness": min((p.completeness for p in with_data), default=0.0),
        "modules": MetadataValue.md("\n".join(lines)),
        "preview": MetadataValue.md(f"**{first.hierarchy}**\n\n{first.preview}" if first else "(no samples on this day)"),
        **(extra or {}),
    }


@asset(
    key_prefix="silver",
    group_name="silver",
    partitions_def=daily_partitions,
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
    """5-second hour files of every phase_module of the run's days; each day's bronze is read once."""
    known = context.instance.get_dynamic_partitions(phase_module_partitions.name)
    wanted = modules_of_days(list(context.partition_keys), str(paths.bronze_dir), known)
    staging = staging_dir(paths.home_dir)
    try:
        days = build_silver_days(wanted, str(paths.bronze_dir), paths.catalog(), staging, paths.worker_count())
        yield from _materialize(context, days, silver_io_manager, config)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _materialize(
    context: AssetExecutionContext, days: list[SilverDay], silver_io_manager: SilverIOManager, config: SilverCheckConfig
):
    built = [d for d in days if d.status == BUILT]
    skipped = [d for d in days if d.status == SKIPPED]
    failed = [d for d in days if d.status == FAILED]
    hours = SilverDays(built)
    complete = not skipped and not failed
    if complete:  # the IO manager stores the output
        metadata = {d.day: day_metadata(d) for d in built}
    else:
        written = silver_io_manager.write(hours) if built else {}
        target = silver_io_manager.store.spec().root
        metadata = {d.day: day_metadata(d, {"target": target, "files_written": written.get(d.day, 0)}) for d in built}
    yield from materialize_days(context, metadata, complete, hours)
    if skipped:
        context.log.info(
            shorten(
                f"{len(skipped)} day(s) without a bronze file, skipped (no upstream data): {', '.join(d.day for d in skipped)}",
                2000,
            )
        )
    refused = {f"{d.day}|{pm}": d.reason for d in failed if d.refused for pm in d.hierarchies}
    yield from silver_check_results(hours.partitions, refused, config.min_completeness)
    errors = [d for d in failed if not d.refused]
    if errors:
        raise days_failure(
            f"{len(errors)} day(s) failed, {len(built)} written, {len(skipped)} without bronze; failed: "
            + "; ".join(f"{d.day}: {d.reason}" for d in errors),
            {
                "failed": MetadataValue.json({d.day: d.reason for d in errors}),
                "written_days": MetadataValue.json([d.day for d in built]),
                "skipped_days": MetadataValue.json([d.day for d in skipped]),
            },
        )


resampled_5s = with_single_run(resampled_5s)
