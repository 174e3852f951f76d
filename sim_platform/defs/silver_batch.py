"""Silver work for many (day, phase_module) partitions in one run: each day's bronze is read once.

`SilverBatch` is what the `resampled_5s` asset returns: a description of the work (which
phase_modules of which days), executed by the silver IO manager into its target, like a lazy
data frame that is sunk by its IO manager. This keeps Dagster's contract (the IO manager decides
where data goes) while letting a run covering many days use all cores, read each day's bronze
once (only the requested hierarchies' row groups) and write in the worker processes instead of
funnelling 17,280-row tables through the parent. No Dagster import here.

Per partition the worker records what the asset checks and the metadata need: rows and files
written, null share per column, share of bins with real samples, a preview, and the pandera
verdict on the exact table that was written (write, then audit: a failing blocking check keeps
downstream assets from reading it).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sim_platform.core import quality
from sim_platform.core.bronze import bronze_relpath, bronze_summary, read_bronze
from sim_platform.core.catalog import default_catalog, load_catalog
from sim_platform.core.etl import build_day
from sim_platform.core.rawdata import clip
from sim_platform.core.layout import META_KEY, day_prefix, parse_meta, hour_tables, read_hierarchy_day, write_hierarchy_day
from sim_platform.defs.resources import TargetSpec

PLOT_NAME = "plot.png"


@dataclass
class PartitionSummary:
    day: str
    phase_module: str
    rows: int = 0
    files: list[str] = field(default_factory=list)
    null_share: dict[str, float] = field(default_factory=dict)
    real_share: dict[str, float] = field(default_factory=dict)
    completeness: float = 0.0  # mean share of bins with a real sample over the columns
    schema_error: str | None = None
    preview: str = ""
    anomalies: dict[str, int] = field(default_factory=dict)  # value anomalies of this partition, per kind


@dataclass
class SilverBatch:
    days: dict[str, list[str]]  # "YYYY-MM-DD" -> phase_modules
    bronze_dir: str
    config_path: str = ""
    workers: int = 1
    results: dict[tuple[str, str], PartitionSummary] = field(default_factory=dict)

    def write(self, spec: TargetSpec) -> dict[tuple[str, str], PartitionSummary]:
        """Build and write every requested partition into `spec`; days run in parallel processes."""
        tasks = [(d, sorted(pms), self.bronze_dir, self.config_path, spec) for d, pms in sorted(self.days.items())]
        workers = max(1, min(self.workers, len(tasks)))
        if workers == 1:
            outputs = [silver_day(*t) for t in tasks]
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                outputs = list(pool.map(silver_day, *zip(*tasks)))
        self.results = {(s.day, s.phase_module): s for out in outputs for s in out}
        return self.results


def silver_day(day: str, phase_modules: list[str], bronze_dir: str, config_path: str, spec: TargetSpec) -> list[PartitionSummary]:
    """One day: read the bronze row groups of `phase_modules`, resample, write, audit."""
    from sim_platform.core.validate import validate_table

    d = date.fromisoformat(day)
    path = Path(bronze_dir) / bronze_relpath(d)
    if not path.is_file():
        raise FileNotFoundError(f"no bronze file for {day} at {path}: materialise telemetry_day {day} first")
    catalog = load_catalog(config_path) if config_path else default_catalog()
    target = spec.open()
    stored = bronze_summary(path)
    tables = build_day(read_bronze(path, phase_modules), d, catalog, validate=False)
    built = {hd.hierarchy: hd for hd in tables}
    report = _write_report(target, d, stored, tables)
    blocked = {line.split("/", 1)[0]: line for line in quality.failing(stored.get("flagged", {}))}
    out = []
    for pm in phase_modules:
        summary = PartitionSummary(day, pm)
        hd = built.get(pm)
        if hd is None:  # no samples of this module that day: nothing may remain from an earlier run
            for rel in target.list_day(day_prefix(pm, d)):
                target.delete(rel)
            out.append(summary)
            continue
        summary.files = write_hierarchy_day(target, hd, d)
        present = [t for _, t in hour_tables(hd)]
        table = pa.concat_tables(present) if present else hd.table.slice(0, 0)
        summary.rows = table.num_rows
        summary.real_share = {k: round(v, 4) for k, v in hd.real_share.items()}
        summary.completeness = round(sum(hd.real_share.values()) / max(1, len(hd.real_share)), 4)
        summary.null_share = {
            c: round(table.column(c).null_count / max(1, table.num_rows), 4) for c in table.column_names[1:]
        }
        summary.preview = markdown_preview(table)
        summary.anomalies = {
            k: sum(1 for key in report[k] if key.split("/", 1)[0] == pm) for k in quality.ANOMALY_SECTIONS
        }
        try:
            if present:
                validate_table(table, catalog, pm)
        except Exception as exc:  # StructuralError: the check reports it, blocking the plot
            summary.schema_error = clip(f"{type(exc).__name__}: {exc}", 300)
        if pm in blocked:  # the catalog says this signal's out-of-range samples must stop the day
            summary.schema_error = clip(blocked[pm], 300)
        out.append(summary)
    return out


def _write_report(target, day: date, stored: dict, tables) -> dict:
    """The day's quality report, with this run's hierarchies replacing theirs in any earlier one."""
    rel = quality.report_relpath(day)
    try:
        old = json.loads(target.get(rel))
    except (FileNotFoundError, KeyError, OSError, ValueError):
        old = None
    report = quality.merge_reports(old, quality.day_report(day, stored.get("raw_rows", 0), tables, stored.get("flagged", {})))
    target.put(rel, quality.report_bytes(report))
    return report


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


# --------------------------------------------------------------------------- reading back
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


def plot_partitions(parts, spec: TargetSpec, keys: list[tuple[str, str, str]], workers: int) -> list[tuple[str, str | None, bytes | None]]:
    """Plot many partitions (`(key, day, phase_module)`), in worker processes when there are several.

    `parts` is the IO manager's read-on-access mapping; each worker reads the partitions it draws.
    """
    workers = max(1, min(workers, len(keys)))
    if workers == 1:
        return [_plot_one(parts, k, spec, d, pm) for k, d, pm in keys]
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(_plot_one, parts, k, spec, d, pm) for k, d, pm in keys]
        return [f.result() for f in futures]
