"""The gold layout and its two steps, over any target (a folder or the blob container).

- `module_day_features/{phase_module}/YYYY/MM/DD.parquet`: one row of `features.FEATURE_SCHEMA`
  per (day, module), computed from that day's silver hour files (and the system's, for RUN/IDLE).
- `ml_training_set/{quarter}.parquet`: every module-day row of a quarter, one table, which is
  also what `warehouse.load_quarter` loads.

Targets are the ones silver uses (`put`, `get`, `list_day`, `delete`); `get` raises
FileNotFoundError for a missing file, so a missing day is a None, not an error. Files appear
atomically (the targets guarantee it), so a reader never sees half a feature file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from sim_platform.core.config.catalog import SYSTEM, Catalog
from sim_platform.core.exec.pool import process_pool
from sim_platform.core.gold.features import features_table, module_day_features, quarter_days
from sim_platform.core.silver.encode import table_to_parquet_bytes
from sim_platform.core.store.read import read_stored_day

FEATURES = "module_day_features"
TRAINING_SET = "ml_training_set"
#: parallel reads of small files: the container answers each request in a round trip
READ_THREADS = 8


def feature_relpath(phase_module: str, day: date) -> str:
    return f"{FEATURES}/{phase_module}/{day:%Y/%m/%d}.parquet"


def training_set_relpath(quarter: str) -> str:
    return f"{TRAINING_SET}/{quarter}.parquet"


def is_module(hierarchy: str) -> bool:
    return hierarchy.startswith("phase") and "_module" in hierarchy


def write_table(target, relpath: str, table: pa.Table) -> None:
    target.put(relpath, table_to_parquet_bytes(table))


def read_table(target, relpath: str) -> pa.Table | None:
    try:
        return pq.read_table(io.BytesIO(target.get(relpath)))
    except FileNotFoundError:
        return None


def build_module_days(
    silver, gold, keys: Iterable[tuple[date, str]], catalog: Catalog | None = None
) -> dict[tuple[date, str], pa.Table | None]:
    """Features of every (day, module) in `keys`, read from `silver` and written to `gold`.

    A key whose module has no silver data that day gets no row (and an older feature file of it is
    removed, so gold stays a function of silver). The system day is read once per day.
    """
    out: dict[tuple[date, str], pa.Table | None] = {}
    systems: dict[date, object] = {}
    for day, pm in keys:
        if day not in systems:
            systems[day] = read_stored_day(silver, SYSTEM, day)
        module = read_stored_day(silver, pm, day)
        if module is None:
            gold.delete(feature_relpath(pm, day))
            out[(day, pm)] = None
            continue
        row = module_day_features(module, systems[day], day, pm, catalog)
        write_table(gold, feature_relpath(pm, day), row)
        out[(day, pm)] = row
    return out


def _days_task(open_silver, open_gold, keys: list[tuple[date, str]], catalog: Catalog | None):
    return build_module_days(open_silver(), open_gold(), keys, catalog)


def build_module_days_parallel(
    open_silver: Callable,
    open_gold: Callable,
    keys: Iterable[tuple[date, str]],
    workers: int,
    on_day: Callable | None = None,
    catalog: Catalog | None = None,
) -> dict[tuple[date, str], pa.Table | None]:
    """`build_module_days` with the days spread over `workers` processes (a day is one task, so the
    system day is still read once). `open_*` are picklable zero-argument factories of the targets
    (a blob client cannot cross a process boundary; what opens one can). `on_day(day)` reports progress."""
    by_day: dict[date, list[tuple[date, str]]] = {}
    for day, pm in keys:
        by_day.setdefault(day, []).append((day, pm))
    out: dict[tuple[date, str], pa.Table | None] = {}
    if workers <= 1 or len(by_day) <= 1:
        silver, gold = open_silver(), open_gold()
        for day in sorted(by_day):
            out.update(build_module_days(silver, gold, by_day[day], catalog))
            if on_day:
                on_day(day)
        return out
    with process_pool(min(workers, len(by_day))) as pool:
        futures = {pool.submit(_days_task, open_silver, open_gold, by_day[d], catalog): d for d in sorted(by_day)}
        for fut in as_completed(futures):
            out.update(fut.result())
            if on_day:
                on_day(futures[fut])
    return out


def quarter_features(gold, quarter: str, phase_modules: Iterable[str], catalog: Catalog | None = None) -> pa.Table:
    """Every stored module-day row of `quarter` for the given modules, as one sorted table."""
    paths = [feature_relpath(pm, d) for pm in phase_modules if is_module(pm) for d in quarter_days(quarter)]
    with ThreadPoolExecutor(READ_THREADS) as pool:
        rows = [t for t in pool.map(lambda rel: read_table(gold, rel), paths) if t is not None]
    return features_table(rows, catalog)


def publish_quarter(
    gold, warehouse, quarter: str, phase_modules: Iterable[str], table_name: str = TRAINING_SET, catalog: Catalog | None = None
):
    """The quarter's training set: gathered from the feature files, written to
    `training_set_relpath(quarter)` and loaded into `warehouse` (one transaction, upsert by key).
    Returns (table, relpath, LoadReport); LookupError, before anything is written, when the quarter
    has no feature rows (an empty load would delete the quarter's rows from the warehouse)."""
    table = quarter_features(gold, quarter, phase_modules, catalog)
    if table.num_rows == 0:
        raise LookupError(f"no module-day features for {quarter}: materialise gold/module_day_features for its days first")
    rel = training_set_relpath(quarter)
    write_table(gold, rel, table)
    return table, rel, warehouse.load_quarter(table, quarter, table_name)


def stored_module_days(silver_root) -> list[tuple[date, str]]:
    """Every (day, module) with hour files under a local silver folder, sorted."""
    from pathlib import Path

    out = []
    for folder in Path(silver_root).glob("phase*_module*/[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]"):
        pm = folder.parts[-4]
        if is_module(pm) and any(folder.glob("[0-2][0-9].parquet")):
            out.append((date(int(folder.parts[-3]), int(folder.parts[-2]), int(folder.parts[-1])), pm))
    return sorted(out)
