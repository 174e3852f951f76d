"""The ETL: plan the input, process one UTC day at a time (days in parallel), collect every failure.

A day is the unit of work and of failure. Its files are read (numeric value rules applied per file,
`quality.screen_file`), merged, deduplicated and resampled; every hierarchy's table is validated
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np

from sim_platform.core import failpoints, manifest, publish, quality
from sim_platform.core.catalog import Catalog, SeriesError, default_catalog, load_catalog
from sim_platform.core.inputs import InputFile, InputPlan, SourceRoot, plan_inputs, plan_sources
from sim_platform.core.layout import LocalTarget, OutputTarget, day_start_ms, publishing, put_hierarchy_day
from sim_platform.core.parallel import process_pool
from sim_platform.core.pipeline_config import source_formats_of
from sim_platform.core.rawdata import Flagged, InputError, RawBatch, clip, concat_batches, select_series
from sim_platform.core.resample import DAY_MS, HierarchyDay, resample_day

#: threads writing a day's hour files (parquet encoding and file I/O release the GIL)
WRITER_THREADS = 2


@dataclass
class DayResult:
    day: date
    raw_rows: int = 0
    distinct_rows: int = 0
    files_read: int = 0
    files_written: list[str] = field(default_factory=list)
    hierarchies: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    quality: dict | None = None  # the day's data-quality report (core.quality), when it was written
    unchanged: bool = False  # skipped: its inputs and configuration are those its output was built from
    failures: list[str] = field(default_factory=list)  # "path: reason"
    written: bool = False
    seconds: float = 0.0


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


def read_file(f: InputFile, day: date, catalog: Catalog) -> RawBatch:
    """One file's distinct rows of one day; InputError names the file when it is bad."""
    from sim_platform.core.hdf5_runs import read_run_file
    from sim_platform.core.tabular_reader import read_tabular
    from sim_platform.core.telemetry_reader import read_telemetry

    failpoints.hit("read")
    start = day_start_ms(day)
    window = None if f.days == (day,) else (start, start + DAY_MS)
    if f.kind in ("csv", "json"):
        batch = read_tabular(f.path, f.source, catalog, window)
    else:
        batch = (read_telemetry if f.kind == "telemetry" else read_run_file)(f.path, catalog, window)
    try:
        for payload, tags in batch.series:  # placement problems belong to the file, too
            catalog.place(payload, tags)
    except SeriesError as exc:
        raise InputError(f.path, str(exc)) from exc
    return quality.screen_file(batch, catalog, f.path)


def read_day(files: list[InputFile], day: date, catalog: Catalog) -> tuple[RawBatch, list[InputError]]:
    """Read every file's rows of one day; bad files are returned as errors, not raised."""
    batches, errors = [], []
    for f in files:
        try:
            batches.append(read_file(f, day, catalog))
        except InputError as exc:
            errors.append(exc)
    return concat_batches(batches), errors


def build_day(batch: RawBatch, day: date, catalog: Catalog, validate: bool = True) -> list[HierarchyDay]:
    """Resample a day and validate every hierarchy against the structural hour-file schema
    (`validate.StructuralError`, one short line, when one breaks it)."""
    failpoints.hit("resample")
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
    config: str | None = None,
) -> DayResult:
    """Read, resample, validate and write one day (the whole job for one day, in this process).
    With `config` (a `manifest.config_digest`), the day's input manifest is published with it."""
    t0 = time.perf_counter()
    batch, errors = read_day(files, day, catalog)
    prints = [manifest.fingerprint(f.path) for f in files] if config else []
    return finish_day(batch, errors, len(files), day, target, catalog, skip_bad_files, t0, _manifest(day, files, prints, config))


def _manifest(day: date, files: list[InputFile], prints: list, config: str | None) -> bytes | None:
    if not config:
        return None
    return manifest.manifest_bytes(day, config, prints, {manifest.key(f.path): f.days for f in files})


