"""Bronze for many UTC days in one run: each day read, deduplicated and written by workers.

The days go through the one day scheduler (`exec.days`), as the ETL's do: a day per task while
there are enough days for every worker; the last days are read in chunks by every worker, then
merged and written as one task, so no core idles at the end of a run or through a run of one day.

A day is the unit of failure, as in the ETL: a bad input file fails its day (the message names the
file and the reason) and nothing is written for that day, while the other days go on. A day with
no input file at all is not a failure: it is skipped (no bronze file, nothing to record). A worker
that dies fails the days it held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sim_platform.core.bronze.day_file import bronze_relpath, write_bronze
from sim_platform.core.config.catalog import Catalog
from sim_platform.core.exec.days import largest_first, run_days
from sim_platform.core.exec.pool import process_pool
from sim_platform.core.ingest.plan import InputFile
from sim_platform.core.ingest.rawdata import concat_batches
from sim_platform.core.ingest.read import day_bytes, read_chunks, read_day
from sim_platform.core.text import shorten


@dataclass
class BronzeOutcome:
    day: str
    files: int = 0
    summary: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # "path: reason"

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def skipped(self) -> bool:
        """No input file names this day: nothing was read or written."""
        return self.files == 0 and not self.errors


def bronze_day(day: str, files: list[InputFile], bronze_dir: str, catalog: Catalog) -> BronzeOutcome:
    """Read, deduplicate and write one day; every failure comes back as the day's errors (a whole
    day is a split day of one chunk)."""
    if not files:
        return BronzeOutcome(day)
    return _write_day(day, [_read_chunk(day, files, catalog)], len(files), bronze_dir, catalog)


def bronze_days(
    files_by_day: dict[str, list[InputFile]],
    bronze_dir: str,
    catalog: Catalog,
    workers: int,
    kept: dict[str, list[str]] | None = None,
) -> list[BronzeOutcome]:
    """Every day of `files_by_day`; days with files run in `workers` processes, the others are
    skipped without a task (a 60-day range with 4 days of data costs 4 days of work). A day of
    `kept` (a refused input of its own, `InputPlan.days_kept`) fails with those lines and keeps
    its previous bronze file, as `sim-platform etl` keeps a day."""
    kept = kept or {}
    refused = [BronzeOutcome(d, len(files_by_day[d]), errors=kept[d]) for d in files_by_day if d in kept]
    busy = largest_first({d: day_bytes(files) for d, files in files_by_day.items() if files and d not in kept})
    idle = [BronzeOutcome(d) for d in files_by_day if not files_by_day[d] and d not in kept]
    workers = max(1, min(workers, sum(len(files_by_day[d]) for d in busy) or 1))
    done: list[BronzeOutcome] = []
    if workers == 1:
        done = [bronze_day(d, files_by_day[d], bronze_dir, catalog) for d in busy]
    else:
        with process_pool(workers) as pool:
            run_days(pool, busy, workers, _BronzeDays(files_by_day, bronze_dir, catalog, workers, done.append))
    return sorted(done + idle + refused, key=lambda o: o.day)


def _read_chunk(day: str, files: list[InputFile], catalog: Catalog):
    try:
        return read_day(files, date.fromisoformat(day), catalog)
    except Exception as exc:  # reported by the day, which is then not written
        return None, [shorten(f"day {day}: {type(exc).__name__}: {exc}", 300)]


def _write_day(day: str, parts: list, files: int, bronze_dir: str, catalog: Catalog) -> BronzeOutcome:
    outcome = BronzeOutcome(day, files=files, errors=[str(e) for _, errs in parts for e in errs])
    if not outcome.ok:
        return outcome
    try:
        d = date.fromisoformat(day)
        batch = concat_batches([b for b, _ in parts])
        outcome.summary = write_bronze(batch, d, catalog, Path(bronze_dir) / bronze_relpath(d))
    except Exception as exc:
        outcome.errors.append(shorten(f"day {day}: {type(exc).__name__}: {exc}", 300))
    return outcome


class _BronzeDays:
    """Bronze's days for the day scheduler: a whole day is `bronze_day`; a split day is read in
    chunks by every worker, then merged and written by one."""

    def __init__(self, files_by_day, bronze_dir: str, catalog: Catalog, workers: int, done):
        self.files_by_day, self.bronze_dir, self.catalog, self.workers, self.done = (
            files_by_day,
            bronze_dir,
            catalog,
            workers,
            done,
        )

    def whole(self, d):
        return bronze_day, (d, self.files_by_day[d], self.bronze_dir, self.catalog)

    def chunks(self, d):
        return [(_read_chunk, (d, chunk, self.catalog)) for chunk in read_chunks(self.files_by_day[d], self.workers)]

    def merged(self, d, parts):
        return [(_write_day, (d, parts, len(self.files_by_day[d]), self.bronze_dir, self.catalog))]

    def finished(self, d, results):
        self.done(results[0])

    def lost(self, days, exc):
        for d in days:
            self.done(
                BronzeOutcome(d, len(self.files_by_day[d]), errors=[f"day {d}: not written: a worker process died ({exc})"])
            )
