"""Value rules at read time: each file's numeric samples screened against the catalog.

A sample outside its signal's bounds, a non-finite number, or a series placed outside the plant is
flagged with the file it came from (so the day's report can name it), and kept, nulled or made
fatal as the signal's `out_of_range` policy says. `summarize_flagged` is what the day's quality
report (`silver.quality`) and bronze record; `failing` is what blocks a day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.ingest.rawdata import Flagged, RawBatch

#: flagged-sample sections (read time); `outside_plant` keys name a hierarchy the plant does not have
FLAGGED_SECTIONS = ("out_of_range", "non_finite", "outside_plant")
#: files named per flagged column in the report; the rest are counted
MAX_FILES = 10

_KEEP, _NULL, _FAIL = "keep", "null", "fail"


def screen_file(batch: RawBatch, catalog: Catalog, path: str | Path) -> RawBatch:
    """Apply the value rules of one file's samples that need the file's name.

    - Non-finite numbers (a raw "NaN" or "inf") are missing samples: removed, counted.
    - A sample outside its signal's bounds is kept or removed as the signal's `out_of_range` policy
      says (`fail` removes it too, and the day then fails).
    - A series whose tags place it outside the plant (a phase or module the catalog's `plant` does
      not have, or a catalogued module signal without module tags) is not turned into a new folder
      or a system column: its samples are left out of the hour files and counted.
    Every such sample is recorded in `batch.flagged` with its file, so the report can say where it
    came from.
    """
    if not batch.series:
        return batch
    infos = [catalog.place(p, t) for p, t in batch.series]
    plant = set(catalog.plant_hierarchies()) if catalog.phases and catalog.modules else None
    outside = np.array([_outside_plant(catalog, i, plant) for i in infos] or [False])
    columns = np.array([f"{i.hierarchy}/{i.column}" for i in infos], dtype=object)
    payloads = np.array([p for p, _ in batch.series], dtype=object)
    name = Path(path).name
    parts = [batch.flagged]

    v, sid = batch.num_val, batch.num_sid
    lo = np.array([i.signal.bounds[0] if i.signal.bounds else -np.inf for i in infos])
    hi = np.array([i.signal.bounds[1] if i.signal.bounds else np.inf for i in infos])
    away = outside[sid] if len(sid) else np.zeros(0, bool)
    non_finite = ~away & ~np.isfinite(v)
    beyond = ~away & ~non_finite & ((v < lo[sid]) | (v > hi[sid])) if len(sid) else np.zeros(0, bool)
    hit = away | non_finite | beyond
    drop = np.zeros(len(v), bool)
    if hit.any():
        policy = np.array([i.signal.out_of_range for i in infos], dtype=object)
        idx = np.flatnonzero(hit)
        rule = np.where(away[idx], "outside_plant", np.where(non_finite[idx], "non_finite", "out_of_range")).astype(object)
        action = np.where(rule == "out_of_range", policy[sid[idx]], np.where(rule == "non_finite", _NULL, "excluded")).astype(
            object
        )
        parts.append(
            Flagged(
                columns[sid[idx]],
                payloads[sid[idx]],
                batch.num_ts[idx],
                v[idx],
                rule,
                action,
                np.full(len(idx), name, dtype=object),
            )
        )
        drop[idx] = action != _KEEP
    t_away = outside[batch.txt_sid] if len(batch.txt_sid) else np.zeros(0, bool)
    if t_away.any():
        idx = np.flatnonzero(t_away)
        codes = pd_codes(batch.txt_val[idx])
        parts.append(
            Flagged(
                columns[batch.txt_sid[idx]],
                payloads[batch.txt_sid[idx]],
                batch.txt_ts[idx],
                codes.astype(np.float64),
                np.full(len(idx), "outside_plant", dtype=object),
                np.full(len(idx), "excluded", dtype=object),
                np.full(len(idx), name, dtype=object),
            )
        )
    if not drop.any() and not t_away.any():
        return batch if len(parts) == 1 else replace(batch, flagged=Flagged.concat(parts))
    return replace(
        batch,
        num_sid=sid[~drop],
        num_ts=batch.num_ts[~drop],
        num_val=v[~drop],
        txt_sid=batch.txt_sid[~t_away],
        txt_ts=batch.txt_ts[~t_away],
        txt_val=batch.txt_val[~t_away],
        flagged=Flagged.concat(parts),
    )


def pd_codes(values: np.ndarray) -> np.ndarray:
    """Stable small integers for text values (so distinct text samples stay distinct when counted)."""
    from sim_platform.core.ingest.rawdata import factorize

    return factorize(values.astype(str))[0]


def _outside_plant(catalog: Catalog, info, plant: set[str] | None) -> bool:
    if plant is not None and info.hierarchy not in plant:
        return True
    return info.signal.known and info.signal.level != catalog.hierarchy_level(info.hierarchy)


def summarize_flagged(flagged: Flagged, catalog: Catalog) -> dict[str, dict]:
    """The day's flagged samples, deduplicated across files: `out_of_range` and `non_finite`
    sections, per "hierarchy/column": count, min, max, bounds, action, and the files they came from."""
    out: dict[str, dict] = {k: {} for k in FLAGGED_SECTIONS}
    if not len(flagged):
        return out
    import pandas as pd

    frame = pd.DataFrame(
        {
            "column": flagged.column,
            "payload": flagged.payload,
            "ts": flagged.ts,
            "bits": flagged.value.view(np.int64),
            "value": flagged.value,
            "rule": flagged.rule,
            "action": flagged.action,
            "file": flagged.file,
        }
    )
    per_file = frame.drop_duplicates(["column", "ts", "bits", "file"])
    distinct = per_file.drop_duplicates(["column", "ts", "bits"])
    for (rule, column), g in distinct.groupby(["rule", "column"], sort=True):
        files = Counter(per_file.loc[(per_file["rule"] == rule) & (per_file["column"] == column), "file"])
        entry = {"count": int(len(g)), "action": str(g["action"].iloc[0])}
        if rule == "out_of_range":
            sig = catalog.signal(str(g["payload"].iloc[0]))
            entry.update(
                min=float(g["value"].min()), max=float(g["value"].max()), bounds=list(sig.bounds) if sig.bounds else None
            )
        elif rule == "non_finite":
            entry["values"] = sorted({repr(float(x)) for x in g["value"]})
        entry["files"] = dict(files.most_common(MAX_FILES))
        if len(files) > MAX_FILES:
            entry["more_files"] = len(files) - MAX_FILES
        out[rule][column] = entry
    return out


def failing(flagged_summary: dict[str, dict]) -> list[str]:
    """Short reasons for the samples whose policy is `fail` (empty when none)."""
    lines = []
    for column, e in flagged_summary.get("out_of_range", {}).items():
        if e["action"] == _FAIL:
            files = list(e["files"])
            more = len(files) - 1 + e.get("more_files", 0)
            lines.append(
                f"{column}: {e['count']} sample(s) outside {e['bounds']} (min {e['min']:g}, max {e['max']:g}) and its "
                f"catalog policy is out_of_range: fail; first in {files[0]}" + (f" (+{more} more files)" if more else "")
            )
    return lines
