"""Small helpers shared by the Dagster-layer tests."""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG


def range_tags(start: str, end: str) -> dict[str, str]:
    """Tags of a single run covering a partition key range (what a single-run backfill launches)."""
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def tree_digest(root: Path, pattern: str = "*") -> dict[str, str]:
    """{relative path: sha256} of the files under root (hidden temp files would show up here too)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(root).rglob(pattern))
        if p.is_file()
    }


def mat_partitions(result, asset: str) -> set[str]:
    return {
        str(e.event_specific_data.materialization.partition)
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key.to_user_string() == asset
    }


def module_days(instance, first: str, last: str | None = None, modules: list[str] | None = None) -> dict[str, str]:
    """Tags of one run over the rectangle of (day, phase_module) partitions: the days `first`..`last`
    by `modules` (default: every registered phase_module; a contiguous block of the registry)."""
    order = instance.get_dynamic_partitions("phase_module")
    chosen = [m for m in order if modules is None or m in modules]
    assert chosen and (modules is None or order[order.index(chosen[0]) : order.index(chosen[-1]) + 1] == chosen), modules
    return range_tags(f"{first}|{chosen[0]}", f"{last or first}|{chosen[-1]}")


def mat_days(result, asset: str) -> set[str]:
    """The days of the (day, phase_module) partitions materialised in a run."""
    return {key.split("|")[0] for key in mat_partitions(result, asset)}


@contextmanager
def open_instance(home: Path):
    """The instance of a `dagster.yaml` folder, as a process with `DAGSTER_HOME=home` opens it (the
    packaged instance's event log finds its files through `DAGSTER_HOME`)."""
    from dagster import DagsterInstance

    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        instance = DagsterInstance.from_config(str(home))
    finally:
        if before is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = before
    with instance:
        yield instance
