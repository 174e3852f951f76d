"""Silver for many (day, phase_module) partitions: compute, then store, as two separate steps.

1. **Compute** (`build_silver_days`, days in parallel processes): each day's bronze file is read
   once (only the requested hierarchies' row groups), checked against the catalog's blocking value
   policies, resampled and validated against the hour-file schema by `etl.build_day`, and its hour
   files encoded by `etl.stage_tables` -- the same calls `sim-platform etl` makes, in the same order
   (validate, then encode), so the bytes are the ETL's -- and staged on local disk (one file per
   share of a day: the encoded hour files, a tenth of the size of the tables), so a run over 30
   days never holds 30 days in memory. Each day comes back as a `SilverDay`: built (with a
   summary per partition: rows, null share, completeness, anomalies, preview), skipped (no bronze
   file: no upstream data) or failed (with the reason). A day never takes another one down with it.
2. **Store** (`store_silver`, days in parallel processes): each built day is published as one
   unit into a target (folder or container, `layout.publishing` as in the ETL): its staged hour
   files, the removal of the old files of requested modules without samples that day, and the day's
   data-quality report merged into the stored one (`quality.merge_reports`). This is what the
   silver IO manager calls.

No Dagster import here.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim_platform.core import quality
from sim_platform.core.bronze import bronze_relpath, bronze_summary, read_bronze
from sim_platform.core.catalog import default_catalog, load_catalog
from sim_platform.core.etl import WRITER_THREADS, build_day, stage_tables
from sim_platform.core.layout import META_KEY, day_prefix, parse_meta, publishing, read_hierarchy_day
from sim_platform.core.parallel import map_in_pool
from sim_platform.core.rawdata import clip
from sim_platform.core.resample import BIN_MS, BINS_PER_DAY, BINS_PER_HOUR, HierarchyDay
from sim_platform.core.targets import TargetSpec
from sim_platform.storage.sync import DEFAULT_CONCURRENCY

PLOT_NAME = "plot.png"
BUILT, SKIPPED, FAILED = "built", "skipped", "failed"


@dataclass
class PartitionSummary:
    """What the metadata and the checks of one (day, phase_module) need, computed with its tables."""

    day: str
    phase_module: str
    rows: int = 0
    hours: list[int] = field(default_factory=list)
    null_share: dict[str, float] = field(default_factory=dict)  # per column, over the rows written
    #: share of the day's 17,280 bins in which the hierarchy holds a value in at least one column, a
    #: value being a real sample or one carried forward within its signal's own fill limit: every
    #: signal is judged against its own expected cadence, so slow series (cell voltages, counts)
    #: count as present between their samples, and only a stretch where nothing reported within its
    #: cadence (an outage, a day cut short) lowers it
    completeness: float = 0.0
    longest_silence_min: float = 0.0  # longest such stretch, minutes
    preview: str = ""
    anomalies: dict[str, int] = field(default_factory=dict)  # value anomalies of this partition, per kind

    @property
    def files(self) -> int:
        return len(self.hours)


@dataclass
class SilverDay:
    """The computed silver of one day's requested phase_modules (their tables staged on disk)."""

    day: str
    phase_modules: list[str]
    status: str = BUILT  # BUILT | SKIPPED | FAILED
    reason: str = ""  # why it was skipped or failed
    refused: bool = False  # failed because it breaks the hour-file contract (structure, blocking policy)
    #: (staged hour files: a pickle of [(relative path, parquet bytes)], the phase_modules it covers):
    #: one per worker that built a share
    staged: list[tuple[str, list[str]]] = field(default_factory=list)
    report: dict | None = None  # the day's quality report for `phase_modules` (merged into the stored one)
    partitions: dict[str, PartitionSummary] = field(default_factory=dict)  # built days only

    def files(self) -> list[tuple[str, bytes]]:
        """The encoded hour files of the day, `(relative path, bytes)`."""
        out = []
        for path, _ in self.staged:
            with open(path, "rb") as fh:
                out += pickle.load(fh)
        return out

    def discard(self) -> None:
        for path, _ in self.staged:
            Path(path).unlink(missing_ok=True)


@dataclass
class SilverHours:
    """The hour tables of a set of partitions, staged per day: what `resampled_5s` produces and the
    silver IO manager stores."""

    days: list[SilverDay]

    @property
    def partitions(self) -> dict[tuple[str, str], PartitionSummary]:
        return {(d.day, pm): s for d in self.days for pm, s in d.partitions.items()}

    def discard(self) -> None:
        for d in self.days:
            d.discard()


