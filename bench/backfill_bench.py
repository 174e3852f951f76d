"""Backfill benchmark: `sim-platform etl` vs a Dagster backfill of every partition, same data.

    python bench/backfill_bench.py                       # gen30 (3 runs x 10 days), SQLite and Postgres
    python bench/backfill_bench.py --storage sqlite --dataset sample

(i)   baseline: `sim-platform etl --input <data> --output <tmp>` (the CLI, cold process);
(ii)  backfill with a real DagsterInstance on SQLite: `telemetry_day` over all days from the first
      to the last day of the data as ONE run (days without a file are skipped), then
      `resampled_5s` over the same day range as ONE run (a day, every phase_module of it, is one
      partition; days without bronze are skipped) -- what `BackfillPolicy.single_run()` launches --
      executed in a cold process that imports the Definitions, opens the instance and runs both
      runs (event log, materialisations, checks);
(iii) the same with Postgres storage (dagster-postgres; a private PostgreSQL from the Debian
      packages in a temporary data dir on a free loopback port, started and stopped here).

The raw data sits in a local-folder blob container and the raw cache is primed before timing (the
ETL reads a local folder too); the sync check that finds every blob already cached IS timed. The
plots (`module_day_plot`) are not part of the ETL and not timed. After each backfill the silver
files are compared with the ETL's output: the benchmark fails if a single byte differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from etl_bench import dataset  # noqa: E402
from measure import measure  # noqa: E402

from sim_platform_tests.postgres import Postgres  # noqa: E402

PY = sys.executable


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))}


# ------------------------------------------------------------------ the timed child process
def child() -> int:
    """One backfill in this (fresh) process: bronze range run, then the silver range run."""
    t0 = time.perf_counter()
    from dagster import DagsterInstance, materialize
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as END
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as START

    from sim_platform.core.catalog import default_catalog
    from sim_platform.core.inputs import plan_inputs
    from sim_platform.definitions import build_resources
    from sim_platform.defs.bronze.assets import telemetry_day
    from sim_platform.defs.silver.assets import resampled_5s

    resources = build_resources()
    days = sorted(plan_inputs(resources["paths"].raw_cache_dir / "raw", default_catalog()).by_day())
    first, last = days[0].isoformat(), days[-1].isoformat()
    t_import = time.perf_counter() - t0
    with DagsterInstance.get() as instance:
        t1 = time.perf_counter()
        r = materialize([telemetry_day], instance=instance, resources=resources, tags={START: first, END: last})
        assert r.success
        t2 = time.perf_counter()
        pms = instance.get_dynamic_partitions("phase_module")
        r = materialize([resampled_5s], instance=instance, resources=resources, tags={START: first, END: last})
        assert r.success
        n, runs = len(r.get_asset_materialization_events()), 1
        t3 = time.perf_counter()
    print(
        json.dumps(
            {
                "days": len(days),
                "phase_modules": len(pms),
                "silver_partitions": n,
                "silver_runs": runs,
                "import_and_plan_s": round(t_import, 2),
                "bronze_run_s": round(t2 - t1, 2),
                "silver_run_s": round(t3 - t2, 2),
            }
        )
    )
    return 0


def instance_yaml(storage: str, pg: Postgres | None) -> str:
    if storage == "sqlite":
        return "telemetry:\n  enabled: false\n"
    return f'storage:\n  postgres:\n    postgres_url: "{pg.url}"\ntelemetry:\n  enabled: false\n'


# ------------------------------------------------------------------ driver
def prepare(src: Path, work: Path) -> dict:
    """Container with the raw data under raw/telemetry/, raw cache primed (not timed)."""
    from sim_platform.storage import sync_down, sync_up
    from sim_platform.storage.local_store import LocalBlobStore

    store = LocalBlobStore(work / "blobstore", "simulation-data")
    store.create_container()
    up = sync_up(store, src, prefix="raw/telemetry/", log_dir=None)
    down = sync_down(store, work / "home" / "raw_cache" / "raw", prefix="raw/", log_dir=None)
    assert up.ok and down.ok
    return {"SIM_PLATFORM_HOME": str(work / "home"), "SIM_PLATFORM_LOCAL_BLOB_ROOT": str(work / "blobstore")}


def run_backfill(storage: str, env_extra: dict, work: Path, pg: Postgres | None) -> dict:
    home = work / "home"
    for sub in ("bronze", "silver"):
        shutil.rmtree(home / sub, ignore_errors=True)
    dh = Path(tempfile.mkdtemp(prefix=f"dagster_home_{storage}_", dir=work))
    (dh / "dagster.yaml").write_text(instance_yaml(storage, pg))
    env = {**os.environ, **env_extra, "DAGSTER_HOME": str(dh)}
    for k in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL"):
        env.pop(k, None)
    res = measure([PY, str(Path(__file__).resolve()), "--child"], env=env)
    res["detail"] = json.loads(res.pop("stdout").strip().splitlines()[-1])
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dataset", default="gen30")
    ap.add_argument("--storage", default="sqlite,postgres")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temp dir, removed at the end)")
    args = ap.parse_args()
    if args.child:
        return child()

    src = dataset(args.dataset)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="backfill_bench_"))
    results: dict = {"dataset": args.dataset, "files": len(list(src.rglob("*.parquet")))}
    try:
        t = time.perf_counter()
        env_extra = prepare(src, work)
        print(f"prepared container and raw cache in {time.perf_counter() - t:.1f} s", flush=True)
        out = work / "etl"
        base = measure([PY, "-m", "sim_platform", "etl", "--input", str(src), "--output", str(out)])
        base.pop("stdout")
        results["etl"] = base
        expected = digest(out)
        print(f"(i) sim-platform etl: {base['seconds']:.2f} s, {len(expected)} hour files", flush=True)
        for storage in args.storage.split(","):
            if storage == "postgres":
                with Postgres() as pg:
                    res = run_backfill(storage, env_extra, work, pg)
            else:
                res = run_backfill(storage, env_extra, work, None)
            got = digest(work / "home" / "silver")
            res["identical_to_etl"] = got == expected
            res["ratio_to_etl"] = res["seconds"] / base["seconds"]
            results[storage] = res
            print(
                f"({'ii' if storage == 'sqlite' else 'iii'}) backfill, {storage}: {res['seconds']:.2f} s = "
                f"{res['ratio_to_etl']:.2f}x etl; identical files: {res['identical_to_etl']}; {res['detail']}",
                flush=True,
            )
            if not res["identical_to_etl"]:
                raise SystemExit(f"{storage}: silver differs from the ETL output")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "backfill_bench.json").write_text(json.dumps(results, indent=1, default=str))
    print("| run | wall | CPU | peak RSS (largest process) | ratio to etl |")
    print("|---|---|---|---|---|")
    print(
        f"| (i) sim-platform etl | {results['etl']['seconds']:.2f} s | {results['etl']['cpu_seconds']:.1f} s | {results['etl']['max_rss_mb']:.0f} MB | 1.00x |"
    )
    for storage in args.storage.split(","):
        r = results[storage]
        print(
            f"| backfill, {storage} | {r['seconds']:.2f} s | {r['cpu_seconds']:.1f} s | {r['max_rss_mb']:.0f} MB | {r['ratio_to_etl']:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
