"""The runs a backfill launches under the assets' BackfillPolicy, and that such runs execute.

Dagster's backfill daemon turns a selection into run requests with
`build_run_requests_with_backfill_policies` (with the project's run coordinator loaded, a block of
modules by days is one range: `sim_platform.dagster_instance`). Silver, plots and features are
partitioned by (day, phase_module) and backfilled as single runs: a backfill of every module over N
days of the three of them is ONE run over the rectangle, which we execute for real. Bronze is
partitioned by day, so a backfill of every layer is two runs: bronze over the days, then the rest
(`test_run_counts.py` counts them through a real daemon).
"""

from dagster import Definitions, materialize
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context

import sim_platform.dagster_instance  # noqa: F401  (the daemon's ranges, as the instance loads them)
from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.gold.assets import module_day_features, module_day_plot
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform_tests.defs.helpers import mat_days, mat_partitions, range_tags

ASSETS = [resampled_5s, module_day_plot, module_day_features]


def test_a_backfill_of_days_is_one_run_and_executes(platform, instance, generated_runs):
    platform.land(generated_runs, "runs/")
    days = ["2024-07-01", "2024-07-02"]
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, tags=range_tags(*days)).success
    pms = instance.get_dynamic_partitions("phase_module")
    wanted = [AssetKeyPartitionKey(a.key, f"{d}|{pm}") for a in ASSETS for d in days for pm in pms]
    graph = Definitions(assets=[telemetry_day, *ASSETS], resources=platform.resources).resolve_asset_graph()
    with partition_loading_context(dynamic_partitions_store=instance):  # as the backfill daemon does
        requests = build_run_requests_with_backfill_policies(wanted, graph, instance)
    (rr,) = requests  # one run, not one per day, module or asset
    assert (rr.tags["dagster/asset_partition_range_start"], rr.tags["dagster/asset_partition_range_end"]) == (
        f"{days[0]}|{pms[0]}",
        f"{days[-1]}|{pms[-1]}",
    )
    assert set(rr.asset_selection) == {a.key for a in ASSETS}
    # execute it exactly as the backfill would (same tags): silver, its checks, plots and features
    r = materialize(ASSETS, instance=instance, resources=platform.resources, tags=dict(rr.tags))
    assert r.success
    for name in ("silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features"):
        assert mat_partitions(r, name) == {f"{d}|{pm}" for d in days for pm in pms}, name
    assert len(list(platform.silver_root.glob("*/2024/07/0[12]/plot.png"))) == 2 * len(
        instance.get_dynamic_partitions("phase_module")
    )


def test_bronze_then_everything_after_it_in_a_second_run(platform, instance, generated_runs):
    """Every layer over a day range (the UI's Materialize all with a range of days): bronze is one
    run over the days, and silver, plots and features one run over every module of those days."""
    platform.land(generated_runs, "runs/")
    days = ["2024-07-01", "2024-07-02"]
    graph = Definitions(assets=[telemetry_day, *ASSETS], resources=platform.resources).resolve_asset_graph()
    with partition_loading_context(dynamic_partitions_store=instance):
        (bronze,) = build_run_requests_with_backfill_policies(
            [AssetKeyPartitionKey(telemetry_day.key, d) for d in days], graph, instance
        )
    r = materialize([telemetry_day], instance=instance, resources=platform.resources, tags=dict(bronze.tags))
    assert r.success and mat_partitions(r, "bronze/telemetry_day") == set(days)
    pms = instance.get_dynamic_partitions("phase_module")
    with partition_loading_context(dynamic_partitions_store=instance):
        (rest,) = build_run_requests_with_backfill_policies(
            [AssetKeyPartitionKey(a.key, f"{d}|{pm}") for a in ASSETS for d in days for pm in pms], graph, instance
        )
    r = materialize(ASSETS, instance=instance, resources=platform.resources, tags=dict(rest.tags))
    assert r.success
    assert not [e for e in r.all_events if e.event_type_value == "STEP_SKIPPED"]
    for name in ("silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features"):
        assert mat_days(r, name) == set(days), name
