"""Bronze work for many UTC days in one run: each day read, deduplicated and written by a worker.

A day is the unit of failure, as in the core ETL: a bad input file fails its day (the message
names the file and the reason) and nothing is written for that day, while the other days go on.
No Dagster import here; the `telemetry_day` asset turns the outcomes into metadata or a failure.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sim_platform.core.bronze import bronze_relpath, write_bronze
from sim_platform.core.catalog import default_catalog, load_catalog
from sim_platform.core.etl import read_day
from sim_platform.core.inputs import InputFile


@dataclass
class BronzeOutcome:
    day: str
    files: int = 0
    summary: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # "path: reason"

    @property
    def ok(self) -> bool:
        return not self.errors


def bronze_day(day: str, files: list[InputFile], bronze_dir: str, config_path: str) -> BronzeOutcome:
    d = date.fromisoformat(day)
    catalog = load_catalog(config_path) if config_path else default_catalog()
    batch, errors = read_day(files, d, catalog)
    outcome = BronzeOutcome(day, files=len(files), errors=[str(e) for e in errors])
    if outcome.ok:
        outcome.summary = write_bronze(batch, d, catalog, Path(bronze_dir) / bronze_relpath(d))
    return outcome


def bronze_days(files_by_day: dict[str, list[InputFile]], bronze_dir: str, config_path: str, workers: int) -> list[BronzeOutcome]:
    tasks = [(d, files_by_day[d], bronze_dir, config_path) for d in sorted(files_by_day)]
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        return [bronze_day(*t) for t in tasks]
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(bronze_day, *zip(*tasks)))
