"""Finding input files and planning which UTC days each one feeds.

Files may sit at any depth under a source's folder. Which source (and so which reader) a file
belongs to is decided by `sources.claim`: the first configured source whose file-name patterns
match. Without a configuration, `.parquet` files are telemetry exports and `.h5`/`.hdf5` files are
run files. Anything no source claims (READMEs, hidden and temporary files) is ignored and counted. The days a file covers
come from metadata only (parquet footer statistics, the run file's start/end attributes), so
planning costs one small read per file and each day can later be processed on its own.

Name collisions: a telemetry export is identified by its file name (the exporter puts a UUID in it),
a run file by `run_folder/file_name`, a CSV/JSON file by `source/file_name`. Two paths with one identity and the same bytes are one input
(the later path is skipped and reported); with different bytes both are refused, since there is no
telling which one is right.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.grid import day_of
from sim_platform.core.config.sources import SourceFormat, claim, default_sources
from sim_platform.core.ingest.hdf5_runs import run_time_range_ms
from sim_platform.core.ingest.rawdata import InputError
from sim_platform.core.text import shorten
from sim_platform.storage.checksums import md5_file

#: (folder, a source whose files may be in it); a list of these is in precedence order
SourceRoot = tuple[Path, SourceFormat]


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # "telemetry" | "hdf5" | "csv" | "json"
    size: int
    days: tuple[date, ...]
    source: SourceFormat | None = None  # the source that claimed it (needed to read CSV/JSON)
    mtime_ns: int = 0  # when planned (a rerun compares it with the manifest without a second stat)


@dataclass
class InputPlan:
    files: list[InputFile] = field(default_factory=list)
    failures: list[InputError] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # same identity and bytes as another file
    ignored: list[Path] = field(default_factory=list)
    excluded: list[Path] = field(default_factory=list)  # folders left out (the output inside the input)

    def refused_days(self) -> tuple[dict[date, list[InputError]], list[InputError]]:
        """The refused files per day they belong to (from their metadata, else from a date in their
        path), and those whose day cannot be told at all."""
        by_day: dict[date, list[InputError]] = defaultdict(list)
        unknown = []
        for err in self.failures:
            days = getattr(err, "days", ()) or _days_in_path(err.path)
            for d in days:
                by_day[d].append(err)
            if not days:
                unknown.append(err)
        return dict(by_day), unknown

    def days_kept(
        self, days: Iterable[date], has_output: Callable[[date], bool], override: str | None = None
    ) -> dict[date, list[str]]:
        """The days of `days` that must keep their previous output because an input of theirs was
        refused while planning, with the lines that say why (the files first). They are not rebuilt
        from the remaining files: that would drop the hours only the refused file fed. A refused file
        whose day cannot be told protects every day that already has output (`has_output`); days
        with no output yet are written. `override` names the switch that builds them anyway (the
        CLI's `--skip-bad-files`); the ETL and bronze apply this one rule."""
        refused, unknown = self.refused_days()
        kept = {}
        for d in days:
            if d in refused:
                kept[d] = [str(e) for e in refused[d]] + [
                    f"day {d}: not written, {len(refused[d])} bad input file(s); its previous output is kept"
                    + (f" ({override} builds it from the rest)" if override else "")
                ]
            elif unknown and has_output(d):
                kept[d] = [
                    shorten(
                        f"day {d}: not written: {len(unknown)} refused input file(s) of unknown day (first {unknown[0].path}) "
                        "may belong to it; its previous output is kept" + (f" ({override} writes it anyway)" if override else ""),
                        300,
                    )
                ]
        return kept

    def files_by_source(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for f in self.files:
            counts[f.source.name if f.source else f.kind] += 1
        return dict(counts)

    def by_day(self) -> dict[date, list[InputFile]]:
        days: dict[date, list[InputFile]] = defaultdict(list)
        for f in self.files:
            for d in f.days:
                days[d].append(f)
        return dict(sorted(days.items()))


_DATE_IN_PATH = re.compile(r"(?<!\d)(20\d{2})[/-](\d{2})[/-](\d{2})(?!\d)")


def _days_in_path(path: str) -> tuple[date, ...]:
    """Days named in a path: exporter folders `YYYY/MM/DD/` or file names with `YYYY-MM-DD`."""
    out = set()
    for y, m, d in _DATE_IN_PATH.findall(str(path)):
        try:
            out.add(date(int(y), int(m), int(d)))
        except ValueError:
            continue
    return tuple(sorted(out))


def _identity(path: Path, source: SourceFormat) -> str:
    if source.kind == "telemetry":
        return path.name
    if source.kind == "hdf5":
        return f"{path.parent.name}/{path.name}"
    return f"{source.name}/{path.name}"


def _days_between(lo_ms: int, hi_ms_inclusive: int) -> tuple[date, ...]:
    first, last = day_of(lo_ms), day_of(hi_ms_inclusive)
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def file_days(path: Path, kind: str, catalog: Catalog, source: SourceFormat | None = None) -> tuple[date, ...]:
    """UTC days a file has samples in, from metadata; InputError when the file is unusable."""
    lo_ok, hi_ok = catalog.valid_time_range_ms
    if kind in ("csv", "json"):
        from sim_platform.core.ingest.tabular import time_range_ms

        lo, hi = time_range_ms(path, source)
        if lo < lo_ok or hi >= hi_ok:
            raise InputError(path, f"timestamps out of range ({lo}..{hi} ms since epoch)")
        return _days_between(lo, hi)
    if kind == "hdf5":
        start, end = run_time_range_ms(path)
        if start < lo_ok or end > hi_ok or end <= start:
            raise InputError(path, f"time range [{start}, {end}) ms is empty or out of the valid range")
        return _days_between(start, end - 1)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim_platform.core.ingest.telemetry import check_schema, timestamp_range_ms

    try:
        if path.stat().st_size == 0:
            raise InputError(path, "empty file: 0 bytes")
        pf = pq.ParquetFile(path)
        check_schema(path, pf.schema_arrow)
        meta = pf.metadata
        if meta.num_rows == 0:
            raise InputError(path, "empty file: no rows")
        rng = timestamp_range_ms(path, pf)
    except InputError:
        raise
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"corrupt or truncated parquet: {exc}") from exc
    if rng[0] < lo_ok or rng[1] >= hi_ok:
        raise InputError(path, f"timestamps out of range ({rng[0]}..{rng[1]} ms since epoch)")
    return _days_between(*rng)


def plan_inputs(
    root: str | Path,
    catalog: Catalog,
    sources: tuple[SourceFormat, ...] | None = None,
    exclude: tuple[Path, ...] = (),
    known: dict | None = None,
) -> InputPlan:
    """Plan one folder, read with `sources` (default: telemetry exports and HDF5 runs by suffix)."""
    return plan_sources([(Path(root), s) for s in sources or default_sources()], catalog, exclude, known)


def _by_path(item: tuple) -> tuple[str, ...]:
    """The order of `Path`s (part by part), for (path, ...) pairs: sorting on the parts is the
    same order as comparing the paths, at a tenth of the cost for thousands of files."""
    return item[0].parts


def _files_under(root: Path) -> list[Path]:
    """The files under `root` in path order, as `sorted(root.rglob("*"))` filtered to files would
    give them, leaving out hidden names (a leading dot) at any depth and not descending into linked
    folders; one `scandir` per folder, so a file costs no `stat` unless it is a link."""
    out: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # an unreadable folder: passed over, as rglob does
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(folder / entry.name)
            elif entry.is_file():
                out.append(folder / entry.name)
    return sorted(out, key=lambda p: p.parts)


def plan_sources(
    roots: list[SourceRoot],
    catalog: Catalog,
    exclude: tuple[Path, ...] = (),
    known: dict | None = None,
    select: Callable[[str], bool] | None = None,
) -> InputPlan:
    """Plan the files of every (folder, source) pair: claim, check name collisions, date.

    A file belongs to the first pair, in list order, whose folder holds it and whose source's
    patterns match its name; files no pair claims are ignored (and counted). Folders in `exclude`
    (an output folder inside the input, say) are left out whole, and noted. `known` maps a path to
    (size, mtime_ns, days) from earlier runs' manifests: such a file's footer is not opened again.
    `select` keeps a file by its path below its folder (`/`-separated); the others are not looked at
    (`landing.may_hold`: a run of some days plans only their files).
    """
    plan = InputPlan()
    found: dict[Path, list[SourceFormat]] = {}
    skip = [p.resolve() for p in exclude]

    inside: dict[Path, bool] = {}

    def excluded(folder: Path) -> bool:
        """Whether a folder lies in an excluded one: resolved and decided once per folder (resolving
        each of thousands of files, a walk of its links every time, was most of a rerun's planning)."""
        if folder not in inside:
            real = folder.resolve()
            inside[folder] = any(real.is_relative_to(ex) for ex in skip)
        return inside[folder]

    # each folder is listed once, however many sources read it (they usually share one)
    by_root: dict[Path, list[tuple[int, SourceFormat]]] = {}
    for order, (root, source) in enumerate(roots):
        if not root.exists():
            raise FileNotFoundError(f"input folder {root} does not exist")
        if not root.is_dir():
            raise NotADirectoryError(f"input {root} is a file, not a folder")
        by_root.setdefault(root, []).append((order, source))
    ranked: dict[Path, list[tuple[int, SourceFormat]]] = {}
    for root, sources in by_root.items():
        for ex in skip:
            if ex.is_relative_to(root.resolve()) and ex not in plan.excluded:
                plan.excluded.append(ex)
        for path in _files_under(root):
            if skip and excluded(path.parent):
                continue
            if select is not None and not select(path.relative_to(root).as_posix()):
                continue
            ranked.setdefault(path, []).extend(sources)
    for path, sources in ranked.items():  # in the order of `roots`, as the first claim wins
        found[path] = [source for _, source in sorted(sources, key=lambda s: s[0])]
    candidates: dict[Path, SourceFormat] = {}
    for path, sources in sorted(found.items(), key=_by_path):
        source = claim(path.name, sources)
        if source is None:
            plan.ignored.append(path)
        else:
            candidates[path] = source

    groups: dict[str, list[tuple[Path, SourceFormat]]] = defaultdict(list)
    for path, source in sorted(candidates.items(), key=_by_path):
        groups[_identity(path, source)].append((path, source))
    accepted: list[tuple[Path, SourceFormat]] = []
    for members in groups.values():
        if len(members) == 1:
            accepted.append(members[0])
            continue
        digests = {p: md5_file(p) for p, _ in members}
        if len(set(digests.values())) == 1:
            accepted.append(members[0])
            plan.duplicates.extend(f"{p}: same name and content as {members[0][0]}, read once" for p, _ in members[1:])
        else:
            others = ", ".join(str(p) for p, _ in members)
            for p, source in members:
                err = InputError(p, f"name collides with another input of different content ({others})")
                try:
                    err.days = file_days(p, source.kind, catalog, source)
                except InputError:
                    pass
                plan.failures.append(err)

    for path, source in sorted(accepted, key=_by_path):
        try:
            st = path.stat()
            hit = (known or {}).get(os.path.abspath(path)) if known else None
            if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
                days = hit[2]
            else:
                days = file_days(path, source.kind, catalog, source)
            plan.files.append(InputFile(path, source.kind, st.st_size, days, source, st.st_mtime_ns))
        except InputError as exc:
            plan.failures.append(exc)
    return plan
