"""Small helpers shared by the Dagster-layer tests."""

from __future__ import annotations

import hashlib
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
