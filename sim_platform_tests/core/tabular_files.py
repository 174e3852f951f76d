"""CSV and JSON copies of real telemetry exports, and pipelines files that declare them as sources.

The copies carry exactly the rows of the parquet export (same timestamps, values and tags), so a
CSV or JSON source must give byte-identical silver output to the export it was made from.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import yaml

PACKAGED = Path(__import__("sim_platform").__file__).parent / "config" / "pipelines.yaml"

#: the CSV layout: ISO timestamps, tags as `k=v;k=v`
CSV_COLUMNS = {"timestamp": "time", "payload": "signal", "value": "reading", "tags": "labels"}
#: the JSON layout: epoch milliseconds, tags as an object, numbers as JSON numbers
JSON_COLUMNS = {"timestamp": "ts", "payload": "name", "value": "v", "tags": "tags", "timestamp_format": "epoch_ms"}


def _rows(export: Path) -> list[dict]:
    return pq.read_table(export).to_pylist()


def export_to_csv(export: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time", "signal", "reading", "labels", "comment"])  # an extra column is ignored
        for r in _rows(export):
            when = datetime.fromtimestamp(r["timestamp"], UTC).isoformat()
            writer.writerow([when, r["payload_type"], r["value"], ";".join(f"{k}={v}" for k, v in r["tags"]), "x"])
    return out


def export_to_json_lines(export: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as fh:
        for r in _rows(export):
            try:
                value: float | str = float(r["value"])
            except ValueError:
                value = r["value"]
            fh.write(
                json.dumps({"ts": r["timestamp"] * 1000, "name": r["payload_type"], "v": value, "tags": dict(r["tags"])}) + "\n"
            )
    return out


def pipelines_with(path: Path, sources: dict, keep_defaults: bool = True) -> Path:
    """A copy of the packaged pipelines file with `sources` added (after, or instead of, the defaults)."""
    raw = yaml.safe_load(PACKAGED.read_text())
    raw["sources"] = {**(raw["sources"] if keep_defaults else {}), **sources}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