# ------------------------------------------------------------------------------------------ compute
def build_silver_days(
    days: dict[str, list[str]], bronze_dir: str, config_path: str, staging_dir: str, workers: int
) -> list[SilverDay]:
    """Compute every requested day (days without a bronze file are skipped without a task).

    Each day's hierarchies are shared out among the workers (bronze keeps one row group per
    hierarchy, so each share reads only its own), so a large day does not leave a core idle, and
    the shares are put together again: a failure in one share fails the whole day, as in the ETL.
    """
    present = sorted(d for d in days if (Path(bronze_dir) / bronze_relpath(date.fromisoformat(d))).is_file())
    skipped = [SilverDay(d, sorted(days[d]), SKIPPED, f"no bronze file for {d}") for d in sorted(set(days) - set(present))]
    Path(staging_dir).mkdir(parents=True, exist_ok=True)
    if present:  # heavy libraries once, before the workers fork (pyarrow's to_numpy imports pandas)
        import pandas  # noqa: F401
    shares = max(1, workers)  # days are uneven (one sample day holds 55% of the rows): shares keep every core busy
    # largest day first (bronze bytes), so the pool does not end on a large share alone
    by_size = sorted(present, key=lambda d: -(Path(bronze_dir) / bronze_relpath(date.fromisoformat(d))).stat().st_size)
    tasks = [(d, chunk, bronze_dir, config_path, staging_dir) for d in by_size for chunk in _shares(sorted(days[d]), shares)]
    parts = map_in_pool(build_silver_day, tasks, workers)
    built = [_join(d, sorted(days[d]), [p for p in parts if p.day == d]) for d in present]
    return sorted(built + skipped, key=lambda s: s.day)


def modules_of_days(days: list[str], bronze_dir: str, known: list[str] | tuple = ()) -> dict[str, list[str]]:
    """The hierarchies to build per day: those in the day's bronze file, plus the `known` ones (a
    module known from other days that has no samples on this one is rebuilt as empty: its old hour
    files go)."""
    out = {}
    for day in days:
        path = Path(bronze_dir) / bronze_relpath(date.fromisoformat(day))
        try:
            stored = bronze_summary(path).get("hierarchies", []) if path.is_file() else []
        except Exception:  # a damaged file: its day fails in `build_silver_day`, with the reason
            stored = []
        out[day] = sorted(set(stored) | set(known))
    return out


def stored_modules(target, day: str) -> list[str]:
    """The hierarchies with hour files on `day`, from the day's stored quality report."""
    try:
        report = json.loads(target.get(quality.report_relpath(date.fromisoformat(day))))
    except (FileNotFoundError, KeyError, OSError, ValueError):
        return []
    return sorted(report.get("hierarchies", {}))


def _shares(items: list[str], n: int) -> list[list[str]]:
    """`items` in `n` interleaved shares (modules are alike in size, so shares come out even)."""
    return [items[i::n] for i in range(min(n, len(items))) if items[i::n]]


def _join(day: str, phase_modules: list[str], parts: list[SilverDay]) -> SilverDay:
    """One day from the shares its workers built."""
    failed = [p for p in parts if p.status != BUILT]
    if failed:
        for p in parts:
            p.discard()
        first = failed[0]
        return SilverDay(day, phase_modules, first.status, first.reason, first.refused)
    out = SilverDay(day, phase_modules)
    for p in parts:
        out.staged += p.staged
        out.partitions.update(p.partitions)
        out.report = quality.merge_reports(out.report, p.report) if out.report else p.report
    for pm in phase_modules:  # each share counted only its own anomalies; recount over the whole day
        out.partitions[pm].anomalies = {
            k: sum(1 for key in out.report.get(k, {}) if key.split("/", 1)[0] == pm) for k in quality.ANOMALY_SECTIONS
        }
    return out


class _Encoded:
    """A publisher that keeps what it is given: the encoded hour files, `(relative path, bytes)`."""

    def __init__(self):
        self.files: list[tuple[str, bytes]] = []

    def put(self, relpath: str, data: bytes) -> None:
        self.files.append((relpath, data))


