"""Input fingerprints per day: what a day's output was built from, so a rerun can skip the days whose
inputs did not change.

Each written day carries `OUTPUT/_manifest/YYYY/MM/DD.json`, published in the same unit as its hour
files (so it can never describe output that is not there): for every input file its path, size,
modification time, MD5 and the days it feeds, and a digest of what else decides the output (the
pipelines configuration and the package version). A rerun compares:

- same files (by path), same sizes and modification times, same configuration: the day is unchanged
  and skipped, and its files' days are known without opening a footer;
- a modification time that moved but the same size: the file's MD5 decides (a copy or a `touch`
  is not a change);
- anything else (a new, removed, resized or rewritten file, another configuration): the day is
  recomputed whole. `--force` recomputes every day.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sim_platform.storage.checksums import md5_file

MANIFEST_DIR = "_manifest"
VERSION = 1


def manifest_relpath(day: date) -> str:
    return f"{MANIFEST_DIR}/{day:%Y/%m/%d}.json"


@dataclass(frozen=True)
class Fingerprint:
    path: str
    size: int
    mtime_ns: int
    md5: str


def key(path: str | Path) -> str:
    """How a manifest names an input: its absolute path (so a run from another folder still matches)."""
    return os.path.abspath(path)


def fingerprint(path: Path, md5: str | None = None) -> Fingerprint:
    st = path.stat()
    return Fingerprint(key(path), st.st_size, st.st_mtime_ns, md5 or md5_file(path).hex())


def manifest_bytes(day: date, config: str, prints: list[Fingerprint], days_of: dict[str, tuple[date, ...]]) -> bytes:
    doc = {
        "version": VERSION,
        "day": day.isoformat(),
        "config": config,
        "inputs": {
            f.path: {"size": f.size, "mtime_ns": f.mtime_ns, "md5": f.md5, "days": [d.isoformat() for d in days_of[f.path]]}
            for f in sorted(prints, key=lambda f: f.path)
        },
    }
    return (json.dumps(doc, indent=1) + "\n").encode()


def load_manifests(root: str | Path) -> dict[date, dict]:
    """Every day's manifest in an output folder (unreadable ones are ignored: the day is recomputed)."""
    out = {}
    for p in sorted(Path(root).glob(f"{MANIFEST_DIR}/[0-9]*/[0-9]*/[0-9]*.json")):
        try:
            doc = json.loads(p.read_text())
            if doc.get("version") == VERSION:
                out[date.fromisoformat(doc["day"])] = doc
        except (OSError, ValueError, KeyError):
            continue
    return out


def known_days(manifests: dict[date, dict]) -> dict[str, tuple[int, int, tuple[date, ...]]]:
    """path -> (size, mtime_ns, days) from earlier manifests: the planner's footer cache."""
    out = {}
    for doc in manifests.values():
        for path, e in doc["inputs"].items():
            out[path] = (e["size"], e["mtime_ns"], tuple(date.fromisoformat(d) for d in e["days"]))
    return out


def unchanged(doc: dict | None, files: list, config: str) -> bool:
    """Whether a day built from `doc` would come out the same from `files` (`InputFile`s, with the
    size and modification time their planning saw) and `config`."""
    if doc is None or doc.get("config") != config:
        return False
    recorded = doc["inputs"]
    keys = [key(f.path) for f in files]
    if set(recorded) != set(keys):
        return False
    for f, k in zip(files, keys):
        e = recorded[k]
        if f.size != e["size"]:
            return False
        if f.mtime_ns != e["mtime_ns"]:
            try:
                if md5_file(f.path).hex() != e["md5"]:
                    return False
            except OSError:
                return False
    return True
