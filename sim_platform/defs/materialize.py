"""The one rule of the Dagster layer for a run over many days: materialise what was built, fail
what failed.

When every requested day was built, the asset's output is yielded (the IO manager stores it, when
there is one) and Dagster materialises the run's whole range, so the layers selected with it in the
same run go on. Otherwise only the days built are materialised, one by one (their storing done by
the caller first), the steps after this one in the run are skipped (Dagster's rule for a missing
output), and `days_failure` makes the run fail naming the days and their reasons.
"""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetMaterialization, Failure, Output

from sim_platform.core.text import shorten


def materialize_days(context: AssetExecutionContext, metadata: dict[str, dict], complete: bool, value=None) -> Iterator:
    """`metadata`: per built day (a partition key), what the UI shows; `complete`: every requested
    day was built (then `value` is the output)."""
    if complete:
        for day, meta in metadata.items():
            context.add_asset_metadata(meta, partition_key=day)
        yield Output(value)
        return
    for day, meta in metadata.items():
        yield AssetMaterialization(asset_key=context.asset_key, partition=day, metadata=meta)


def days_failure(text: str, metadata: dict, limit: int = 1000) -> Failure:
    """The run's failure: one bounded line naming the failed days, and the detail as metadata.
    Never retried: bad input or a damaged file fails the same way again."""
    return Failure(shorten(text, limit), metadata=metadata, allow_retries=False)