def build_silver_day(day: str, phase_modules: list[str], bronze_dir: str, config_path: str, staging_dir: str) -> SilverDay:
    """One day: read the bronze row groups of `phase_modules`, refuse what the catalog's blocking
    policies refuse, resample, validate, encode and stage the hour files; never raises."""
    out = SilverDay(day, phase_modules)
    try:
        d = date.fromisoformat(day)
        path = Path(bronze_dir) / bronze_relpath(d)
        if not path.is_file():
            out.status, out.reason = SKIPPED, f"no bronze file for {day}"
            return out
        catalog = load_catalog(config_path) if config_path else default_catalog()
        stored = bronze_summary(path)
        flagged = stored.get("flagged", {})
        wanted = set(phase_modules)
        blocked = [line for line in quality.failing(flagged) if line.split("/", 1)[0] in wanted]
        if blocked:  # as `sim-platform etl`: a signal whose policy is `out_of_range: fail` stops the day
            more = f" (+{len(blocked) - 1} more)" if len(blocked) > 1 else ""
            out.status, out.refused, out.reason = FAILED, True, clip(f"day {day}: not written: {blocked[0]}{more}", 300)
            return out
        tables = build_day(read_bronze(path, phase_modules), d, catalog, validate=True)
        out.report = quality.day_report(d, stored.get("raw_rows", 0), tables, flagged)
        built = {hd.hierarchy: hd for hd in tables}
        for pm in phase_modules:
            out.partitions[pm] = summarize(day, pm, built.get(pm), out.report)
        encoded = _Encoded()
        stage_tables(encoded, tables, d)  # the ETL's encoding of the hour files (writer threads)
        path = str(Path(staging_dir) / f"{day}.{uuid.uuid4().hex[:8]}.pkl")
        with open(path, "wb") as fh:
            pickle.dump(encoded.files, fh, protocol=pickle.HIGHEST_PROTOCOL)
        out.staged = [(path, list(phase_modules))]
    except Exception as exc:  # a structural break (validate.StructuralError), a damaged bronze file, a bug
        from sim_platform.core.validate import StructuralError

        out.refused = isinstance(exc, StructuralError)
        out.status, out.reason = FAILED, clip(f"day {day}: not written: {type(exc).__name__}: {exc}", 300)
        out.partitions, out.report = {}, None
        out.discard()
        out.staged = []
    return out


def summarize(day: str, pm: str, hd: HierarchyDay | None, report: dict) -> PartitionSummary:
    """The summary of one partition; `hd` None: no samples of this module that day (an empty partition)."""
    s = PartitionSummary(day, pm)
    s.anomalies = {k: sum(1 for key in report.get(k, {}) if key.split("/", 1)[0] == pm) for k in quality.ANOMALY_SECTIONS}
    if hd is None:
        s.longest_silence_min = 24 * 60.0
        return s
    present = [hd.table.slice(h * BINS_PER_HOUR, BINS_PER_HOUR) for h in hd.hours]
    table = pa.concat_tables(present) if present else hd.table.slice(0, 0)
    s.rows, s.hours = table.num_rows, list(hd.hours)
    s.null_share = {c: round(table.column(c).null_count / max(1, table.num_rows), 4) for c in table.column_names[1:]}
    s.completeness, s.longest_silence_min = coverage(hd.table)
    s.preview = markdown_preview(table)
    return s


def coverage(day_table: pa.Table) -> tuple[float, float]:
    """(share of the day's bins holding a value in any column, longest stretch without one in
    minutes) of a full-day 5-second table (`HierarchyDay.table`, 17,280 rows)."""
    heard = np.zeros(BINS_PER_DAY, dtype=bool)
    for name in day_table.column_names[1:]:
        heard |= pc.is_valid(day_table.column(name)).to_numpy(zero_copy_only=False)
    if heard.all():
        return 1.0, 0.0
    quiet = np.flatnonzero(~heard)
    runs = np.split(quiet, np.flatnonzero(np.diff(quiet) != 1) + 1)
    longest = max(len(r) for r in runs) * BIN_MS / 60_000
    return round(float(heard.mean()), 4), round(longest, 1)


def markdown_preview(table: pa.Table, rows: int = 5, columns: list[str] | None = None) -> str:
    """A small markdown table for run metadata: the first rows of `columns` (default: the timestamp
    and the first six columns)."""
    names = [c for c in columns if c in table.column_names] if columns else table.column_names[:7]
    head = table.select(names).slice(0, rows).to_pylist()
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for r in head:
        lines.append("| " + " | ".join(_cell(r[n]) for n in names) + " |")
    return "\n".join(lines)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# -------------------------------------------------------------------------------------------- store
