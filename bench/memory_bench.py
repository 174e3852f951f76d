"""Peak memory of `sim-platform etl` against the number of days: is it flat?

    python bench/memory_bench.py                    # the first 2, 8, 30 and 60 days of gen60
    python bench/memory_bench.py --days 2,8         # quicker

Each run is a fresh process into an empty output, under `bench/measure.py` (the whole process
tree's footprint, sampled every 100 ms, and the largest process's peak RSS from /usr/bin/time -v).
The inputs are folders of symbolic links to gen60's files (the days in date order, whatever run
folder they sit in), so nothing is copied. Memory is what this measures; the wall time is printed
for orientation only (the throughput benchmark is `etl_bench.py`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from etl_bench import command, dataset  # noqa: E402
from measure import measure  # noqa: E402


def first_days(src: Path, n: int, dst: Path) -> int:
    """Links to the files of the first `n` UTC days of src (day = the YYYY/MM/DD folder)."""
    by_day: dict[str, list[Path]] = {}
    for p in sorted(src.rglob("*.parquet")):
        by_day.setdefault("/".join(p.parent.parts[-3:]), []).append(p)
    days = sorted(by_day)[:n]
    for day in days:
        for p in by_day[day]:
            link = dst / p.relative_to(src)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(p.resolve())
    return len(days)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", default="2,8,30,60", help="comma-separated day counts (default: %(default)s)")
    args = ap.parse_args()
    src = dataset("gen60")
    rows = []
    for n in [int(x) for x in args.days.split(",")]:
        with tempfile.TemporaryDirectory(prefix="sim_mem_") as tmp:
            tmp = Path(tmp)
            days = first_days(src, n, tmp / "in")
            shutil.rmtree(tmp / "out", ignore_errors=True)
            r = measure(command("etl", tmp / "in", tmp / "out"))
            rows.append(
                {
                    "days": days,
                    "tree_mb": round(r["tree_mb"]),
                    "largest_mb": round(r["max_rss_mb"]),
                    "seconds": round(r["seconds"], 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print("\n| days | peak, whole tree | peak RSS, largest process | wall |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['days']} | {r['tree_mb']} MB | {r['largest_mb']} MB | {r['seconds']} s |")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "memory_bench.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
