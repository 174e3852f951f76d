"""Value rules and the per-day data-quality report: anomalies are counted, never fatal.

The hour-file contract has two tiers:
- **Structural rules** (`core.silver.validate`) block: the 5-second UTC grid, unique increasing timestamps,
  the column set and its types. A break fails that (hierarchy, day).
- **Value rules** (here) never cost a day: a text value the catalog does not know, a numeric sample
  outside its signal's bounds, a non-finite number, a payload or tag key the catalog does not name.
  Each is counted, with examples, in the day's report `_quality/YYYY/MM/DD.json` beside the hour
  files, and the day is written. Only a signal whose catalog entry says `out_of_range: fail`
  turns its out-of-range samples into a failed day.

Numeric samples are screened when their file is read (`ingest.screen`), so a report names the file a
glitch came from; the per-hierarchy facts (new text values, unknown series, gaps, hours) are
by-products of resampling (`resample.resample_day`), and `day_report` puts the two together.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np

from sim_platform.core.ingest.screen import _KEEP, FLAGGED_SECTIONS
from sim_platform.core.store.read import QUALITY_DIR, report_relpath  # noqa: F401 (part of the report's API)

REPORT_VERSION = 1
#: report sections keyed by "hierarchy/...", merged per hierarchy when a run rebuilds part of a day
SECTIONS = (
    "new_text_values",
    "out_of_range",
    "non_finite",
    "outside_plant",
    "unknown_payloads",
    "unknown_tag_keys",
    "gaps",
    "fault_values",
)
#: the sections that make the value-anomaly warning (gaps are reported, but a normal day has some)
ANOMALY_SECTIONS = ("new_text_values", "out_of_range", "non_finite", "outside_plant", "unknown_payloads", "unknown_tag_keys")


# ---------------------------------------------------------------------------------- resample time
def gaps(has: np.ndarray, names: list[str], limits_s: np.ndarray, bin_s: float) -> dict[str, dict]:
    """Gaps longer than each column's fill limit between two real samples, measured on the grid
    (`has`: columns x bins, True where a bin holds a real sample)."""
    rows, bins = np.nonzero(has)
    if len(rows) < 2:
        return {}
    same = rows[1:] == rows[:-1]
    length_s = (bins[1:] - bins[:-1]) * bin_s
    long = same & (length_s > limits_s[rows[1:]])
    of_column, length_s = rows[1:][long], length_s[long]
    count = np.bincount(of_column, minlength=len(names))
    longest = np.zeros(len(names))
    np.maximum.at(longest, of_column, length_s)
    return {
        names[r]: {"count": int(count[r]), "longest_s": float(longest[r]), "fill_limit_s": float(limits_s[r])}
        for r in np.flatnonzero(count)
    }


def value_counts(codes: np.ndarray, words: list[str], known: tuple[str, ...]) -> dict[str, int]:
    """Counts of the text values (dictionary codes) that are not in `known`, most frequent first."""
    if not len(codes):
        return {}
    counts = np.bincount(codes, minlength=len(words))
    new = {words[i]: int(counts[i]) for i in np.flatnonzero(counts) if words[i] not in known}
    return dict(sorted(new.items(), key=lambda kv: (-kv[1], kv[0])))


# ------------------------------------------------------------------------------------------ the day
def hierarchy_sections(hd) -> dict[str, dict]:
    """The report sections of one resampled (hierarchy, day), keyed "hierarchy/..."."""
    h = hd.hierarchy
    q = hd.quality
    return {
        "new_text_values": {f"{h}/{c}": v for c, v in q.get("new_text_values", {}).items()},
        "unknown_payloads": {f"{h}/{p}": n for p, n in q.get("unknown_payloads", {}).items()},
        "unknown_tag_keys": {f"{h}/{k}": n for k, n in q.get("unknown_tag_keys", {}).items()},
        "gaps": {f"{h}/{c}": g for c, g in q.get("gaps", {}).items()},
        "fault_values": {f"{h}/{c}": v for c, v in q.get("fault_values", {}).items()},
        "out_of_range": {},
        "non_finite": {},
    }


def hierarchy_entry(hd) -> tuple[str, int, list[int], dict[str, dict]]:
    """What the day's report needs of one resampled (hierarchy, day): small and picklable, so a
    worker that resampled part of a day's hierarchies can send it instead of the tables."""
    return hd.hierarchy, int(hd.distinct_rows), list(hd.hours), hierarchy_sections(hd)


