"""Gold: the plot and the features of each (phase_module, day) partition, following silver, and
the quarterly ML training set.

The work is `sim_platform.core` (`gold.plots.plot_partitions`, `gold.files`, `gold.warehouse`); these bodies
pick partitions, open the stores and turn outcomes into metadata. The training set of a quarter
depends on every (module, day) of that quarter (Dagster maps the day dimension onto the quarter).
"""

import base64
from datetime import date

from dagster import AssetExecutionContext, AssetIn, Failure, MaterializeResult, MetadataValue, asset

from sim_platform.core.gold.features import features_table, quarter_of
from sim_platform.core.gold.files import build_module_days_parallel, is_module, publish_quarter
from sim_platform.core.gold.plots import plot_partitions
from sim_platform.core.silver.days import markdown_preview
from sim_platform.defs.automation import after_checked_upstream
from sim_platform.defs.keys import RESAMPLED_5S
from sim_platform.defs.materialize import add_partition_metadata
from sim_platform.defs.partitions import by_day, module_day_partitions, phase_module_partitions, quarterly_partitions
from sim_platform.defs.policies import CONTAINER_RETRY, with_single_run
from sim_platform.defs.resources import GoldStore, PlatformPaths, SilverStore, WarehouseResource

#: features shown in the UI preview of a run
_PREVIEW = [
    "phase_module",
    "date",
    "voltage_v_mean",
    "current_a_mean",
    "soc_swing",
    "discharge_energy_kwh",
    "charge_energy_kwh",
    "cell_spread_max_v",
    "weakest_cell",
    "real_bin_share",
    "run_hours",
]


@asset(
    key_prefix="gold",
    group_name="gold",
    partitions_def=module_day_partitions,
    ins={"resampled_5s": AssetIn(key=RESAMPLED_5S)},
    automation_condition=after_checked_upstream(),
    retry_policy=CONTAINER_RETRY,
)
def module_day_plot(
    context: AssetExecutionContext, resampled_5s, silver_store: SilverStore, paths: PlatformPaths
) -> MaterializeResult:
    """One PNG per (phase_module, day), stored beside its hour files; the first one of the run is
    shown in the UI as markdown."""
    spec = silver_store.spec()
    keys = [(key, *key.split("|")) for key in resampled_5s]
    stored, shown = {}, None
    for key, rel, png in plot_partitions(resampled_5s, spec, keys, paths.worker_count()):
        if rel is None:
            context.log.warning(f"{key}: no 5-second data, no plot")
            continue
        stored[key] = rel
        if shown is None or ("_module" in key and "_module" not in shown[0]):  # a module's plot, if any
            shown = (key, png)
    # per partition its file; the picture itself once per run (a PNG in each of 1,680 events would
    # put a hundred megabytes into the event log)
    metadata = {key: {"plot_file": stored.get(key, "")} for key in context.partition_keys}
    if shown is not None:
        image = f"**{shown[0]}**\n\n![plot](data:image/png;base64,{base64.b64encode(shown[1]).decode()})"
        metadata[shown[0]] |= {"plot": MetadataValue.md(image), "plots_in_run": len(stored), "partitions_in_run": len(metadata)}
    add_partition_metadata(context, metadata)
    context.log.info(f"{len(stored)} plot(s) stored for {len(context.partition_keys)} partition(s)")
    return MaterializeResult()


@asset(
    key_prefix="gold",
    group_name="gold",
    partitions_def=module_day_partitions,
    deps=[RESAMPLED_5S],
    automation_condition=after_checked_upstream(),
    retry_policy=CONTAINER_RETRY,
)
def module_day_features(
    context: AssetExecutionContext, silver_store: SilverStore, gold_store: GoldStore, paths: PlatformPaths
) -> MaterializeResult:
    """One row per (module, day) of the run: voltage/current/SoC/temperature statistics, energy
    throughput, SoC swing, cell spread and weakest cell, real-sample share, RUN and IDLE hours
    (docs/gold_features.md). A phase's or the system's partitions have no features."""
    silver = silver_store.spec()
    keys = [(day, pm) for day, pms in by_day(context.partition_keys).items() for pm in pms]
    modules = [(date.fromisoformat(d), pm) for d, pm in keys if is_module(pm)]
    skipped = sorted({pm for _, pm in keys if not is_module(pm)})
    if skipped:
        context.log.info(f"not modules, no features: {skipped}")
    catalog = paths.catalog()
    rows = build_module_days_parallel(silver.open, gold_store.spec().open, modules, paths.worker_count(), catalog=catalog)
    written = [r for r in rows.values() if r is not None]
    empty = [f"{d}|{pm}" for (d, pm), r in rows.items() if r is None]
    for key in empty:
        context.log.warning(f"{key}: no silver data, no feature row (an older one was removed)")
    # per partition its row count; the run's preview once, on its first partition
    metadata = {
        f"{day}|{pm}": {"rows": int(rows.get((date.fromisoformat(day), pm)) is not None), "module": is_module(pm)}
        for day, pm in keys
    }
    if written and context.partition_keys:
        metadata[str(context.partition_keys[0])] |= {
            "rows_in_run": len(written),
            "preview": MetadataValue.md(markdown_preview(features_table(written, catalog), rows=10, columns=_PREVIEW)),
        }
    add_partition_metadata(context, metadata)
    context.log.info(f"{len(written)} feature row(s); not modules: {skipped}")
    return MaterializeResult()


@asset(
    key_prefix="gold",
    group_name="gold",
    partitions_def=quarterly_partitions,
    deps=[module_day_features],
    retry_policy=CONTAINER_RETRY,
)
def ml_training_set(context: AssetExecutionContext, gold_store: GoldStore, warehouse: WarehouseResource) -> MaterializeResult:
    """Every module-day feature row of the quarter as one table: a parquet file in the gold store,
    and the same rows loaded into the warehouse (PostgreSQL, or the embedded DuckDB) in one
    transaction, upserted by (date, phase_module), so a rerun replaces the quarter's rows."""
    quarter = quarter_of(date.fromisoformat(context.partition_key))
    modules = context.instance.get_dynamic_partitions(phase_module_partitions.name)
    with warehouse.open() as wh:
        try:
            table, rel, report = publish_quarter(
                gold_store.spec().open(), wh, quarter, modules, warehouse.table(), warehouse.paths.catalog()
            )
        except LookupError as exc:
            raise Failure(str(exc), allow_retries=False) from None
    from sim_platform.core.gold.plots import draw_training_set

    png = draw_training_set(table, f"{quarter}: daily energy throughput per module")
    return MaterializeResult(
        metadata={
            "quarter": quarter,
            "rows": table.num_rows,
            "modules": len(set(table["phase_module"].to_pylist())),
            "days": len(set(table["date"].to_pylist())),
            "file": rel,
            "warehouse": f"{warehouse.describe()} table {warehouse.table()}",
            "inserted": report.inserted,
            "updated": report.updated,
            "deleted": report.deleted,
            "throughput": MetadataValue.md(f"![throughput](data:image/png;base64,{base64.b64encode(png).decode()})"),
        }
    )


module_day_plot = with_single_run(module_day_plot)
module_day_features = with_single_run(module_day_features)
