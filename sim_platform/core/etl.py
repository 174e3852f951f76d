"""The ETL: plan the input, process one UTC day at a time (days in parallel), collect every failure.

A day is the unit of work and of failure. Its files are read (numeric value rules applied per file,
`ingest.screen`), merged, deduplicated and resampled; every hierarchy's table is validated
against the structural hour-file schema; only then are its hour files written, with the day's
data-quality report (`_quality/YYYY/MM/DD.json`) beside them. Value anomalies never fail a day;
a broken structure, or a sample of a signal whose policy is `out_of_range: fail`, does. A bad file fails its day (the day's previous output is left as it was) unless
`skip_bad_files` is set, in which case the day is built from its good files; either way every bad
file is listed with its reason, and the other days go on. Peak memory is that of one day per
worker, whatever the number of days.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim_platform.core.config.pipelines import Pipelines, load_pipelines
from sim_platform.core.etl_day import WORKER_STATE, DayResult, EtlDays, init_worker, process_day
from sim_platform.core.exec import failpoints
from sim_platform.core.exec.days import largest_first, run_days
from sim_platform.core.exec.pool import process_pool
from sim_platform.core.ingest import manifest
from sim_platform.core.ingest.plan import InputPlan, SourceRoot, plan_inputs, plan_sources
from sim_platform.core.ingest.read import day_bytes
from sim_platform.core.store import publish

__all__ = ["DayResult", "EtlSummary", "run_etl"]


@dataclass
class EtlSummary:
    days: list[DayResult] = field(default_factory=list)
    plan_failures: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    ignored: int = 0
    excluded: list[str] = field(default_factory=list)  # folders left out of the input (the output, if inside)
    recovered: int = 0  # interrupted day publications of an earlier run that this run completed
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
            "days_unchanged": sum(d.unchanged for d in self.days),
            "raw_rows": sum(d.raw_rows for d in self.days),
            "distinct_rows": sum(d.distinct_rows for d in self.days),
            "files_written": sum(len(d.files_written) for d in self.days),
            "failed_inputs": len(self.failures),
            "seconds": round(self.seconds, 2),
        }


def run_etl(
    inputs: str | Path | list[SourceRoot],
    output_dir: str | Path,
    workers: int | None = None,
    pipes: Pipelines | None = None,
    skip_bad_files: bool = False,
    on_plan: Callable[[InputPlan], None] | None = None,
    on_day: Callable[[DayResult], None] | None = None,
    force: bool = False,
) -> EtlSummary:
    """Process every day of the inputs into the hour-file layout under `output_dir`.

    `inputs` is a folder (read with the configured sources' formats: each file by the first source
    whose patterns match its name) or explicit (folder, source) pairs from `landing.source_roots`.
    `pipes` is the run's loaded configuration (None: the packaged one). A day whose inputs and
    configuration are those its output was built from (its manifest says so) is skipped, unless
    `force` (see `ingest.manifest`).

    With several workers the days go through the one day scheduler (`exec.days`): a day per task
    while there are enough days for every worker; the last days are read in chunks by every worker,
    then resampled and staged by every worker, a share of its hierarchies each, and published by
    the parent as one unit, so no core idles at the end of a run, or through a run of one day.
    """
    t0 = time.perf_counter()
    pipes = pipes or load_pipelines()
    catalog = pipes.catalog
    output = Path(output_dir)
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"output {output} is a file, not a folder")
    recovered = publish.recover(output) if output.is_dir() else {}
    config = pipes.digest
    previous = manifest.load_manifests(output)
    known = manifest.known_days(previous)
    if isinstance(inputs, (str, Path)):
        plan = plan_inputs(inputs, catalog, pipes.source_formats(), exclude=(output,), known=known)
    else:
        plan = plan_sources(inputs, catalog, exclude=(output,), known=known)
    failpoints.hit("plan")
    if on_plan:
        on_plan(plan)
    summary = EtlSummary(
        plan_failures=[str(e) for e in plan.failures],
        duplicates=plan.duplicates,
        ignored=len(plan.ignored),
        excluded=[str(p) for p in plan.excluded],
        recovered=recovered.get("rolled_forward", 0),
    )
    days = plan.by_day()
    kept = {} if skip_bad_files else plan.days_kept(days, lambda d: publish.has_output(output, d), override="--skip-bad-files")
    same = (
        set()
        if force
        else {
            d
            for d in days
            if d not in kept and manifest.unchanged(previous.get(d), days[d], config) and publish.has_output(output, d)
        }
    )
    order = largest_first({d: day_bytes(files) for d, files in days.items() if d not in kept and d not in same})
    workers = max(1, min(workers or os.cpu_count() or 1, sum(len(days[d]) for d in order) or 1))

    def done(res: DayResult) -> None:
        summary.days.append(res)
        if on_day:
            on_day(res)

    for d, reasons in kept.items():
        done(DayResult(d, files_read=0, failures=reasons))
    for d in sorted(same):
        done(DayResult(d, unchanged=True))
    if order and workers == 1:
        init_worker(catalog, str(output_dir))
        for d in order:
            done(process_day(days[d], d, WORKER_STATE["target"], catalog, skip_bad_files, config))
    elif order:
        with process_pool(workers, init_worker, (catalog, str(output_dir))) as pool:
            run_days(pool, order, workers, EtlDays(days, workers, catalog, str(output_dir), skip_bad_files, done, config))
    summary.days.sort(key=lambda r: r.day)
    publish.tidy(output)
    summary.seconds = time.perf_counter() - t0
    return summary
