"""Where the ETL's time goes: cProfile of `run_etl(..., workers=1)`, folded into the stages of the ETL.

    python bench/profile_etl.py --input bench/data/day             # the sample's full day 2024-07-05
    python bench/profile_etl.py --input ../shared/data/telemetry   # the 4-day sample
    python bench/profile_etl.py --input DIR --dump prof.out        # keep the raw profile (snakeviz, pstats)

One process, one worker, so every stage runs on the profiled thread: the day's writer threads
(`silver.build.WRITER_THREADS`) are swapped for an executor that runs each task at once, in this thread,
for the profile only. Stages are exclusive (a function's time is counted once, in the innermost
stage that claims it), from cProfile's per-caller cumulative times:

    start-up      interpreter + imports (numpy, pyarrow, sim_platform; the ETL never imports pandas), measured
                  before the profile starts
    planning      ingest.plan.plan_inputs: listing, footers, days of every file
    manifest      ingest.manifest: input fingerprints (MD5), loading and comparing manifests
    read          parquet -> Arrow (read_telemetry without what follows)
    decode tags   ingest.telemetry._row_series / _tags_as_pairs
    parse         the rest of batch_from_long_table: timestamps, dictionary codes, numbers, text
    dedupe        rawdata.distinct_mask (per file; per day only where two files share time) and concat_batches
    value rules   ingest.screen.screen_file, summarize_flagged (bounds, non-finite, per file)
    bin           resample._bin_columns, _by_column, _codes, _numbers_of_text_columns_as_text
    fill          resample._fill
    tables        the rest of resample_day: Arrow arrays and tables of 17,280 rows per hierarchy
    quality       gaps, text findings, the day report and its JSON
    validate      validate.validate_table (the schema's rules on the Arrow table) and build_day's concat
    encode        silver.encode.table_to_parquet_bytes, file_meta: hour files to parquet bytes
    publish       store.publish: staged files, fsync, journal, renames
    other         the rest (the ETL's own bookkeeping, the profiler's overhead)

cProfile adds a cost per Python call, so Python-heavy stages (encode: a writer per hour file) look a
little larger than they are; the unprofiled wall time of the same call is printed for scale.
"""

from __future__ import annotations

import time

T_PROCESS = time.perf_counter()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from concurrent.futures import Future  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy  # noqa: E402,F401
import pyarrow.parquet  # noqa: E402,F401

from sim_platform.core import etl  # noqa: E402
from sim_platform.core.silver import build  # noqa: E402

T_IMPORTS = time.perf_counter()

#: (stage, file suffix, function name); the first claim of an innermost frame wins
STAGES = [
    ("planning", "core/ingest/plan.py", "plan_inputs"),
    ("manifest", "core/ingest/manifest.py", "*"),
    ("decode tags", "core/ingest/telemetry.py", "_row_series"),
    ("decode tags", "core/ingest/telemetry.py", "_tags_as_pairs"),
    ("dedupe", "core/ingest/rawdata.py", "distinct_mask"),
    ("dedupe", "core/ingest/rawdata.py", "concat_batches"),
    ("dedupe", "core/ingest/rawdata.py", "distinct_rows"),
    ("dedupe", "core/ingest/rawdata.py", "shared_time"),
    ("parse", "core/ingest/telemetry.py", "batch_from_long_table"),
    ("read", "core/ingest/telemetry.py", "read_telemetry"),
    ("value rules", "core/ingest/screen.py", "screen_file"),
    ("value rules", "core/ingest/screen.py", "summarize_flagged"),
    ("bin", "core/silver/resample.py", "_bin_columns"),
    ("bin", "core/silver/resample.py", "_by_column"),
    ("bin", "core/silver/resample.py", "_codes"),
    ("bin", "core/silver/resample.py", "_numbers_of_text_columns_as_text"),
    ("bin", "core/silver/resample.py", "_column_plan"),
    ("fill", "core/silver/resample.py", "_fill"),
    ("quality", "core/silver/quality.py", "gaps"),
    ("quality", "core/silver/resample.py", "_text_findings"),
    ("quality", "core/silver/resample.py", "_series_findings"),
    ("quality", "core/silver/quality.py", "day_report"),
    ("quality", "core/silver/quality.py", "report_from_entries"),
    ("quality", "core/silver/quality.py", "report_bytes"),
    ("tables", "core/silver/resample.py", "resample_day"),
    ("validate", "core/silver/validate.py", "validate_table"),
    ("validate", "core/silver/build.py", "build_day"),
    ("encode", "core/silver/encode.py", "table_to_parquet_bytes"),
    ("encode", "core/silver/encode.py", "file_meta"),
    ("publish", "core/store/publish.py", "*"),
]
ORDER = [
    "start-up",
    "planning",
    "manifest",
    "read",
    "decode tags",
    "parse",
    "dedupe",
    "value rules",
    "bin",
    "fill",
    "tables",
    "quality",
    "validate",
    "encode",
    "publish",
    "other",
]