def finish_day(
    batch: RawBatch,
    errors: list[InputError],
    files_read: int,
    day: date,
    target: OutputTarget,
    catalog: Catalog,
    skip_bad_files: bool,
    t0: float,
    inputs_manifest: bytes | None = None,
) -> DayResult:
    """Resample, validate and write a day whose files have been read (with its input manifest, when
    given, in the same unit)."""
    result, flagged = start_day(batch, errors, files_read, day, catalog, skip_bad_files)
    if flagged is None:
        return _timed(result, t0)
    try:
        tables = build_day(batch, day, catalog)
    except Exception as exc:  # a structural break or a bug: the day fails, with a short reason
        result.failures.append(_build_failure(day, exc))
        return _timed(result, t0)
    report = quality.day_report(day, batch.raw_rows, tables, flagged)
    try:
        # the whole day (every hierarchy and the report) appears as one unit, or not at all; writer
        # threads overlap encoding and I/O, and use a core that would otherwise idle at the end
        with publishing(target, day) as pub:
            written = stage_tables(pub, tables, day)
            pub.put(quality.report_relpath(day), quality.report_bytes(report))
            if inputs_manifest is not None:
                pub.put(manifest.manifest_relpath(day), inputs_manifest)
    except OSError as exc:  # a path that cannot be written: this day fails, its old output stays
        result.failures.append(_write_failure(day, exc))
        return _timed(result, t0)
    return _timed(_written(result, [hd.hierarchy for hd in tables], written, _unknown(tables), report), t0)


def start_day(
    batch: RawBatch, errors: list[InputError], files_read: int, day: date, catalog: Catalog, skip_bad_files: bool
) -> tuple[DayResult, dict | None]:
    """The day's result so far and its flagged-sample summary; None instead of the summary when the
    day is refused before resampling (a bad file without `skip_bad_files`, a blocking value policy)."""
    result = DayResult(day, files_read=files_read, failures=[str(e) for e in errors], raw_rows=batch.raw_rows)
    if errors and not skip_bad_files:
        result.failures.append(f"day {day}: not written, {len(errors)} bad input file(s)")
        return result, None
    flagged = quality.summarize_flagged(batch.flagged, catalog)
    blocking = quality.failing(flagged)
    if blocking:
        result.failures += [clip(f"day {day}: not written: {line}", 300) for line in blocking]
        return result, None
    return result, flagged


def stage_tables(pub, tables: list[HierarchyDay], day: date) -> list[str]:
    """Encode and put every hierarchy's hour files (writer threads: encoding and I/O release the GIL)."""
    with ThreadPoolExecutor(WRITER_THREADS) as writers:
        return [f for files in writers.map(lambda hd: put_hierarchy_day(pub, hd, day), tables) for f in files]


def _written(result: DayResult, hierarchies: list[str], files: list[str], unknown: list[str], report: dict) -> DayResult:
    result.files_written += files
    result.hierarchies += hierarchies
    result.unknown_columns += unknown
    result.quality = report
    result.distinct_rows = report["rows"]["distinct"]
    result.written = True
    return result


def _unknown(tables: list[HierarchyDay]) -> list[str]:
    return [f"{hd.hierarchy}/{c}" for hd in tables for c in hd.unknown_columns]


def largest_first(files_by_day: dict) -> list:
    """Days (the keys) by their input bytes, largest first: the last tasks of a run are then small
    ones, so the cores finish together."""
    return sorted(files_by_day, key=lambda d: (-sum(f.size for f in files_by_day[d]), d))


def _timed(result: DayResult, t0: float) -> DayResult:
    result.seconds = time.perf_counter() - t0
    return result


def _build_failure(day: date, exc: Exception) -> str:
    return clip(f"day {day}: not written: {type(exc).__name__}: {exc}", 300)


def _write_failure(day: date, exc: OSError) -> str:
    where = exc.filename or exc.filename2 or ""
    return clip(f"day {day}: not written: {where}{': ' if where else ''}{exc.strerror or exc}", 300)


# ------------------------------------------------------------------ parallel driver
_WORKER_STATE: dict = {}


def _init_worker(catalog_path: str | None, output: str) -> None:
    _WORKER_STATE["catalog"] = load_catalog(catalog_path) if catalog_path else default_catalog()
    _WORKER_STATE["target"] = LocalTarget(output)


#: Files of a day are read in tasks of at most about this many input bytes: big enough that per-task
#: costs (pickling, scheduling) vanish, small enough that a large day spreads over every worker.
READ_CHUNK_BYTES = 8 << 20


