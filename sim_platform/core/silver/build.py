"""Building a day of silver: refuse what blocks it, resample, validate, encode.

The same calls, in the same order, for `sim-platform etl` and for the Dagster silver asset, so the
hour files' bytes are the same whichever shell made them: `refusals` (a bad file, a blocking value
policy), `build_day` (resample to the 5-second grid, then the structural schema), and
`stage_tables` (encode every hierarchy's hour files into a publisher).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pyarrow as pa

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.grid import BINS_PER_HOUR, day_start_ms
from sim_platform.core.exec import failpoints
from sim_platform.core.ingest.rawdata import RawBatch
from sim_platform.core.ingest.screen import failing
from sim_platform.core.silver.encode import put_hierarchy_day
from sim_platform.core.silver.resample import HierarchyDay, resample_day

#: threads writing a day's hour files (parquet encoding and file I/O release the GIL)
WRITER_THREADS = 2


def build_day(batch: RawBatch, day: date, catalog: Catalog, validate: bool = True) -> list[HierarchyDay]:
    """Resample a day and validate every hierarchy against the structural hour-file schema
    (`validate.StructuralError`, one short line, when one breaks it)."""
    failpoints.hit("resample")
    tables = resample_day(batch, day_start_ms(day), catalog)
    if validate:
        broken = structural_breaks(tables, catalog)
        if broken:
            raise next(iter(broken.values()))
    return tables


def structural_breaks(tables: list[HierarchyDay], catalog: Catalog) -> dict:
    """`{hierarchy: validate.StructuralError}` of the hierarchies whose hour tables break the
    structural hour-file schema (the ETL refuses the day for any; Dagster the (module, day))."""
    from sim_platform.core.silver.validate import StructuralError, validate_table

    broken = {}
    for hd in tables:
        present = [hd.table.slice(h * BINS_PER_HOUR, BINS_PER_HOUR) for h in hd.hours]
        if present:
            try:
                validate_table(pa.concat_tables(present), catalog, hd.hierarchy)
            except StructuralError as exc:
                broken[hd.hierarchy] = exc
    return broken


def blocking_lines(flagged: dict, hierarchies: set[str] | None = None) -> list[str]:
    """Why a day is not written because of a blocking value policy (`out_of_range: fail`), one
    line per column; only the columns of `hierarchies` when given."""
    return [line for line in failing(flagged) if hierarchies is None or line.split("/", 1)[0] in hierarchies]


def stage_tables(pub, tables: list[HierarchyDay], day: date) -> list[str]:
    """Encode and put every hierarchy's hour files (writer threads: encoding and I/O release the GIL)."""
    with ThreadPoolExecutor(WRITER_THREADS) as writers:
        return [f for files in writers.map(lambda hd: put_hierarchy_day(pub, hd, day), tables) for f in files]
