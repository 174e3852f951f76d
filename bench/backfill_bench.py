"""Backfill benchmark: `sim-platform etl` vs a Dagster backfill of every partition, same data.

    python bench/backfill_bench.py                       # gen30 (3 runs x 10 days), SQLite and Postgres
    python bench/backfill_bench.py --storage sqlite --dataset sample --repeat 5 --floor
    python bench/backfill_bench.py --storage sqlite,sqlite-stock --floor   # the project's event log vs Dagster's

(i)   baseline: `sim-platform etl --input <data> --output <tmp>` (the CLI, cold process);
(ii)  backfill with a real DagsterInstance on SQLite (`sqlite`: the packaged instance's storage, whose
      event log writes a batch in one transaction; `sqlite-stock`: Dagster's SQLite storage as it comes): the two runs the backfill daemon launches
      for `telemetry_day` and `resampled_5s` over all days from the first to the last day of the
      data (`sim_platform_tests/defs/test_run_counts.py` pins them): bronze over the day range
      (one partition per day), then silver over every (day, phase_module) of the range (one run:
      the rectangle, with the project's run coordinator). When a day of the range has no raw file
      (the sample's 4 days over 63), bronze materialises its days one by one and silver skips the
      days without bronze with no event per module. Executed in a cold process that imports the
      Definitions, opens the instance and runs both runs (event log, materialisations, checks);
(iii) the same with Postgres storage (dagster-postgres; a private PostgreSQL from the Debian
      packages in a temporary data dir on a free loopback port, started and stopped here);
(iv)  with `--floor`: Dagster's own share, measured the same way -- a cold process that imports the
      same Definitions, opens a fresh SQLite instance and runs the same two runs over the
      same ranges (same partitions, same check specs, the same materialisations with the same
      metadata keys, checks, log lines and phase_module registrations), with bodies that do no data
      work: the fixed cost a backfill pays whatever its code does, and, divided by the silver
      partitions materialised, Dagster's bookkeeping per (module, day) partition (an upper bound:
      the run start-up is in it too).

`--repeat N` runs N rounds, each (i), (ii)/(iii) and (iv) one after the other (so a round's figures
share the machine's load), and reports the medians of the wall times and of the per-round ratios.

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
import statistics
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


# ------------------------------------------------------------------ the timed child processes
def child(floor: bool = False) -> int:
    """One backfill in this (fresh) process, as the backfill daemon launches it under the project's
    run coordinator: bronze over the day range as one run, then silver over every phase_module of
    those days as one run (the rectangle of (day, phase_module) partitions); with `floor`, the same
    runs with bodies that do no data work (`floor_assets`)."""
    t0 = time.perf_counter()
    from dagster import DagsterInstance, materialize
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as END
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as START

    import sim_platform.dagster_instance  # noqa: F401  (the coordinator the packaged instance loads)
    from sim_platform.core.config.pipelines import default_catalog
    from sim_platform.core.ingest.plan import plan_inputs
    from sim_platform.definitions import build_resources
    from sim_platform.defs.bronze.assets import telemetry_day
    from sim_platform.defs.silver.assets import resampled_5s

    resources = build_resources()
    plan = plan_inputs(resources["paths"].raw_cache_dir / "raw", default_catalog())
    days = sorted(plan.by_day())
    first, last = days[0].isoformat(), days[-1].isoformat()
    if floor:
        telemetry_day, resampled_5s, resources = floor_assets([d.isoformat() for d in days])  # noqa: F811
    t_import = time.perf_counter() - t0
    with DagsterInstance.get() as instance:
        t1 = time.perf_counter()
        runs = [materialize([telemetry_day], instance=instance, resources=resources, tags={START: first, END: last})]
        pms = instance.get_dynamic_partitions("phase_module")
        t_bronze = time.perf_counter()
        for a, b in _blocks(days):  # silver follows the days bronze wrote: a rectangle per block of days
            rectangle = {START: f"{a}|{pms[0]}", END: f"{b}|{pms[-1]}"}
            runs.append(materialize([resampled_5s], instance=instance, resources=resources, tags=rectangle))
        t2 = time.perf_counter()
        assert all(r.success for r in runs)
        silver = [e for r in runs for e in r.get_asset_materialization_events() if e.asset_key.path[0] == "silver"]
        steps: dict[str, float] = {}
        for r in runs:
            for k, v in _step_seconds(r).items():
                steps[k] = round(steps.get(k, 0) + v, 2)
    print(
        json.dumps(
            {
                "days": len(days),
                "span_days": (days[-1] - days[0]).days + 1,
                "phase_modules": len(pms),
                "silver_partitions": len(silver),
                "runs": len(runs),
                "import_and_plan_s": round(t_import, 2),
                "runs_s": round(t2 - t1, 2),
                "bronze_run_s": round(t_bronze - t1, 2),
                "silver_run_s": round(t2 - t_bronze, 2),
                "bronze_step_s": steps["bronze__telemetry_day"],
                "silver_step_s": steps["silver__resampled_5s"],
            }
        )
    )
    return 0


def _blocks(days) -> list[tuple[str, str]]:
    """Runs of consecutive days, (first, last) as ISO text."""
    out = []
    for d in days:
        if out and (d - out[-1][1]).days == 1:
            out[-1][1] = d
        else:
            out.append([d, d])
    return [(a.isoformat(), b.isoformat()) for a, b in out]


def _step_seconds(result) -> dict[str, float]:
    return {e.step_key: round(e.event_specific_data.duration_ms / 1000, 2) for e in result.get_step_success_events()}


def floor_assets(days: list[str]):
    """`telemetry_day` and `resampled_5s` as Dagster sees them (keys, partitions, single-run policy,
    dependency, check specs, an IO manager for silver's output) whose bodies emit what the real ones
    emit for these days (phase_module registrations, one materialisation per day with data and per
    (day, phase_module) of those days, with the same metadata keys, the log lines, the three check
    results) and do nothing else."""
    from datetime import date

    from dagster import AssetMaterialization, IOManager, MetadataValue, Nothing, Output, asset

    from sim_platform.defs.materialize import add_partition_metadata
    from sim_platform.defs.partitions import by_day, daily_partitions, module_day_partitions, phase_module_partitions
    from sim_platform.defs.policies import with_single_run
    from sim_platform.defs.silver.checks import DEFAULT_MIN_COMPLETENESS, silver_check_results, silver_check_specs

    modules = [f"phase{p}_module{m}" for p in (1, 2, 3) for m in range(1, 9)] + ["phase1", "phase2", "phase3", "system"]

    span = (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days + 1
    complete = span == len(days)  # every day of the range has data: the output is yielded, as the real one
    meta = {
        "rows": 1,
        "files": 1,
        "completeness": 1.0,
        "longest_silence_min": 0.0,
        "max_null_share": 0.0,
        "anomalies": 0,
        "preview": MetadataValue.md("| timestamp |\n|---|\n| 0 |"),
    }

    @asset(
        key_prefix="bronze",
        name="telemetry_day",
        partitions_def=daily_partitions,
        output_required=False,
        dagster_type=Nothing,
    )
    def bronze(context):
        known = set(context.instance.get_dynamic_partitions(phase_module_partitions.name))
        new = [m for m in modules if m not in known]
        if new:
            context.instance.add_dynamic_partitions(phase_module_partitions.name, new)
            context.log.info(f"new phase_module partitions: {new}")
        if complete:
            add_partition_metadata(context, {d: {"files_read": 1} for d in days})
            yield Output(None)
        else:
            for d in days:
                yield AssetMaterialization(asset_key=context.asset_key, partition=d, metadata={"files_read": 1})
        context.log.info("days without any raw file, skipped")
        context.log.info(f"{len(days)} day(s) written")

    class Nowhere(IOManager):
        def handle_output(self, context, obj):
            pass

        def load_input(self, context):
            return None

    @asset(
        key_prefix="silver",
        name="resampled_5s",
        partitions_def=module_day_partitions,
        deps=[bronze],
        output_required=False,
        io_manager_key="nowhere",
        check_specs=silver_check_specs(["silver", "resampled_5s"]),
    )
    def silver(context):
        with_data = [f"{d}|{pm}" for d, pms in by_day(context.partition_keys).items() if d in days for pm in pms]
        if complete:
            add_partition_metadata(context, {key: meta for key in with_data})
            yield Output(None)
        else:
            for key in with_data:
                yield AssetMaterialization(asset_key=context.asset_key, partition=key, metadata=meta)
        context.log.info("days without a bronze file, skipped")
        yield from silver_check_results({}, {}, DEFAULT_MIN_COMPLETENESS)

    return with_single_run(bronze), with_single_run(silver), {"nowhere": Nowhere()}


#: Dagster writes a ranged run's planned and materialisation events in batches of this size (one
#: statement per batch on PostgreSQL, one transaction per batch with the project's SQLite event log;
#: Dagster's own SQLite event log stores them one by one whatever the setting)
EVENT_BATCH = "1000"

#: the embedded instance's event log, as the packaged dagster.yaml names it
PROJECT_EVENT_LOG = "event_log_storage:\n  module: sim_platform.dagster_instance\n  class: BatchedSqliteEventLogStorage\n"


def instance_yaml(storage: str, pg: Postgres | None) -> str:
    """`sqlite`: the packaged instance's storage (Dagster's SQLite run storage, the project's SQLite
    event log); `sqlite-stock`: Dagster's SQLite storage as it comes, the baseline of the event log."""
    if storage == "sqlite":
        return PROJECT_EVENT_LOG + "telemetry:\n  enabled: false\n"
    if storage == "sqlite-stock":
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