class InlineExecutor:
    """A stand-in for ThreadPoolExecutor that runs every task at once in the calling thread."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, *iterables):
        return [fn(*args) for args in zip(*iterables)]

    def submit(self, fn, *args, **kwargs):
        f = Future()
        f.set_result(fn(*args, **kwargs))
        return f

    def shutdown(self, *args, **kwargs):
        pass


def stage_of(func: tuple) -> str | None:
    filename, _, name = func
    for stage, suffix, fname in STAGES:
        if filename.endswith(suffix) and fname in ("*", name):
            return stage
    return None


def breakdown(stats: pstats.Stats, total: float) -> dict[str, float]:
    """Exclusive seconds per stage: a stage's functions' cumulative time, less what they spent in
    functions of another stage called from inside them (nested stages subtract themselves)."""
    raw = stats.stats  # func -> (cc, nc, tt, ct, callers)
    claimed = {f: stage_of(f) for f in raw}
    out = dict.fromkeys(ORDER, 0.0)
    # cumulative time entering each stage from outside it (recursion and self-calls counted once)
    for func, (_, _, _, _, callers) in raw.items():
        stage = claimed[func]
        if stage is None:
            continue
        for caller, (_, _, _, ct) in callers.items():
            if claimed.get(caller) != stage:
                out[stage] += ct
    # a stage entered from inside another stage is subtracted from that other stage
    for func, (_, _, _, _, callers) in raw.items():
        stage = claimed[func]
        if stage is None:
            continue
        for caller, (_, _, _, ct) in callers.items():
            outer = _enclosing_stage(caller, raw, claimed)
            if outer is not None and outer != stage:
                out[outer] -= ct
    out["other"] = total - sum(v for k, v in out.items() if k != "other")
    return out


def _enclosing_stage(func, raw, claimed, depth: int = 0):
    """The stage a frame runs in: its own, else (through its callers) the one it is called from,
    when that is unambiguous."""
    if claimed.get(func):
        return claimed[func]
    if depth > 12 or func not in raw:
        return None
    stages = {_enclosing_stage(c, raw, claimed, depth + 1) for c in raw[func][4]}
    stages.discard(None)
    return stages.pop() if len(stages) == 1 else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--dump", default=None, help="also write the raw cProfile data here")
    ap.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    ap.add_argument("--json", default=None, help="write the breakdown as JSON here")
    args = ap.parse_args()
    build.ThreadPoolExecutor = InlineExecutor  # the profile sees the writers' work (this process only)
    work = Path(tempfile.mkdtemp(prefix="profile_etl_"))
    try:
        t = time.perf_counter()
        etl.run_etl(args.input, work / "plain", workers=1)
        plain = time.perf_counter() - t
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        summary = etl.run_etl(args.input, work / "out", workers=1)
        prof.disable()
        profiled = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.dump:
        prof.dump_stats(args.dump)
    stats = pstats.Stats(prof)
    parts = breakdown(stats, profiled)
    startup = T_IMPORTS - T_PROCESS
    scale = plain / profiled  # stages in unprofiled seconds, pro rata
    rows = {"start-up": startup, **{k: v * scale for k, v in parts.items() if k != "start-up"}}
    total = sum(rows.values())
    t = summary.totals()
    print(
        f"input {args.input}: {t['days']} days, {t['raw_rows']:,} raw rows, {t['distinct_rows']:,} distinct, "
        f"{t['files_written']:,} files written; run_etl(workers=1) {plain:.2f} s unprofiled, {profiled:.2f} s profiled; "
        f"start-up {startup:.2f} s"
    )
    print()
    print("| stage | seconds | share |")
    print("|---|---|---|")
    for k in ORDER:
        print(f"| {k} | {rows[k]:.2f} | {rows[k] / total:.0%} |")
    print(f"| **total** (start-up + unprofiled run) | {total:.2f} | 100% |")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"input": args.input, "plain_s": plain, "profiled_s": profiled, "stages_s": rows}, indent=1)
        )
    if args.top:
        print()
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
