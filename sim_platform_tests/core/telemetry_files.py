"""Hand-made telemetry exports for tests: exact rows, so expected outputs can be worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MASTER = ["message_source", "master"]


def epoch(text: str) -> int:
    """'2024-07-05T10:00:03' (UTC) -> epoch seconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def module_tags(phase: int, module: int, *extra: tuple[str, str]) -> list[list[str]]:
    return [["phase", str(phase)], ["module", str(module)], *[list(e) for e in extra], MASTER]


def write_export(path: Path, rows: list[tuple[int, str, str, list[list[str]]]]) -> Path:
    """rows: (epoch seconds, payload_type, value text, tags)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "timestamp": pa.array([r[0] for r in rows], pa.int64()),
            "payload_type": pa.array([r[1] for r in rows], pa.string()),
            "value": pa.array([r[2] for r in rows], pa.string()),
            "tags": pa.array([r[3] for r in rows], pa.list_(pa.list_(pa.string()))),
        }
    )
    pq.write_table(table, path)
    return path