def day_report(day: date, raw_rows: int, tables: list, flagged_summary: dict[str, dict]) -> dict:
    """The data-quality report of one day (or of the hierarchies in `tables`, see `merge_reports`)."""
    return report_from_entries(day, raw_rows, [hierarchy_entry(hd) for hd in tables], flagged_summary)


def report_from_entries(day: date, raw_rows: int, entries: list, flagged_summary: dict[str, dict]) -> dict:
    """`day_report` from `hierarchy_entry`s (in hierarchy order, whoever built them)."""
    entries = sorted(entries, key=lambda e: e[0])
    report = {
        "version": REPORT_VERSION,
        "day": day.isoformat(),
        "raw_rows": int(raw_rows),
        "hierarchies": {h: {"distinct_rows": rows, "hours_with_samples": hours} for h, rows, hours, _ in entries},
        **{s: {} for s in SECTIONS},
    }
    built = set(report["hierarchies"])
    for _, _, _, sections in entries:
        for section, found in sections.items():
            report[section].update(found)
    for section in ("out_of_range", "non_finite"):
        report[section] = {k: v for k, v in flagged_summary.get(section, {}).items() if k.split("/", 1)[0] in built}
    report["outside_plant"] = dict(flagged_summary.get("outside_plant", {}))  # no hierarchy of the plant to own it
    return _with_totals(report)


def merge_reports(old: dict | None, new: dict, rebuilt: Iterable[str] = ()) -> dict:
    """`new` replaces, in `old`, the hierarchies it covers and those `rebuilt` (a rebuilt hierarchy
    without samples now is in none of `new`'s entries, and its old ones must go with its files);
    the other hierarchies of `old` stay."""
    if not old or old.get("version") != REPORT_VERSION or old.get("day") != new["day"]:
        return new
    replaced = set(new["hierarchies"]) | set(rebuilt)
    merged = {"version": REPORT_VERSION, "day": new["day"], "raw_rows": new["raw_rows"]}
    merged["hierarchies"] = {**{h: v for h, v in old["hierarchies"].items() if h not in replaced}, **new["hierarchies"]}
    for s in SECTIONS:
        kept = {k: v for k, v in old.get(s, {}).items() if k.split("/", 1)[0] not in replaced}
        merged[s] = dict(sorted({**kept, **new[s]}.items()))
    return _with_totals(merged)


def _with_totals(report: dict) -> dict:
    distinct_written = sum(h["distinct_rows"] for h in report["hierarchies"].values())
    removed = sum(e["count"] for s in FLAGGED_SECTIONS for e in report[s].values() if e["action"] != _KEEP)
    distinct = distinct_written + removed
    report["rows"] = {
        "raw": report["raw_rows"],
        "distinct": distinct,
        "duplicates": max(0, report["raw_rows"] - distinct),
        "removed_by_value_rules": removed,
    }
    report["anomalies"] = {
        "new_text_values": sum(sum(v.values()) for v in report["new_text_values"].values()),
        "out_of_range": sum(e["count"] for e in report["out_of_range"].values()),
        "non_finite": sum(e["count"] for e in report["non_finite"].values()),
        "outside_plant": sum(e["count"] for e in report["outside_plant"].values()),
        "unknown_payloads": len({k.split("/", 1)[1] for k in report["unknown_payloads"]}),
        "unknown_tag_keys": len({k.split("/", 1)[1] for k in report["unknown_tag_keys"]}),
    }
    report["gap_count"] = sum(g["count"] for g in report["gaps"].values())
    report["fault_samples"] = sum(sum(v.values()) for v in report["fault_values"].values())
    order = ("version", "day", "rows", "anomalies", "fault_samples", "gap_count", "raw_rows", "hierarchies", *SECTIONS)
    return {k: report[k] for k in order}


def has_anomalies(report: dict) -> bool:
    return any(report["anomalies"].values())


def report_bytes(report: dict) -> bytes:
    return (json.dumps(report, indent=1, sort_keys=False) + "\n").encode()


