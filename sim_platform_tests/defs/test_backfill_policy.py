"""The runs a backfill launches under the assets' BackfillPolicy, and that such runs execute.

Dagster's backfill daemon turns a selection into run requests with
`build_run_requests_with_backfill_policies`. Silver, plots and features are partitioned by day and
backfilled as single runs: a backfill of N days of the three of them is ONE run over the day range,
which we execute for real.
"""

from dagster import Definitions, materialize
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context

from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.gold.assets import module_day_features, module_day_plot
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform_tests.defs.helpers import mat_partitions, range_tags

ASSETS = [resampled_5s, module_day_plot, module_day_features]


def test_a_backfill_of_days_is_one_run_and_executes(platform, instance, generated_runs):
    platform.land(generated_runs, "runs/")
    days = ["2024-07-01", "2024-07-02"]
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, tags=range_tags(*days)).success
    wanted = [AssetKeyPartitionKey(a.key, d) for a in ASSETS for d in days]
    graph = Definitions(assets=[telemetry_day, *ASSETS], resources=platform.resources).resolve_asset_graph()
    with partition_loading_context(dynamic_partitions_store=instance):  # as the backfill daemon does
        requests = build_run_requests_with_backfill_policies(wanted, graph, instance)
    (rr,) = requests  # one run, not one per day, module or asset
    assert (rr.tags["dagster/asset_partition_range_start"], rr.tags["dagster/asset_partition_range_end"]) == tuple(days)
    assert set(rr.asset_selection) == {a.key for a in ASSETS}
    # execute it exactly as the backfill would (same tags): silver, its checks, plots and features
    r = materialize(ASSETS, instance=instance, resources=platform.resources, tags=dict(rr.tags))
    assert r.success
    for name in ("silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features"):
        assert mat_partitions(r, name) == set(days), name
    assert len(list(platform.silver_root.glob("*/2024/07/0[12]/plot.png"))) == 2 * len(
        instance.get_dynamic_partitions("phase_module")
    )


def test_bronze_and_everything_after_it_in_one_run(platform, instance, generated_runs):
    """Selecting every layer (the UI's Materialize on the whole graph, or an asset backfill of all
    four: same daily partitions and single-run policies, so Dagster puts them in one run) builds
    each layer from the one before within the run: for one day, and for a range of days."""
    platform.land(generated_runs, "runs/")
    everything = [telemetry_day, *ASSETS]
    r = materialize(everything, instance=instance, resources=platform.resources, partition_key="2024-07-01")
    assert r.success
    assert not [e for e in r.all_events if e.event_type_value == "STEP_SKIPPED"]
    for name in ("bronze/telemetry_day", "silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features"):
        assert mat_partitions(r, name) == {"2024-07-01"}, name
    days = ["2024-07-01", "2024-07-02"]
    r = materialize(everything, instance=instance, resources=platform.resources, tags=range_tags(*days))
    assert r.success
    assert not [e for e in r.all_events if e.event_type_value == "STEP_SKIPPED"]
    for name in ("bronze/telemetry_day", "silver/resampled_5s", "gold/module_day_plot", "gold/module_day_features"):
        assert mat_partitions(r, name) == set(days), name
