"""The runs a backfill launches under the assets' BackfillPolicy, and that such runs execute.

Dagster's backfill daemon turns a selection into run requests with
`build_run_requests_with_backfill_policies`; for the (date x phase_module) assets it splits the
selection into partition ranges along one dimension. We ask it what it would launch for 3 days x
all modules, check that every partition is covered by few runs (not one per partition), and
execute one of those runs for real: the IO manager must handle the multi-partition range.
"""

from __future__ import annotations

from dagster import AssetKey, Definitions, PartitionKeyRange, materialize
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies

from sim_platform.defs.assets import module_day_plot, resampled_5s, telemetry_day
from sim_platform.defs.partitions import silver_key, silver_partitions, split_key
from sim_platform_tests.defs.helpers import mat_partitions, range_tags


def test_backfill_runs_cover_ranges_and_execute(platform, instance, generated_runs):
    platform.land(generated_runs, "runs/")
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, tags=range_tags("2024-07-01", "2024-07-02")).success
    pms = instance.get_dynamic_partitions("phase_module")
    days = ["2024-07-01", "2024-07-02"]
    wanted = [AssetKeyPartitionKey(AssetKey(["silver", "resampled_5s"]), str(silver_key(d, pm))) for d in days for pm in pms]
    graph = Definitions(assets=[telemetry_day, resampled_5s, module_day_plot], resources=platform.resources).resolve_asset_graph()
    with partition_loading_context(dynamic_partitions_store=instance):  # as the backfill daemon does
        requests = build_run_requests_with_backfill_policies(wanted, graph, instance)
    assert 1 <= len(requests) <= min(len(days), len(pms))  # ranges, not one run per partition
    covered = set()
    for rr in requests:
        start, end = rr.tags["dagster/asset_partition_range_start"], rr.tags["dagster/asset_partition_range_end"]
        with partition_loading_context(dynamic_partitions_store=instance):
            keys = silver_partitions.get_partition_keys_in_range(PartitionKeyRange(start, end))
        covered |= {str(k) for k in keys}
    assert covered == {str(silver_key(d, pm)) for d in days for pm in pms}
    # execute the first run exactly as the backfill would (same tags), silver + its checks
    rr = requests[0]
    r = materialize([resampled_5s], instance=instance, resources=platform.resources, tags=dict(rr.tags))
    assert r.success
    got = mat_partitions(r, "silver/resampled_5s")
    start, end = split_key(rr.tags["dagster/asset_partition_range_start"]), split_key(rr.tags["dagster/asset_partition_range_end"])
    assert len(got) > 1 and all(split_key(k)[0] in days for k in got)
    assert any((platform.silver_root / start[1]).rglob("*.parquet")) and any((platform.silver_root / end[1]).rglob("*.parquet"))