def run_backfill(storage: str, env_extra: dict, work: Path, pg: Postgres | None, floor: bool = False) -> dict:
    """One cold backfill process (or the floor's) against a fresh instance and empty bronze/silver."""
    home = work / "home"
    for sub in ("bronze", "silver", "staging"):
        shutil.rmtree(home / sub, ignore_errors=True)
    dh = Path(tempfile.mkdtemp(prefix=f"dagster_home_{storage}_", dir=work))
    (dh / "dagster.yaml").write_text(instance_yaml(storage, pg))
    env = {**os.environ, **env_extra, "DAGSTER_HOME": str(dh), "DAGSTER_EVENT_BATCH_SIZE": EVENT_BATCH}
    for k in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL"):
        env.pop(k, None)
    try:
        res = measure([PY, str(Path(__file__).resolve()), "--child-floor" if floor else "--child"], env=env)
    finally:
        shutil.rmtree(dh, ignore_errors=True)
    res["detail"] = json.loads(res.pop("stdout").strip().splitlines()[-1])
    return res


def median_of(runs: list[dict], base: list[dict]) -> dict:
    """The medians of a tool's rounds (wall, CPU, memory, and the ratio to the ETL of the same
    round), each round's wall time and ratio, and the detail of the median round."""
    ratios = [r["seconds"] / b["seconds"] for r, b in zip(runs, base)]
    mid = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])
    for k in ("seconds", "cpu_seconds", "max_rss_mb", "tree_mb"):
        mid[k] = statistics.median(r[k] for r in runs)
    mid["ratio_to_etl"] = statistics.median(ratios)
    mid["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    mid["all_ratios"] = [round(x, 2) for x in ratios]
    return mid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-floor", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dataset", default="gen30")
    ap.add_argument("--storage", default="sqlite,postgres")
    ap.add_argument("--repeat", type=int, default=1, help="rounds (medians are reported)")
    ap.add_argument("--floor", action="store_true", help="also time Dagster's fixed cost (iv), on each SQLite storage")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temp dir, removed at the end)")
    args = ap.parse_args()
    if args.child or args.child_floor:
        return child(floor=args.child_floor)

    src = dataset(args.dataset)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="backfill_bench_"))
    storages = args.storage.split(",")
    results: dict = {"dataset": args.dataset, "files": len(list(src.rglob("*.parquet"))), "rounds": args.repeat}
    floors = [f"floor:{s}" for s in storages if s.startswith("sqlite")] if args.floor else []
    rounds: dict[str, list[dict]] = {k: [] for k in ["etl", *storages, *floors]}
    try:
        t = time.perf_counter()
        env_extra = prepare(src, work)
        print(f"prepared container and raw cache in {time.perf_counter() - t:.1f} s", flush=True)
        out = work / "etl"
        for i in range(args.repeat):
            shutil.rmtree(out, ignore_errors=True)  # an empty output: the ETL does every day
            base = measure([PY, "-m", "sim_platform", "etl", "--input", str(src), "--output", str(out)])
            base.pop("stdout")
            rounds["etl"].append(base)
            expected = digest(out)
            print(f"round {i + 1}: (i) sim-platform etl: {base['seconds']:.2f} s, {len(expected)} hour files", flush=True)
            for storage in storages:
                if storage == "postgres":
                    with Postgres() as pg:
                        res = run_backfill(storage, env_extra, work, pg)
                else:
                    res = run_backfill(storage, env_extra, work, None)
                res["identical_to_etl"] = digest(work / "home" / "silver") == expected
                rounds[storage].append(res)
                print(
                    f"round {i + 1}: ({'ii' if storage == 'sqlite' else 'iii'}) backfill, {storage}: {res['seconds']:.2f} s = "
                    f"{res['seconds'] / base['seconds']:.2f}x etl; identical files: {res['identical_to_etl']}; {res['detail']}",
                    flush=True,
                )
                if not res["identical_to_etl"]:
                    raise SystemExit(f"{storage}: silver differs from the ETL output")
            for floor in floors:
                res = run_backfill(floor.split(":")[1], env_extra, work, None, floor=True)
                rounds[floor].append(res)
                print(
                    f"round {i + 1}: (iv) Dagster floor, {floor.split(':')[1]}: {res['seconds']:.2f} s = "
                    f"{res['seconds'] / base['seconds']:.2f}x etl; {res['detail']}",
                    flush=True,
                )
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    for k, runs in rounds.items():
        results[k] = median_of(runs, rounds["etl"])
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"backfill_bench_{args.dataset}.json").write_text(json.dumps(results, indent=1, default=str))
    label = {"etl": "(i) sim-platform etl", **{f: f"(iv) Dagster floor, {f.split(':')[1]} (no data work)" for f in floors}}
    print(f"medians of {args.repeat} round(s); the ratio is the median of the rounds' ratios")
    print("| run | wall | CPU | peak RSS (largest process) | ratio to etl | rounds (wall) |")
    print("|---|---|---|---|---|---|")
    for k in rounds:
        r = results[k]
        print(
            f"| {label.get(k, f'backfill, {k}')} | {r['seconds']:.2f} s | {r['cpu_seconds']:.1f} s | {r['max_rss_mb']:.0f} MB "
            f"| {r['ratio_to_etl']:.2f}x | {', '.join(f'{x:.2f}' for x in r['all_seconds'])} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
