"""One day of the ETL: read, refused or built, and published whole, in one worker or split over
every worker.

A whole day is `process_day` (its rows never cross a process boundary). A split day (the last days
of a run, fewer than the workers, or a run of one day) is read in chunks by every worker; the
parent merges them and hands the numeric rows over as files in the day's staging folder; every
worker resamples, validates and stages its share of the hierarchies; the parent publishes what
they staged as one unit (`EtlDays`, for the one day scheduler `exec.days`). Either way a day is
replaced whole or not at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.ingest import manifest
from sim_platform.core.ingest.plan import InputFile
from sim_platform.core.ingest.rawdata import Flagged, InputError, RawBatch, concat_batches, select_series
from sim_platform.core.ingest.read import read_chunks, read_day
from sim_platform.core.ingest.screen import summarize_flagged
from sim_platform.core.silver import quality
from sim_platform.core.silver.build import blocking_lines, build_day, stage_tables
from sim_platform.core.silver.resample import HierarchyDay
from sim_platform.core.store import publish
from sim_platform.core.store.layout import LocalTarget, OutputTarget, publishing
from sim_platform.core.text import shorten


@dataclass
class DayResult:
    day: date
    raw_rows: int = 0
    distinct_rows: int = 0
    files_read: int = 0
    files_written: list[str] = field(default_factory=list)
    hierarchies: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    quality: dict | None = None  # the day's data-quality report (core.silver.quality), when it was written
    unchanged: bool = False  # skipped: its inputs and configuration are those its output was built from
    failures: list[str] = field(default_factory=list)  # "path: reason"
    written: bool = False
    seconds: float = 0.0


def process_day(
    files: list[InputFile],
    day: date,
    target: OutputTarget,
    catalog: Catalog,
    skip_bad_files: bool = False,
    config: str | None = None,
) -> DayResult:
    """Read, resample, validate and write one day (the whole job for one day, in this process).
    With `config` (the configuration's digest, `Pipelines.digest`), the day's input manifest is published with it."""
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
    flagged = summarize_flagged(batch.flagged, catalog)
    blocking = blocking_lines(flagged)
    if blocking:
        result.failures += [shorten(f"day {day}: not written: {line}", 300) for line in blocking]
        return result, None
    return result, flagged


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


def _timed(result: DayResult, t0: float) -> DayResult:
    result.seconds = time.perf_counter() - t0
    return result


def _build_failure(day: date, exc: Exception) -> str:
    return shorten(f"day {day}: not written: {type(exc).__name__}: {exc}", 300)


def _write_failure(day: date, exc: OSError) -> str:
    where = exc.filename or exc.filename2 or ""
    return shorten(f"day {day}: not written: {where}{': ' if where else ''}{exc.strerror or exc}", 300)


# ------------------------------------------------------------------ parallel driver
WORKER_STATE: dict = {}


def init_worker(catalog: Catalog, output: str) -> None:
    """A worker's state: the run's catalog (inherited through the fork, never loaded again) and target."""
    WORKER_STATE["catalog"] = catalog
    WORKER_STATE["target"] = LocalTarget(output)


def _read_task(files: list[InputFile], day: date, with_prints: bool):
    """Read a chunk of a day's files, and fingerprint them (their bytes are in the page cache now)."""
    batch, errors = read_day(files, day, WORKER_STATE["catalog"])
    return batch, errors, [manifest.fingerprint(f.path) for f in files] if with_prints else []


def _whole_day_task(files: list[InputFile], day: date, skip_bad_files: bool, config: str | None) -> DayResult:
    """A day read and finished in one worker: its rows never travel between processes."""
    return process_day(files, day, WORKER_STATE["target"], WORKER_STATE["catalog"], skip_bad_files, config)


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
        tables = build_day(batch, day, WORKER_STATE["catalog"])
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
    t0: float


class EtlDays:
    """The ETL's days for the day scheduler: a whole day is `process_day` in a worker; a split day
    is read in chunks, resampled and staged by every worker (a share of its hierarchies each) and
    published by the parent as one unit."""

    def __init__(self, days, workers, catalog, output, skip_bad_files, done, config):
        self.days, self.workers, self.catalog, self.output = days, workers, catalog, output
        self.skip_bad_files, self.done, self.config = skip_bad_files, done, config
        self.split: dict[date, _SplitDay] = {}

    def whole(self, d):
        return _whole_day_task, (self.days[d], d, self.skip_bad_files, self.config)

    def chunks(self, d):
        return [(_read_task, (chunk, d, self.config is not None)) for chunk in read_chunks(self.days[d], self.workers)]

    def merged(self, d, parts):
        """All read chunks of a split day are in: refuse it, or hand its hierarchies to the workers."""
        t0 = time.perf_counter()
        batch = concat_batches([b for b, _, _ in parts])
        errors = [e for _, errs, _ in parts for e in errs]
        prints = [p for _, _, ps in parts for p in ps]
        result, flagged = start_day(batch, errors, len(self.days[d]), d, self.catalog, self.skip_bad_files)
        if flagged is None:
            self.done(_timed(result, t0))
            return []
        groups = hierarchy_groups(batch, self.catalog, self.workers)
        try:
            pub = publish.DayPublisher(self.output, d)
        except OSError as exc:
            result.failures.append(_write_failure(d, exc))
            self.done(_timed(result, t0))
            return []
        try:
            shell = _hand_over_rows(batch, pub.stage)
        except OSError as exc:
            pub.abort()
            result.failures.append(_write_failure(d, exc))
            self.done(_timed(result, t0))
            return []
        self.split[d] = _SplitDay(result, pub, batch.raw_rows, flagged, _manifest(d, self.days[d], prints, self.config), t0)
        if not groups:  # nothing to resample (every sample left out): the report alone
            self.finished(d, [])
        return [(_stage_task, (shell, ids, d, str(pub.stage))) for ids in groups]

    def finished(self, d, parts):
        sd = self.split.pop(d)
        failed = [p for p in parts if isinstance(p, str)]
        if failed:
            sd.pub.abort()
            sd.result.failures += failed
            self.done(_timed(sd.result, sd.t0))
            return
        entries = [e for p in parts for e in p[0]]
        report = quality.report_from_entries(d, sd.raw_rows, entries, sd.flagged)
        try:
            sd.pub.adopt([f for p in parts for f in p[1]], synced=True)
            sd.pub.put(quality.report_relpath(d), quality.report_bytes(report))
            if sd.inputs_manifest is not None:
                sd.pub.put(manifest.manifest_relpath(d), sd.inputs_manifest)
            sd.pub.commit()
        except OSError as exc:
            sd.pub.abort()
            sd.result.failures.append(_write_failure(d, exc))
            self.done(_timed(sd.result, sd.t0))
            return
        hierarchies = sorted(e[0] for e in entries)
        files = sorted(f for p in parts for f in p[1])
        unknown = sorted(u for p in parts for u in p[2])
        self.done(_timed(_written(sd.result, hierarchies, files, unknown, report), sd.t0))

    def lost(self, days, exc):
        """A worker was killed (OOM killer, a signal): no day half-written, every open day failed."""
        for sd in self.split.values():
            sd.pub.abort()
        for d in days:
            self.done(
                DayResult(d, failures=[f"day {d}: not written: a worker process died ({exc}); its previous output is kept"])
            )
