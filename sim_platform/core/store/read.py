"""Reading a stored (hierarchy, day) back, the one way every reader does it: the ETL's plot,
the Dagster IO manager, gold's features, the notebook and the tests, from a folder or a container.
Also the stored day's quality report and the hierarchies it lists."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from sim_platform.core.store.layout import META_KEY, day_prefix, parse_meta

QUALITY_DIR = "_quality"


def report_relpath(day: date) -> str:
    """Where a day's data-quality report is stored."""
    return f"{QUALITY_DIR}/{day:%Y/%m/%d}.json"


def stored_report(target, day: date) -> dict | None:
    """The day's stored quality report, None when there is none (or it cannot be read)."""
    try:
        return json.loads(target.get(report_relpath(day)))
    except (FileNotFoundError, KeyError, OSError, ValueError):
        return None


def stored_hierarchies(target, day: date) -> list[str]:
    """The hierarchies with hour files on `day`, from the day's stored quality report."""
    return sorted((stored_report(target, day) or {}).get("hierarchies", {}))


@dataclass
class StoredDay:
    """The hour files of one (hierarchy, day) read back: the table of the hours present (in time
    order) and, summed over them, the bins with a real sample (`real_bins`, per column and `*any*`)."""

    table: pa.Table
    hours: list[int]
    real_bins: dict[str, int]
    columns: dict[str, dict[str, str]]

    @property
    def meta(self) -> dict:
        """The column facts in the form an hour file's metadata has (`store.layout.parse_meta`)."""
        return {"columns": self.columns, "real_bins": self.real_bins}


def read_stored_day(target, hierarchy: str, day: date) -> StoredDay | None:
    """Read a (hierarchy, day) back through any target with `list_day` and `get` (folder or container)."""
    rels = target.list_day(day_prefix(hierarchy, day))
    if not rels:
        return None
    tables, hours, real, columns = [], [], {}, {}
    for rel in rels:
        pf = pq.ParquetFile(io.BytesIO(target.get(rel)))
        meta = parse_meta((pf.metadata.metadata or {}).get(META_KEY.encode()))
        for col, n in meta.get("real_bins", {}).items():
            real[col] = real.get(col, 0) + int(n)
        columns.update(meta.get("columns", {}))
        tables.append(pf.read())
        hours.append(int(rel.rsplit("/", 1)[1][:2]))
    return StoredDay(pa.concat_tables(tables, promote_options="permissive"), hours, real, columns)
