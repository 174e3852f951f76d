"""The one rule of the Dagster layer for a run over many days: materialise what was built, fail
what failed.

When every requested day was built, the asset's output is yielded (the IO manager stores it, when
there is one) and Dagster materialises the run's whole range, so the layers selected with it in the
same run go on. Otherwise only the days built are materialised, one by one (their storing done by
the caller first), the steps after this one in the run are skipped (Dagster's rule for a missing
output), and `days_failure` makes the run fail naming the days and their reasons.

`add_partition_metadata` is how every asset here attaches what the UI shows per partition of a
ranged run.
"""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetMaterialization, DagsterInvariantViolationError, Failure, Output
from dagster._core.execution.context.metadata_logging import AssetMetadataHandle, OutputMetadataAccumulator

from sim_platform.core.text import shorten


def add_partition_metadata(context: AssetExecutionContext, metadata: dict[str, dict]) -> None:
    """`context.add_asset_metadata(meta, partition_key=key)` for every key of `metadata` at once.

    Dagster's method computes the run's whole partition range again at each call, with a query of
    the dynamic `phase_module` partitions, to check the key: 25 ms a key at 840 keys, so a run's
    metadata costs the square of its partitions (`bench/backfill_bench.py --floor`: 22 s of a
    30-day run of 840 partitions that does no data work). Here the keys are checked against the
    range once, and the step's metadata is extended in one step, as the method itself does it
    (pinned by the tests that read every partition's metadata back)."""
    targeted = set(context.partition_keys)
    outside = [key for key in metadata if key not in targeted]
    if outside:
        raise DagsterInvariantViolationError(f"metadata for partition(s) the run does not target: {outside[:3]}")
    step = context.op_execution_context._step_execution_context  # noqa: SLF001
    merged = dict(step._metadata_accumulator.per_output_metadata)  # noqa: SLF001
    for key, meta in metadata.items():
        handle = AssetMetadataHandle(asset_key=context.asset_key, partition_key=key)
        merged[handle] = {**merged.get(handle, {}), **meta}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=merged)  # noqa: SLF001


def materialize_days(context: AssetExecutionContext, metadata: dict[str, dict], complete: bool, value=None) -> Iterator:
    """`metadata`: per built day (a partition key), what the UI shows; `complete`: every requested
    day was built (then `value` is the output)."""
    if complete:
        add_partition_metadata(context, metadata)
        yield Output(value)
        return
    for day, meta in metadata.items():
        yield AssetMaterialization(asset_key=context.asset_key, partition=day, metadata=meta)


def days_failure(text: str, metadata: dict, limit: int = 1000) -> Failure:
    """The run's failure: one bounded line naming the failed days, and the detail as metadata.
    Never retried: bad input or a damaged file fails the same way again."""
    return Failure(shorten(text, limit), metadata=metadata, allow_retries=False)
