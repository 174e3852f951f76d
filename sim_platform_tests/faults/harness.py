"""Running the ETL as a real process and checking an output folder as a user would."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from sim_platform.core.store.publish import HIERARCHY


def etl(
    src: Path, out: Path, *extra: str, failpoints: str = "", workers: int = 1, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`sim-platform etl` in its own process group (a failpoint kills the whole group, as a SIGKILL of
    the tree would)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("SIM_PLATFORM_FAILPOINTS", None)
    if failpoints:
        env["SIM_PLATFORM_FAILPOINTS"] = failpoints
    cmd = [
        sys.executable,
        "-m",
        "sim_platform",
        "etl",
        "--input",
        str(src),
        "--output",
        str(out),
        "--workers",
        str(workers),
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, start_new_session=True)


def day_digests(out: Path) -> dict[str, dict[str, str]]:
    """Per UTC day, the MD5 of every hour file and report of that day."""
    days: dict[str, dict[str, str]] = {}
    if not out.is_dir():
        return days
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).parts
        if not p.is_file() or any(part.startswith(".") for part in rel):
            continue
        if HIERARCHY.match(rel[0]) and len(rel) == 5:
            day = "-".join(rel[1:4])
        elif rel[0] == "_quality" and len(rel) == 4:
            day = "-".join((*rel[1:3], rel[3].removesuffix(".json")))
        else:
            continue
        days.setdefault(day, {})["/".join(rel)] = hashlib.md5(p.read_bytes()).hexdigest()
    return days


def hidden_leftovers(out: Path) -> list[str]:
    """Temporary or bookkeeping files and folders left in an output folder."""
    return sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if any(part.startswith(".") for part in p.relative_to(out).parts)
    )


def unreadable(out: Path) -> list[str]:
    """Hour files that parquet cannot read in full."""
    bad = []
    for p in out.rglob("[0-9][0-9].parquet"):
        try:
            pq.read_table(p)
        except Exception:  # noqa: BLE001 - any failure to read is the finding
            bad.append(str(p.relative_to(out)))
    return bad
