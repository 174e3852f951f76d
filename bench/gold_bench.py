"""Gold benchmark: `sim-platform gold` over the silver output of the generated 30-day set.

Side by side in one run, each under /usr/bin/time -v (bench/measure.py):
  (a) `sim-platform etl` of the same input, for scale (what the gold step follows),
  (b) `sim-platform gold --workers 1`, the sequential baseline,
  (c) `sim-platform gold` with one worker per core.
Reports wall, CPU, memory and the ratios c/b and c/a; fails unless (b) and (c) write byte-identical
training sets. Usage: python bench/gold_bench.py [--input bench/data/gen30] [--work DIR]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "sim-platform")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--input",
        default=str(ROOT / "bench" / "data" / "gen30"),
        help="raw input (make it with bench/etl_bench.py or sim-platform generate)",
    )
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    if not Path(args.input).is_dir():
        print(
            f"no input at {args.input}: run `sim-platform generate --runs 1 --days 30 --out {args.input}` first", file=sys.stderr
        )
        return 2
    work = Path(args.work or tempfile.mkdtemp(prefix="gold_bench_"))
    shutil.rmtree(work, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "SIM_PLATFORM_WAREHOUSE_URL"}  # DuckDB, the embedded default
    rows = {}
    rows["a"] = measure([CLI, "etl", "--input", args.input, "--output", str(work / "silver")], env)
    rows["b"] = measure([CLI, "gold", "--silver", str(work / "silver"), "--gold", str(work / "gold_1"), "--workers", "1"], env)
    rows["c"] = measure([CLI, "gold", "--silver", str(work / "silver"), "--gold", str(work / "gold_n")], env)
    quarters = sorted(p.name for p in (work / "gold_1" / "ml_training_set").glob("*.parquet"))
    same = all(
        filecmp.cmp(work / "gold_1/ml_training_set" / q, work / "gold_n/ml_training_set" / q, shallow=False) for q in quarters
    )
    names = {"a": "sim-platform etl (scale)", "b": "gold, 1 worker (baseline)", "c": f"gold, {os.cpu_count()} workers"}
    print("| run | wall | CPU | peak RSS (largest process) | tree |")
    print("|---|---|---|---|---|")
    for k, r in rows.items():
        print(
            f"| {names[k]} | {r['seconds']:.1f} s | {r['cpu_seconds']:.1f} s | {r['max_rss_mb']:.0f} MB | {r['tree_mb']:.0f} MB |"
        )
    summary = {
        "quarters": quarters,
        "training_sets_identical": same,
        "speedup_c_over_b": round(rows["b"]["seconds"] / rows["c"]["seconds"], 2),
        "gold_over_etl_c_over_a": round(rows["c"]["seconds"] / rows["a"]["seconds"], 2),
        **{f"{k}_seconds": round(r["seconds"], 2) for k, r in rows.items()},
    }
    print(json.dumps(summary))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "gold_bench.json").write_text(json.dumps(summary, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
