"""Silver for many (phase_module, day) partitions, computed: each day's bronze read once, built and staged.

`build_silver_days` (days in parallel processes): each day's bronze file is read once (only the
requested hierarchies' row groups), checked against the catalog's blocking value policies, and
built by `silver.build` -- the calls `sim-platform etl` makes, in the same order (validate, then
encode), so the bytes are the ETL's -- and its encoded hour files are staged on local disk (one
file per share of a day, a tenth of the size of the tables), so a run over 30 days never holds 30
days in memory. Each day comes back as a `SilverDay`: built (with a summary per partition: rows,
null share, completeness, anomalies, preview), skipped (no bronze file: no upstream data) or
failed (a damaged bronze file: every requested partition of the day, with the reason).

A partition fails alone: a hierarchy that breaks the hour-file contract (a blocking value policy,
the structural schema) is left out of the day's built hierarchies, with its reason in
`SilverDay.refused`, and the others are built (`sim-platform etl` refuses the whole day instead:
its unit is the day). A day never takes another one down with it. Storing them is `silver.store`;
reading them back is `store.read`.

No Dagster import here.
"""

from __future__ import annotations

import pickle
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim_platform.core.bronze.day_file import bronze_relpath, bronze_summary, read_bronze
from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.grid import BIN_MS, BINS_PER_DAY, BINS_PER_HOUR
from sim_platform.core.exec.pool import map_in_pool
from sim_platform.core.silver import quality
from sim_platform.core.silver.build import blocking_lines, build_day, stage_tables, structural_breaks
from sim_platform.core.silver.resample import HierarchyDay
from sim_platform.core.text import shorten

BUILT, SKIPPED, FAILED = "built", "skipped", "failed"


@dataclass
class PartitionSummary:
    """What the metadata and the checks of one (day, hierarchy) need, computed with its tables."""

    day: str
    hierarchy: str
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
    """The computed silver of one day's requested hierarchies (their tables staged on disk)."""

    day: str
    hierarchies: list[str]  # requested; once built, the ones built (stored and replaced)
    status: str = BUILT  # BUILT | SKIPPED | FAILED
    reason: str = ""  # why it was skipped or failed
    #: hierarchy -> why it breaks the hour-file contract (structure, blocking policy): not built
    refused: dict[str, str] = field(default_factory=dict)
    #: (staged hour files: a pickle of [(relative path, parquet bytes)], the hierarchies it covers):
    #: one per worker that built a share
    staged: list[tuple[str, list[str]]] = field(default_factory=list)
    report: dict | None = None  # the day's quality report for `hierarchies` (merged into the stored one)
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
class SilverDays:
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
    days: dict[str, list[str]], bronze_dir: str, catalog: Catalog, staging_dir: str, workers: int
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
    tasks = [(d, chunk, bronze_dir, catalog, staging_dir) for d in by_size for chunk in _shares(sorted(days[d]), shares)]
    parts = map_in_pool(build_silver_day, tasks, workers)
    built = [_join(d, sorted(days[d]), [p for p in parts if p.day == d]) for d in present]
    return sorted(built + skipped, key=lambda s: s.day)


def _shares(items: list[str], n: int) -> list[list[str]]:
    """`items` in `n` interleaved shares (modules are alike in size, so shares come out even)."""
    return [items[i::n] for i in range(min(n, len(items))) if items[i::n]]


def _join(day: str, hierarchies: list[str], parts: list[SilverDay]) -> SilverDay:
    """One day from the shares its workers built."""
    failed = [p for p in parts if p.status != BUILT]
    if failed:
        for p in parts:
            p.discard()
        first = failed[0]
        return SilverDay(day, hierarchies, first.status, first.reason)
    out = SilverDay(day, sorted(h for p in parts for h in p.hierarchies))
    for p in parts:
        out.staged += p.staged
        out.partitions.update(p.partitions)
        out.refused.update(p.refused)
        if p.report:
            out.report = quality.merge_reports(out.report, p.report) if out.report else p.report
    for pm in out.hierarchies:  # each share counted only its own anomalies; recount over the whole day
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


def build_silver_day(day: str, hierarchies: list[str], bronze_dir: str, catalog: Catalog, staging_dir: str) -> SilverDay:
    """One day: read the bronze row groups of `hierarchies`, refuse the hierarchies that the
    catalog's blocking policies or the structural schema refuse, resample, validate, encode and
    stage the hour files of the others; never raises."""
    out = SilverDay(day, hierarchies)
    try:
        d = date.fromisoformat(day)
        path = Path(bronze_dir) / bronze_relpath(d)
        if not path.is_file():
            out.status, out.reason = SKIPPED, f"no bronze file for {day}"
            return out
        stored = bronze_summary(path)
        flagged = stored.get("flagged", {})
        for pm in hierarchies:  # as `sim-platform etl`: a signal whose policy is `out_of_range: fail` stops it
            blocked = blocking_lines(flagged, {pm})
            if blocked:
                more = f" (+{len(blocked) - 1} more)" if len(blocked) > 1 else ""
                out.refused[pm] = shorten(f"not written: {blocked[0]}{more}", 300)
        wanted = [pm for pm in hierarchies if pm not in out.refused]
        tables = build_day(read_bronze(path, wanted), d, catalog, validate=False) if wanted else []
        for pm, exc in structural_breaks(tables, catalog).items():
            out.refused[pm] = shorten(f"not written: {type(exc).__name__}: {exc}", 300)
        tables = [hd for hd in tables if hd.hierarchy not in out.refused]
        out.hierarchies = [pm for pm in wanted if pm not in out.refused]
        if not out.hierarchies:
            return out
        out.report = quality.day_report(d, stored.get("raw_rows", 0), tables, flagged)
        built = {hd.hierarchy: hd for hd in tables}
        for pm in out.hierarchies:
            out.partitions[pm] = summarize(day, pm, built.get(pm), out.report)
        encoded = _Encoded()
        stage_tables(encoded, tables, d)  # the ETL's encoding of the hour files (writer threads)
        path = str(Path(staging_dir) / f"{day}.{uuid.uuid4().hex[:8]}.pkl")
        with open(path, "wb") as fh:
            pickle.dump(encoded.files, fh, protocol=pickle.HIGHEST_PROTOCOL)
        out.staged = [(path, list(out.hierarchies))]
    except Exception as exc:  # a damaged bronze file, a bug: the whole day
        out.status, out.reason = FAILED, shorten(f"day {day}: not written: {type(exc).__name__}: {exc}", 300)
        out.hierarchies, out.refused, out.partitions, out.report = list(hierarchies), {}, {}, None
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


def staging_dir(home: Path) -> str:
    """A fresh folder for one run's staged tables, under the platform home (local disk)."""
    base = Path(home) / "staging" / "silver"
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix="run-", dir=base)