def store_silver(spec: TargetSpec, hours: SilverHours, workers: int) -> dict[str, int]:
    """Publish every built day of `hours` into the target, days in parallel processes, each day as
    one unit (its hour files and its merged quality report); returns the hour files written per
    day. The files are encoded already: storing them is I/O only."""
    days = [d for d in hours.days if d.status == BUILT]
    written = map_in_pool(store_day, [(spec, d) for d in days], workers)
    for d in days:
        d.discard()
    return {d.day: n for d, n in zip(days, written)}


def store_day(spec: TargetSpec, day: SilverDay) -> int:
    """One computed day: its requested modules are replaced (a module without samples that day
    loses its old files) and its report merged into the stored one, as one unit. The files are put
    by threads (a folder: as the ETL writes; a container: as many uploads at once as a sync makes)."""
    target = spec.open()
    d = date.fromisoformat(day.day)
    staged = day.files()
    report = quality.merge_reports(_stored_report(target, d), day.report, rebuilt=day.phase_modules)
    threads = WRITER_THREADS if spec.kind == "local" else DEFAULT_CONCURRENCY
    with publishing(target, d, day.phase_modules) as pub, ThreadPoolExecutor(threads) as writers:
        list(writers.map(lambda f: pub.put(*f), staged))
        pub.put(quality.report_relpath(d), quality.report_bytes(report))
    return len(staged)


def _stored_report(target, day: date) -> dict | None:
    try:
        return json.loads(target.get(quality.report_relpath(day)))
    except (FileNotFoundError, KeyError, OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------- reading back
def read_partition(spec: TargetSpec, phase_module: str, day: str) -> tuple[pa.Table | None, dict]:
    """The hour files of one partition, concatenated in time order, and the column facts they carry."""
    d = date.fromisoformat(day)
    if spec.kind == "local":
        table = read_hierarchy_day(spec.root, phase_module, d)
        files = sorted((Path(spec.root) / day_prefix(phase_module, d)).glob("[0-9][0-9].parquet"))
        meta = _meta(pq.read_metadata(files[0])) if files else {}
        return table, meta
    target = spec.open()
    rels = target.list_day(day_prefix(phase_module, d))
    if not rels:
        return None, {}
    blobs = [target.get(r) for r in rels]
    tables = [pq.read_table(pa.BufferReader(b)) for b in blobs]
    return pa.concat_tables(tables, promote_options="permissive"), _meta(pq.read_metadata(pa.BufferReader(blobs[0])))


def _meta(md) -> dict:
    return parse_meta((md.metadata or {}).get(META_KEY.encode()))


# -------------------------------------------------------------------------------------------- plots
def plot_partition(spec: TargetSpec, phase_module: str, day: str, table: pa.Table, meta: dict) -> tuple[str, bytes]:
    """Draw one partition, store the PNG beside its hour files; returns (relative path, PNG bytes)."""
    from sim_platform.core.plots import draw_day

    rel = f"{day_prefix(phase_module, date.fromisoformat(day))}/{PLOT_NAME}"
    # Same instants without the time zone: matplotlib converts tz-aware pandas timestamps one by
    # one (seconds per plot); naive UTC values draw 3x faster and the axis is labelled UTC anyway.
    naive = table.set_column(0, "timestamp", table.column(0).cast(pa.timestamp("ns")))
    fd, tmp = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        draw_day(naive, meta, f"{phase_module} {day} (5-second data)", tmp)
        data = Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)
    spec.open().put(rel, data)
    return rel, data


def _plot_one(parts, key: str, spec: TargetSpec, day: str, pm: str) -> tuple[str, str | None, bytes | None]:
    table, meta = parts[key]
    if table is None:
        return key, None, None
    rel, png = plot_partition(spec, pm, day, table, meta)
    return key, rel, png


def plot_partitions(
    parts, spec: TargetSpec, keys: list[tuple[str, str, str]], workers: int
) -> list[tuple[str, str | None, bytes | None]]:
    """Plot many partitions (`(key, day, phase_module)`), in worker processes when there are several.

    `parts` is a read-on-access mapping (the IO manager's); each worker reads the partitions it draws.
    """
    return map_in_pool(_plot_one, [(parts, k, spec, d, pm) for k, d, pm in keys], workers)


def staging_dir(home: Path) -> str:
    """A fresh folder for one run's staged tables, under the platform home (local disk)."""
    base = Path(home) / "staging" / "silver"
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix="run-", dir=base)
