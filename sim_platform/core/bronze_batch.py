"""Bronze work for many UTC days in one run: each day read, deduplicated and written by workers.

Scheduled as the ETL schedules its days (`etl._run_pipeline`): the largest days first; while at
least as many days are left as there are workers, a day is one task (read, merge and write in one
worker: its rows never cross a process boundary, and memory does not grow with the days); the last
days, fewer than the workers, are read in chunks of about `etl.READ_CHUNK_BYTES` by every worker and
then merged and written as one task, so no core idles at the end of a run or through a run of one
day.

A day is the unit of failure, as in the core ETL: a bad input file fails its day (the message
names the file and the reason) and nothing is written for that day, while the other days go on. A
day with no input file at all is not a failure: it is skipped (no bronze file, nothing to record).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sim_platform.core.bronze import bronze_relpath, write_bronze
from sim_platform.core.catalog import default_catalog, load_catalog
from sim_platform.core.etl import largest_first, read_chunks, read_day
from sim_platform.core.inputs import InputFile
from sim_platform.core.parallel import process_pool
from sim_platform.core.rawdata import clip, concat_batches


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


def bronze_day(day: str, files: list[InputFile], bronze_dir: str, config_path: str) -> BronzeOutcome:
    """Read, deduplicate and write one day; every failure comes back as the day's errors."""
    if not files:
        return BronzeOutcome(day)
    outcome = BronzeOutcome(day, files=len(files))
    try:
        d = date.fromisoformat(day)
        catalog = load_catalog(config_path) if config_path else default_catalog()
        batch, errors = read_day(files, d, catalog)
        outcome.errors = [str(e) for e in errors]
        if outcome.ok:
            outcome.summary = write_bronze(batch, d, catalog, Path(bronze_dir) / bronze_relpath(d))
    except Exception as exc:  # a day never takes the others down with it
        outcome.errors.append(clip(f"day {day}: {type(exc).__name__}: {exc}", 300))
    return outcome


def bronze_days(files_by_day: dict[str, list[InputFile]], bronze_dir: str, config_path: str, workers: int) -> list[BronzeOutcome]:
    """Every day of `files_by_day`; days with files run in `workers` processes, the others are
    skipped without a task (a 60-day range with 4 days of data costs 4 days of work)."""
    busy = largest_first({d: files for d, files in files_by_day.items() if files})  # as the ETL orders its days
    idle = [BronzeOutcome(d) for d in files_by_day if not files_by_day[d]]
    workers = max(1, min(workers, sum(len(files_by_day[d]) for d in busy) or 1))
    if workers == 1:
        done = [bronze_day(d, files_by_day[d], bronze_dir, config_path) for d in busy]
    else:
        done = _pipeline(files_by_day, busy, bronze_dir, config_path, workers)
    return sorted(done + idle, key=lambda o: o.day)


def _read_chunk(day: str, files: list[InputFile], config_path: str):
    catalog = load_catalog(config_path) if config_path else default_catalog()
    try:
        return read_day(files, date.fromisoformat(day), catalog)
    except Exception as exc:  # reported by the day, which is then not written
        return None, [clip(f"day {day}: {type(exc).__name__}: {exc}", 300)]


def _write_day(day: str, parts: list, files: int, bronze_dir: str, config_path: str) -> BronzeOutcome:
    outcome = BronzeOutcome(day, files=files, errors=[str(e) for _, errs in parts for e in errs])
    if not outcome.ok:
        return outcome
    try:
        d = date.fromisoformat(day)
        catalog = load_catalog(config_path) if config_path else default_catalog()
        batch = concat_batches([b for b, _ in parts])
        outcome.summary = write_bronze(batch, d, catalog, Path(bronze_dir) / bronze_relpath(d))
    except Exception as exc:
        outcome.errors.append(clip(f"day {day}: {type(exc).__name__}: {exc}", 300))
    return outcome


def _pipeline(files_by_day, busy: list[str], bronze_dir: str, config_path: str, workers: int) -> list[BronzeOutcome]:
    waiting = deque(busy)
    parts: dict[str, dict[int, tuple]] = {}
    expected: dict[str, int] = {}
    running: dict = {}
    done: list[BronzeOutcome] = []
    with process_pool(workers) as pool:
        while waiting or running:
            while waiting and len(running) < workers + 1:
                d = waiting.popleft()
                if len(waiting) + 1 >= workers:  # enough days left for every worker: a day per task
                    running[pool.submit(bronze_day, d, files_by_day[d], bronze_dir, config_path)] = ("day", d, 0)
                    continue
                chunks = read_chunks(files_by_day[d], workers)  # one of the last days: its files over every worker
                parts[d], expected[d] = {}, len(chunks)
                for i, chunk in enumerate(chunks):
                    running[pool.submit(_read_chunk, d, chunk, config_path)] = ("read", d, i)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                kind, d, i = running.pop(fut)
                if kind == "read":
                    parts[d][i] = fut.result()
                    if len(parts[d]) == expected[d]:  # in file order, so the day is the same whatever finished first
                        ordered = [parts[d][k] for k in range(expected[d])]
                        del parts[d], expected[d]
                        running[pool.submit(_write_day, d, ordered, len(files_by_day[d]), bronze_dir, config_path)] = (
                            "day",
                            d,
                            0,
                        )
                else:
                    done.append(fut.result())
    return done
