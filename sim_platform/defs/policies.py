"""Policies shared by the assets: single-run backfills and retries of the steps that touch the container.

`single_run`: one run covers a whole partition range (a day's bronze is read once for all of its
modules, days in parallel processes). Dagster marks `@asset(backfill_policy=...)` as beta and warns
on every load; `with_single_run` sets the same policy through `AssetsDefinition.with_attributes`,
which does not warn.

`CONTAINER_RETRY`: a step that failed on the blob container (the network, a throttled account) is
retried by Dagster, with exponential backoff and jitter. It is the only retry on top of the storage
layer's one (the Azure SDK's per-request `ExponentialRetry`).
"""

from __future__ import annotations

from dagster import AssetsDefinition, BackfillPolicy, Backoff, Jitter, RetryPolicy

CONTAINER_RETRY = RetryPolicy(max_retries=2, delay=10, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


def with_single_run(asset: AssetsDefinition) -> AssetsDefinition:
    return asset.with_attributes(backfill_policy=BackfillPolicy.single_run())
