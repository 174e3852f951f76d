"""Freshness benchmark: a file landing in the container -> silver hour files, plots and features,
through the real Dagster daemon (not a test: it measures, and says whether the goal is met).

    python bench/freshness_bench.py                 # 10 landings, local-folder container
    python bench/freshness_bench.py --trials 20 --keep

Set-up (not timed): one day of generated telemetry exports (15-minute files, seed 7); all but the
last `--trials` exports are in the container, a fresh SQLite instance (deploy/local/dagster.yaml:
queue looked at every second) and a fresh platform home. `dagster-daemon run -w workspace.yaml`
runs the real sensor, automation and run-queue daemons; `new_blob_sensor` and `pipeline_automation`
are started from the CLI, as a user would. The first build of the day (bronze, silver, plots,
features) is waited for.

Each trial uploads the next export, notes the time, and polls until (a) the silver hour file of
that export's hour was rewritten (phase1_module1, and the system's), (b) the day's plot of
phase1_module1 and (c) its module-day features file were rewritten after the upload. A trial's
latency is the time until all three; the next trial starts once no run is queued or running.
The intervals in force (stated in the report): the blob sensor's (`BLOB_SENSOR_INTERVAL_S`), the
automation sensor's (`AUTOMATION_INTERVAL_S`), how often the daemon looks for a due sensor
(`dagster_instance.DAEMON_LOOP_S`) and the run queue's dequeue interval.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
GOAL_MEDIAN_S, GOAL_MAX_S = 30.0, 60.0


def export_hour(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ts = pq.read_table(path, columns=["timestamp"]).column("timestamp")
    lo = pc.min(ts).as_py()
    scale = 1000 if lo < 10**11 else 1  # seconds or milliseconds since the epoch
    return (lo * scale // 3_600_000) % 24


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def idle(env: dict) -> bool:
    """No run queued, starting or running in the instance."""
    code = (
        "from dagster import DagsterInstance, DagsterRunStatus, RunsFilter\n"
        "with DagsterInstance.get() as i:\n"
        "    busy = i.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED,"
        " DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]))\n"
        "print(busy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    return out.returncode == 0 and out.stdout.strip() == "0"


def wait_until(check, timeout: float, what: str, daemon: subprocess.Popen) -> float:
    start = time.time()
    while time.time() - start < timeout:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited ({daemon.returncode}) while waiting for {what}")
        if check():
            return time.time()
        time.sleep(0.25)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--day", default="2024-07-01")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one landing")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, instance)")
    args = ap.parse_args()

    from sim_platform.core.synth.generate import generate
    from sim_platform.dagster_instance import DAEMON_LOOP_S
    from sim_platform.defs.automation import AUTOMATION_INTERVAL_S
    from sim_platform.defs.landing.sensors import BLOB_SENSOR_INTERVAL_S
    from sim_platform.storage.local_store import LocalBlobStore

    day = date.fromisoformat(args.day)
    work = Path(tempfile.mkdtemp(prefix="freshness_bench_"))
    try:
        exports = sorted(generate(work / "gen", runs=1, days=1, seed=7, fmt="telemetry", start=day), key=lambda p: p.name)
        if len(exports) <= args.trials:
            raise SystemExit(f"{len(exports)} exports, fewer than {args.trials} trials")
        home, dagster_home, blob_root = work / "home", work / "dagster_home", work / "blobstore"
        dagster_home.mkdir()
        shutil.copy(REPO / "deploy/local/dagster.yaml", dagster_home / "dagster.yaml")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_"))}
        env.update(DAGSTER_HOME=str(dagster_home), SIM_PLATFORM_HOME=str(home), SIM_PLATFORM_LOCAL_BLOB_ROOT=str(blob_root))
        env.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")  # as `sim-platform ui` sets it
        store = LocalBlobStore(blob_root, "simulation-data")
        store.create_container()

        def land(path: Path) -> None:
            store.upload_file(f"raw/telemetry/{path.relative_to(work / 'gen').as_posix()}", path)

        for f in exports[: -args.trials]:
            land(f)
        for name in ("new_blob_sensor", "pipeline_automation"):  # before the daemon: one process creates the instance
            started = subprocess.run(
                [str(BIN / "dagster"), "sensor", "start", name, "-w", "workspace.yaml"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
            )
            if started.returncode:
                raise SystemExit(started.stderr + started.stdout)
        logs = work / "daemon.log"
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=open(logs, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rel = f"{day:%Y/%m/%d}"
            silver = home / "silver"
            plot = silver / "phase1_module1" / rel / "plot.png"
            features = blob_root / "simulation-data" / "gold/module_day_features/phase1_module1" / f"{rel}.parquet"
            t = time.time()
            wait_until(lambda: mtime(plot) and mtime(features), 600, "the first build of the day", daemon)
            wait_until(lambda: idle(env), 300, "the first build's runs to finish", daemon)
            warm = time.time() - t
            print(f"first build of {day} ({len(exports) - args.trials} exports): {warm:.1f} s", flush=True)

            trials = []
            for f in exports[-args.trials :]:
                hour = export_hour(f)
                hour_files = [silver / pm / rel / f"{hour:02d}.parquet" for pm in ("phase1_module1", "system")]
                t0 = time.time()
                land(f)
                done: dict[str, float] = {}

                def check(t0=t0, done=done, hour_files=hour_files):
                    if "silver" not in done and all(mtime(p) >= t0 for p in hour_files):
                        done["silver"] = time.time() - t0
                    if "plot" not in done and mtime(plot) >= t0:
                        done["plot"] = time.time() - t0
                    if "features" not in done and mtime(features) >= t0:
                        done["features"] = time.time() - t0
                    return len(done) == 3

                wait_until(check, args.timeout, f"{f.name} to reach silver, plots and features", daemon)
                done["all"] = max(done.values())
                trials.append({"file": f.name, "hour": hour, **{k: round(v, 1) for k, v in done.items()}})
                print(
                    f"  {f.name[-60:]}: silver {done['silver']:.1f} s, plot {done['plot']:.1f} s, "
                    f"features {done['features']:.1f} s -> {done['all']:.1f} s",
                    flush=True,
                )
                wait_until(lambda: idle(env), 300, "the runs to finish", daemon)
        finally:
            os.killpg(daemon.pid, 15)
            daemon.wait(30)

        all_ = [t["all"] for t in trials]
        result = {
            "trials": trials,
            "blob_sensor_interval_s": BLOB_SENSOR_INTERVAL_S,
            "automation_interval_s": AUTOMATION_INTERVAL_S,
            "dequeue_interval_s": 1,
            "daemon_loop_s": DAEMON_LOOP_S,
            "median_s": round(statistics.median(all_), 1),
            "max_s": round(max(all_), 1),
            "per_output_median_s": {k: round(statistics.median(t[k] for t in trials), 1) for k in ("silver", "plot", "features")},
            "cores": os.cpu_count(),
            "load_average_end": os.getloadavg(),
        }
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "freshness_bench.json").write_text(json.dumps(result, indent=1))
        print(
            f"intervals: blob sensor {BLOB_SENSOR_INTERVAL_S} s, automation {AUTOMATION_INTERVAL_S} s, "
            f"daemon's look for due sensors {DAEMON_LOOP_S} s, run queue 1 s; "
            f"{os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f}"
        )
        print(
            f"landing -> silver, plot and features: median {result['median_s']} s, worst {result['max_s']} s over {len(trials)} landings "
            f"(per output, median: {result['per_output_median_s']})"
        )
        ok = result["median_s"] <= GOAL_MEDIAN_S and result["max_s"] <= GOAL_MAX_S
        print(f"goal (median <= {GOAL_MEDIAN_S:.0f} s, worst <= {GOAL_MAX_S:.0f} s): {'PASS' if ok else 'MISS'}")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
