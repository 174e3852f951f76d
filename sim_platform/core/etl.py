"""The ETL: plan the input, process one UTC day at a time (days in parallel), collect every failure.

A day is the unit of work and of failure. Its files are read, merged, deduplicated and resampled;
every hierarchy's table is validated against the hour-file schema; only then are its hour files
written. A bad file fails its day (the day's previous output is left as it was) unless
`skip_bad_files` is set, in which case the day is built from its good files; either way every bad
file is listed with its reason, and the other days go on. Peak memory is that of one day per
worker, whatever the number of days.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sim_platform.core.catalog import Catalog, SeriesError, default_catalog, load_catalog
from sim_platform.core.inputs import InputFile, InputPlan, plan_inputs
from sim_platform.core.layout import LocalTarget, OutputTarget, day_start_ms, write_hierarchy_day
from sim_platform.core.rawdata import InputError, RawBatch, concat_batches
from sim_platform.core.resample import DAY_MS, HierarchyDay, resample_day


@dataclass
class DayResult:
    day: date
    raw_rows: int = 0
    distinct_rows: int = 0
    files_read: int = 0
    files_written: list[str] = field(default_factory=list)
    hierarchies: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "path: reason"
    written: bool = False
    seconds: float = 0.0


@dataclass
class EtlSummary:
    days: list[DayResult] = field(default_factory=list)
    plan_failures: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    ignored: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        seen, out = set(), []
        for f in self.plan_failures + [f for d in self.days for f in d.failures]:
            if f not in seen:
                seen.add(f)
                out.append(f)
        return out

    @property
    def ok(self) -> bool:
        return not self.failures

    def totals(self) -> dict[str, float]:
        return {
            "days": len(self.days),
            "days_written": sum(d.written for d in self.days),
            "raw_rows": sum(d.raw_rows for d in self.days),
            "distinct_rows": sum(d.distinct_rows for d in self.days),
            "files_written": sum(len(d.files_written) for d in self.days),
            "failed_inputs": len(self.failures),
            "seconds": round(self.seconds, 2),
        }


def read_day(files: list[InputFile], day: date, catalog: Catalog) -> tuple[RawBatch, list[InputError]]:
    """Read every file's rows of one day; bad files are returned as errors, not raised."""
    from sim_platform.core.hdf5_runs import read_run_file
    from sim_platform.core.telemetry_reader import read_telemetry

    start = day_start_ms(day)
    window = (start, start + DAY_MS)
    batches, errors = [], []
    for f in files:
        reader = read_telemetry if f.kind == "telemetry" else read_run_file
        try:
            batch = reader(f.path, catalog, None if f.days == (day,) else window)
            for payload, tags in batch.series:  # placement problems belong to the file, too
                catalog.place(payload, tags)
            batches.append(batch)
        except SeriesError as exc:
            errors.append(InputError(f.path, str(exc)))
        except InputError as exc:
            errors.append(exc)
    return concat_batches(batches), errors


def build_day(batch: RawBatch, day: date, catalog: Catalog, validate: bool = True) -> list[HierarchyDay]:
    """Resample a day and validate every hierarchy against the hour-file schema."""
    tables = resample_day(batch, day_start_ms(day), catalog)
    if validate:
        from sim_platform.core.validate import validate_table

        for hd in tables:
            present = [hd.table.slice(h * 720, 720) for h in hd.hours]
            if present:
                import pyarrow as pa

                validate_table(pa.concat_tables(present), catalog, hd.hierarchy)
    return tables


def process_day(
    files: list[InputFile],
    day: date,
    target: OutputTarget,
    catalog: Catalog,
    skip_bad_files: bool = False,
) -> DayResult:
    t0 = time.perf_counter()
    result = DayResult(day, files_read=len(files))
    batch, errors = read_day(files, day, catalog)
    result.failures = [str(e) for e in errors]
    result.raw_rows = batch.raw_rows
    if errors and not skip_bad_files:
        result.failures.append(f"day {day}: not written, {len(errors)} bad input file(s)")
        result.seconds = time.perf_counter() - t0
        return result
    try:
        tables = build_day(batch, day, catalog)
    except Exception as exc:  # a schema violation or a bug: the day fails, with the reason
        result.failures.append(f"day {day}: {type(exc).__name__}: {exc}")
        result.seconds = time.perf_counter() - t0
        return result
    for hd in tables:
        result.files_written += write_hierarchy_day(target, hd, day)
        result.hierarchies.append(hd.hierarchy)
        result.unknown_columns += [f"{hd.hierarchy}/{c}" for c in hd.unknown_columns]
    result.distinct_rows = sum(hd.distinct_rows for hd in tables)
    result.written = True
    result.seconds = time.perf_counter() - t0
    return result


# ------------------------------------------------------------------ parallel driver
_WORKER_STATE: dict = {}


def _init_worker(catalog_path: str | None, output: str) -> None:
    _WORKER_STATE["catalog"] = load_catalog(catalog_path) if catalog_path else default_catalog()
    _WORKER_STATE["target"] = LocalTarget(output)


def _run_day(files: list[InputFile], day: date, skip_bad_files: bool) -> DayResult:
    return process_day(files, day, _WORKER_STATE["target"], _WORKER_STATE["catalog"], skip_bad_files)


def run_etl(
    input_dir: str | Path,
    output_dir: str | Path,
    workers: int | None = None,
    catalog_path: str | Path | None = None,
    skip_bad_files: bool = False,
    on_plan: Callable[[InputPlan], None] | None = None,
    on_day: Callable[[DayResult], None] | None = None,
) -> EtlSummary:
    """Process every day under `input_dir` into the hour-file layout under `output_dir`."""
    t0 = time.perf_counter()
    catalog = load_catalog(catalog_path) if catalog_path else default_catalog()
    plan = plan_inputs(input_dir, catalog)
    if on_plan:
        on_plan(plan)
    summary = EtlSummary(
        plan_failures=[str(e) for e in plan.failures], duplicates=plan.duplicates, ignored=len(plan.ignored)
    )
    days = plan.by_day()
    # biggest days first, so the last worker to finish is not stuck with the largest one
    order = sorted(days, key=lambda d: -sum(f.size / len(f.days) for f in days[d]))
    workers = max(1, min(workers or os.cpu_count() or 1, len(order) or 1))
    cat_arg = str(catalog_path) if catalog_path else None
    if workers == 1:
        _init_worker(cat_arg, str(output_dir))
        for d in order:
            res = _run_day(days[d], d, skip_bad_files)
            summary.days.append(res)
            if on_day:
                on_day(res)
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(cat_arg, str(output_dir))) as pool:
            futures = {pool.submit(_run_day, days[d], d, skip_bad_files): d for d in order}
            for fut in as_completed(futures):
                res = fut.result()
                summary.days.append(res)
                if on_day:
                    on_day(res)
    summary.days.sort(key=lambda r: r.day)
    summary.seconds = time.perf_counter() - t0
    return summary
