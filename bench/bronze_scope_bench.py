"""What a one-day bronze run costs before it reads a row, by the size of the container.

    .venv/bin/python bench/bronze_scope_bench.py                # gen30: a container of 1 day and of 30
    .venv/bin/python bench/bronze_scope_bench.py --days 1,10,30 --repeat 5

A bronze run first brings the raw cache up to date (one listing of each source prefix, then an MD5
of every cached copy it looks at) and plans its inputs (claims, name collisions, each file's days
from its footer). For each container size (the first N days of gen30 in a local-folder container,
its raw cache primed), the same one-day run's set-up is timed two ways in the same process, one
after the other, each `--repeat` times (median):

* all: every blob of the container verified and every cached file planned (the rule before
  2026-12-03, and still what `sim-platform etl` does with a folder: it plans every file);
* its days: only the files whose names may hold the run's day (`landing.may_hold`), as bronze now
  does.

Reports seconds, files verified and planned, and the ratio all / its days. Not a test: it measures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from etl_bench import dataset  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", default="1,30", help="container sizes, in days of gen30")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from sim_platform.core.config.pipelines import load_pipelines
    from sim_platform.core.ingest.landing import fetch_blob_sources, may_hold, near_days, source_roots
    from sim_platform.core.ingest.plan import plan_sources
    from sim_platform.storage import sync_up
    from sim_platform.storage.local_store import LocalBlobStore

    data = dataset("gen30")
    day_dirs = sorted({p.parent for p in data.rglob("*.parquet")})
    pipes = load_pipelines(None)
    work = Path(tempfile.mkdtemp(prefix="bronze_scope_"))
    try:
        rows = []
        for n in [int(x) for x in args.days.split(",")]:
            store = LocalBlobStore(work / f"blob{n}", "simulation-data")
            store.create_container()
            landing = work / f"landing{n}"
            for d in day_dirs[:n]:
                shutil.copytree(d, landing / d.relative_to(data))
            assert sync_up(store, landing, prefix="raw/telemetry/", log_dir=None).ok
            cache = work / f"cache{n}"
            fetch_blob_sources(store, pipes, cache, log_dir=None)  # primed, as after the first run
            day = date.fromisoformat("-".join(day_dirs[0].parts[-3:]))
            near = near_days([day])
            timed = {}
            for how in ("all", "its days"):
                secs, counts = [], None
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    days = None if how == "all" else [day]
                    syncs = fetch_blob_sources(store, pipes, cache, log_dir=None, days=days)
                    select = None if how == "all" else (lambda rel, near=near: may_hold(rel, near))
                    plan = plan_sources(source_roots(pipes, cache), pipes.catalog, select=select)
                    secs.append(time.perf_counter() - t)
                    counts = (sum(len(s.skipped) + len(s.transferred) for s in syncs), len(plan.files))
                timed[how] = (statistics.median(secs), *counts)
            rows.append((n, timed))
            print(
                f"container of {n:>3} day(s): all {timed['all'][0]:.2f} s ({timed['all'][1]} verified, "
                f"{timed['all'][2]} planned); its days {timed['its days'][0]:.2f} s ({timed['its days'][1]} verified, "
                f"{timed['its days'][2]} planned); ratio {timed['all'][0] / timed['its days'][0]:.1f}x",
                flush=True,
            )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