# ------------------------------------------------------------------------------------- short lines
def examples(counts: dict[str, int] | Counter, limit: int = 3) -> str:
    """`a x3, b x2, c x1 (+4 more)`: the first few items of a count mapping, most frequent first."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} x{v}" for k, v in items[:limit])
    return text + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def summary_lines(reports: list[dict]) -> list[str]:
    """One line per kind of anomaly over many days, each short (examples capped, counts summed)."""
    if not reports:
        return []
    text_values: dict[str, Counter] = {}
    out_of_range: Counter = Counter()
    actions: dict[str, str] = {}
    non_finite: Counter = Counter()
    payloads: Counter = Counter()
    tag_keys: Counter = Counter()
    faults: dict[str, Counter] = {}
    fault_days = 0
    days = {k: 0 for k in ANOMALY_SECTIONS}
    for r in reports:
        for column, values in r["new_text_values"].items():
            text_values.setdefault(column.split("/", 1)[1], Counter()).update(values)
        for column, e in r["out_of_range"].items():
            out_of_range[column] += e["count"]
            actions[column] = e["action"]
        for column, e in r["non_finite"].items():
            non_finite[column] += e["count"]
        for key, n in r["unknown_payloads"].items():
            payloads[key.split("/", 1)[1]] += n
        for key, n in r["unknown_tag_keys"].items():
            tag_keys[key.split("/", 1)[1]] += n
        for column, values in r["fault_values"].items():
            faults.setdefault(column.split("/", 1)[1], Counter()).update(values)
        fault_days += bool(r["fault_samples"])
        for k in ANOMALY_SECTIONS:
            days[k] += bool(r["anomalies"][k])
    lines = []
    for column, values in sorted(text_values.items()):
        lines.append(
            f"new text values in {column} ({days['new_text_values']} day(s)): {len(values)} value(s): {examples(values)}"
        )
    if out_of_range:
        by_action = Counter()
        for c, n in out_of_range.items():
            by_action[actions[c]] += n
        acts = ", ".join(f"{a} {n}" for a, n in sorted(by_action.items()))
        lines.append(
            f"out-of-range samples ({days['out_of_range']} day(s); {acts}): {sum(out_of_range.values())} "
            f"in {len(out_of_range)} column(s): {examples(out_of_range)}"
        )
    outside: Counter = Counter()
    for r in reports:
        for column, e in r["outside_plant"].items():
            outside[column] += e["count"]
    if outside:
        lines.append(
            f"samples outside the plant, not written ({days['outside_plant']} day(s)): {sum(outside.values())}: {examples(outside)}"
        )
    if non_finite:
        lines.append(
            f"non-finite samples, treated as missing ({days['non_finite']} day(s)): {sum(non_finite.values())}: {examples(non_finite)}"
        )
    if payloads:
        lines.append(
            f"payloads not in the catalog, written ({days['unknown_payloads']} day(s)): {len(payloads)}: {examples(payloads)}"
        )
    if tag_keys:
        lines.append(f"tag keys not in the catalog ({days['unknown_tag_keys']} day(s)): {len(tag_keys)}: {examples(tag_keys)}")
    for column, values in sorted(faults.items()):
        lines.append(f"fault states in {column} ({fault_days} day(s)): {examples(values)} samples")
    return [line if len(line) <= 300 else line[:299] + "…" for line in lines]


# ------------------------------------------------------------------------------------ for operators
def read_reports(root: str | Path) -> list[dict]:
    """Every day's report under an output root (`root/_quality/YYYY/MM/DD.json`), in day order."""
    return [json.loads(p.read_text()) for p in sorted(Path(root).glob(f"{QUALITY_DIR}/[0-9]*/[0-9]*/[0-9]*.json"))]


def day_line(report: dict) -> str:
    """One short line per day: its anomaly counts and fault samples."""
    a = report["anomalies"]
    faults = Counter()
    for values in report["fault_values"].values():
        faults.update(values)
    parts = [f"{k.replace('_', ' ')} {n}" for k, n in a.items() if n]
    if faults:
        parts.append(f"faults: {examples(faults)}")
    return f"{report['day']}: " + ("; ".join(parts) if parts else "clean")