def read_chunks(files: list[InputFile], workers: int) -> list[list[InputFile]]:
    """A day's files cut into read tasks (the ETL's and bronze's): a multiple of `workers` tasks of
    about equal bytes, each at most about READ_CHUNK_BYTES, so every worker gets the same share and
    they finish the day's reading together (the sample's full day, 39 MB on 2 workers: 6 tasks of
    6.6 MB, not 5 of 8 MB with one worker reading the fifth alone)."""
    sizes = [f.size / len(f.days) for f in files]
    total = sum(sizes)
    rounds = max(1, -(-int(total) // (workers * READ_CHUNK_BYTES)))
    n = min(len(files), workers * rounds)
    chunks: list[list[InputFile]] = [[] for _ in range(n)]
    done = 0.0
    for f, size in zip(files, sizes):  # contiguous runs of files, cut at equal shares of the bytes
        chunks[min(n - 1, int(done * n / total) if total else 0)].append(f)
        done += size
    return [c for c in chunks if c]


def _read_task(files: list[InputFile], day: date, with_prints: bool):
    """Read a chunk of a day's files, and fingerprint them (their bytes are in the page cache now)."""
    batch, errors = read_day(files, day, _WORKER_STATE["catalog"])
    return batch, errors, [manifest.fingerprint(f.path) for f in files] if with_prints else []


def run_etl(
    inputs: str | Path | list[SourceRoot],
    output_dir: str | Path,
    workers: int | None = None,
    config_path: str | Path | None = None,
    skip_bad_files: bool = False,
    on_plan: Callable[[InputPlan], None] | None = None,
    on_day: Callable[[DayResult], None] | None = None,
    force: bool = False,
) -> EtlSummary:
    """Process every day of the inputs into the hour-file layout under `output_dir`.

    `inputs` is a folder (read with the configured sources' formats: each file by the first source
    whose patterns match its name) or explicit (folder, source) pairs from `landing.source_roots`.
    `config_path` is a pipelines file (or a bare catalog file); None: the packaged configuration.
    A day whose inputs and configuration are those its output was built from (its manifest says so)
    is skipped, unless `force` (see `core.manifest`).

    With several workers the work is a two-stage pipeline over a process pool: the files of a day
    are read (and deduplicated) in chunks of about READ_CHUNK_BYTES, then the day is merged,
    resampled, validated and written as one task. File tasks keep both cores busy even when one day is much larger than the
    others; at most `workers + 1` days are in flight, so memory does not grow with the number of days.
    """
    t0 = time.perf_counter()
    output = Path(output_dir)
    if output.exists() and not output.is_dir():
        raise NotADirectoryError(f"output {output} is a file, not a folder")
    recovered = publish.recover(output) if output.is_dir() else {}
    catalog = load_catalog(config_path) if config_path else default_catalog()
    config = manifest.config_digest(config_path)
    previous = manifest.load_manifests(output)
    known = manifest.known_days(previous)
    if isinstance(inputs, (str, Path)):
        plan = plan_inputs(inputs, catalog, source_formats_of(config_path), exclude=(output,), known=known)
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
    kept = {} if skip_bad_files else _days_kept(plan, days, output)
    same = (
        set()
        if force
        else {
            d
            for d in days
            if d not in kept and manifest.unchanged(previous.get(d), days[d], config) and publish.has_output(output, d)
        }
    )
    order = largest_first({d: files for d, files in days.items() if d not in kept and d not in same})
    workers = max(1, min(workers or os.cpu_count() or 1, sum(len(days[d]) for d in order) or 1))
    cat_arg = str(config_path) if config_path else None

    def done(res: DayResult) -> None:
        summary.days.append(res)
        if on_day:
            on_day(res)

    for d, reasons in kept.items():
        done(DayResult(d, files_read=0, failures=reasons))
    for d in sorted(same):
        done(DayResult(d, unchanged=True))
    if order and workers == 1:
        _init_worker(cat_arg, str(output_dir))
        for d in order:
            done(process_day(days[d], d, _WORKER_STATE["target"], _WORKER_STATE["catalog"], skip_bad_files, config))
    elif order:
        _run_pipeline(days, order, workers, catalog, cat_arg, str(output_dir), skip_bad_files, done, config)
    summary.days.sort(key=lambda r: r.day)
    publish.tidy(output)
    summary.seconds = time.perf_counter() - t0
    return summary


def _days_kept(plan: InputPlan, days: dict[date, list[InputFile]], output: Path) -> dict[date, list[str]]:
    """Days that must keep their previous output because an input of theirs was refused while
    planning: they are not rebuilt from the remaining files (that would drop the hours only the
    refused file fed). A refused file whose day cannot be told protects every day that already has
    output; days with no output yet are written."""
    refused, unknown = plan.refused_days()
    kept = {}
    for d in days:
        if d in refused:
            kept[d] = [str(e) for e in refused[d]] + [
                f"day {d}: not written, {len(refused[d])} bad input file(s); its previous output is kept (--skip-bad-files builds it from the rest)"
            ]
        elif unknown and publish.has_output(output, d):
            kept[d] = [
                clip(
                    f"day {d}: not written: {len(unknown)} refused input file(s) of unknown day (first {unknown[0].path}) "
                    "may belong to it; its previous output is kept (--skip-bad-files writes it anyway)",
                    300,
                )
            ]
    return kept


def _whole_day_task(files: list[InputFile], day: date, skip_bad_files: bool, config: str | None) -> DayResult:
    """A day read and finished in one worker: its rows never travel between processes."""
    return process_day(files, day, _WORKER_STATE["target"], _WORKER_STATE["catalog"], skip_bad_files, config)


#: the numeric rows of a split day, handed to its stage tasks as files in the day's staging folder
_ROWS = ("num_sid", "num_ts", "num_val")


def _hand_over_rows(batch: RawBatch, stage: Path) -> RawBatch:
    """Write the day's numeric rows (most of its bytes) into its staging folder and return the
    batch without them. Each stage task maps the files and takes its own hierarchies' rows, in
    parallel; sent through the pool instead, the parent would select every share and pickle it
    through a pipe while the workers wait (0.1 s of a full day). The files go with the staging
    folder when the day commits or aborts, or when a crashed run's staging is recovered."""
    for name in _ROWS:
        np.save(stage / f".rows.{name}.npy", getattr(batch, name))
    return replace(
        batch,
        num_sid=np.empty(0, np.int32),
        num_ts=np.empty(0, np.int64),
        num_val=np.empty(0, np.float64),
        flagged=Flagged.empty(),
    )


def _taken_over(shell: RawBatch, stage: str, ids: np.ndarray) -> RawBatch:
    """The rows of the series `ids` from a batch handed over by `_hand_over_rows`."""
    rows = {name: np.load(Path(stage) / f".rows.{name}.npy", mmap_mode="r") for name in _ROWS}
    return select_series(replace(shell, **rows), ids)


def _stage_task(shell: RawBatch, ids: np.ndarray, day: date, stage: str):
    """Resample, validate and stage the hierarchies of the series `ids` of a day into the staging
    folder of the parent's publisher. Returns their report entries, files and unknown columns, or
    the reason the day fails (one line)."""
    try:
        batch = _taken_over(shell, stage, ids)
    except OSError as exc:
        return _write_failure(day, exc)
    try:
        tables = build_day(batch, day, _WORKER_STATE["catalog"])
    except Exception as exc:
        return _build_failure(day, exc)
    try:
        staged = publish.Stage(stage)
        files = stage_tables(staged, tables, day)
        staged.sync()
    except OSError as exc:
        return _write_failure(day, exc)
    return [quality.hierarchy_entry(hd) for hd in tables], files, _unknown(tables)


def hierarchy_groups(batch: RawBatch, catalog: Catalog, k: int) -> list[np.ndarray]:
    """The day's series cut into at most `k` groups of whole hierarchies with about equal samples."""
    hierarchy = [catalog.place(p, t).hierarchy for p, t in batch.series]
    samples = np.bincount(batch.num_sid, minlength=len(hierarchy)) + np.bincount(batch.txt_sid, minlength=len(hierarchy))
    load: dict[str, int] = {}
    for h, n in zip(hierarchy, samples.tolist()):
        load[h] = load.get(h, 0) + n
    groups: list[list[str]] = [[] for _ in range(min(k, len(load)))]
    totals = [0] * len(groups)
    for h in sorted(load, key=lambda h: (-load[h], h)):
        i = totals.index(min(totals))
        groups[i].append(h)
        totals[i] += load[h]
    member = {h: i for i, hs in enumerate(groups) for h in hs}
    of = np.array([member[h] for h in hierarchy] or [0])
    return [np.flatnonzero(of == i) for i in range(len(groups))]


@dataclass
class _SplitDay:
    """A day finished by several workers at once: the parent publishes what they staged."""

    result: DayResult
    pub: publish.DayPublisher
    raw_rows: int
    flagged: dict
    inputs_manifest: bytes | None
    pending: int
    t0: float
    parts: list = field(default_factory=list)


def _run_pipeline(days, order, workers, catalog, cat_arg, output, skip_bad_files, done, config=None) -> None:
    """Days over one persistent pool. While at least `workers` days are left, each day is one task
    (read, resample, validate, write in one worker: no rows cross a process boundary, and the parent
    holds nothing but results). The last days, fewer than the workers, are cut into read chunks
    spread over every worker, then resampled and staged by every worker, a share of its hierarchies
    each, and published by the parent as one unit: no core idles at the end of a run, or through a
    run of one day."""
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    waiting = deque(order)
    parts: dict[date, list] = {}
    remaining: dict[date, int] = {}
    split: dict[date, _SplitDay] = {}
    running: dict = {}
    with process_pool(workers, _init_worker, (cat_arg, output)) as pool:

        def finish_split(d: date, parts_of_day: list) -> None:
            """All read chunks of a tail day are in: refuse it, or hand its hierarchies to the workers."""
            t0 = time.perf_counter()
            batch = concat_batches([b for b, _, _ in parts_of_day])
            errors = [e for _, errs, _ in parts_of_day for e in errs]
            prints = [p for _, _, ps in parts_of_day for p in ps]
            result, flagged = start_day(batch, errors, len(days[d]), d, catalog, skip_bad_files)
            if flagged is None:
                done(_timed(result, t0))
                return
            groups = hierarchy_groups(batch, catalog, workers)
            try:
                pub = publish.DayPublisher(output, d)
            except OSError as exc:
                result.failures.append(_write_failure(d, exc))
                done(_timed(result, t0))
                return
            try:
                shell = _hand_over_rows(batch, pub.stage)
            except OSError as exc:
                pub.abort()
                result.failures.append(_write_failure(d, exc))
                done(_timed(result, t0))
                return
            split[d] = _SplitDay(result, pub, batch.raw_rows, flagged, _manifest(d, days[d], prints, config), len(groups), t0)
            for ids in groups:
                running[pool.submit(_stage_task, shell, ids, d, str(pub.stage))] = ("stage", d, 0)
            if not groups:  # nothing to resample (every sample left out): the report alone
                publish_split(d)

        def publish_split(d: date) -> None:
            sd = split.pop(d)
            failed = [p for p in sd.parts if isinstance(p, str)]
            if failed:
                sd.pub.abort()
                sd.result.failures += failed
                done(_timed(sd.result, sd.t0))
                return
            entries = [e for p in sd.parts for e in p[0]]
            report = quality.report_from_entries(d, sd.raw_rows, entries, sd.flagged)
            try:
                sd.pub.adopt([f for p in sd.parts for f in p[1]], synced=True)
                sd.pub.put(quality.report_relpath(d), quality.report_bytes(report))
                if sd.inputs_manifest is not None:
                    sd.pub.put(manifest.manifest_relpath(d), sd.inputs_manifest)
                sd.pub.commit()
            except OSError as exc:
                sd.pub.abort()
                sd.result.failures.append(_write_failure(d, exc))
                done(_timed(sd.result, sd.t0))
                return
            hierarchies = sorted(e[0] for e in entries)
            files = sorted(f for p in sd.parts for f in p[1])
            unknown = sorted(u for p in sd.parts for u in p[2])
            done(_timed(_written(sd.result, hierarchies, files, unknown, report), sd.t0))

        while waiting or running:
            while waiting and len(running) < workers + 1:
                d = waiting.popleft()
                if len(waiting) + 1 >= workers:
                    running[pool.submit(_whole_day_task, days[d], d, skip_bad_files, config)] = ("day", d, 0)
                    continue
                chunks = read_chunks(days[d], workers)
                parts[d], remaining[d] = [None] * len(chunks), len(chunks)
                for i, chunk in enumerate(chunks):
                    running[pool.submit(_read_task, chunk, d, config is not None)] = ("read", d, i)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            try:
                for fut in finished:
                    kind, d, i = running.pop(fut)
                    if kind == "read":  # kept in file order: the day is the same whatever finished first
                        parts[d][i] = fut.result()
                        remaining[d] -= 1
                        if remaining[d] == 0:
                            del remaining[d]
                            finish_split(d, parts.pop(d))
                    elif kind == "stage":
                        split[d].parts.append(fut.result())
                        split[d].pending -= 1
                        if split[d].pending == 0:
                            publish_split(d)
                    else:
                        done(fut.result())
            except BrokenProcessPool as exc:  # a worker was killed (OOM killer, a signal): no day half-written
                lost = sorted({d for _, d, _ in running.values()} | set(parts) | set(split) | set(waiting))
                for sd in split.values():
                    sd.pub.abort()
                for d in lost:
                    done(
                        DayResult(
                            d, failures=[f"day {d}: not written: a worker process died ({exc}); its previous output is kept"]
                        )
                    )
                return
