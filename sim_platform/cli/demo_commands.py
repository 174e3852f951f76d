"""`sim-platform demo`: a realistic week landed, processed and plotted on the embedded default."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sim_platform.cli.etl_commands import positive_int, print_summary, usage_error
from sim_platform.core.demo import DEMO_DAYS, DEMO_SEED
from sim_platform.core.text import shorten
from sim_platform.environment import PlatformEnv


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="generate a week of telemetry, land it, run the ETL and draw a plot (no server needed)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--sample", default=None, help="a folder of real telemetry exports to use instead of the generated week")
    demo.add_argument("--days", type=positive_int, default=DEMO_DAYS, help="days to generate")
    demo.add_argument("--seed", type=int, default=DEMO_SEED, help="generator seed")
    demo.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: cores)")
    demo.add_argument("--config", default=PlatformEnv.read().pipelines, help="pipelines YAML (default: the packaged one)")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim_platform.core.config.pipelines import load_pipelines
    from sim_platform.core.demo import run_demo
    from sim_platform.core.exec.pool import max_workers
    from sim_platform.environment import platform_home
    from sim_platform.storage import StorageSettings, open_blob_store

    if args.sample is not None and not Path(args.sample).is_dir():
        return usage_error("demo", f"--sample {args.sample} is not a folder of telemetry exports")
    t0 = time.perf_counter()
    home = platform_home()
    pipes = load_pipelines(args.config)
    settings = StorageSettings.from_env()
    workers = min(args.workers or max_workers(), max_workers())
    bar = None

    def on_day(res):
        nonlocal bar
        if bar is None:
            bar = tqdm(unit="day", desc="etl", file=sys.stderr)
        bar.update(1)

    try:
        with open_blob_store(settings) as store:
            result = run_demo(
                home,
                store,
                pipes,
                Path(args.sample) if args.sample else None,
                args.days,
                args.seed,
                workers,
                say=lambda line: print(shorten(line, 300), file=sys.stderr),
                on_day=on_day,
            )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    code = print_summary(result.summary, result.silver)
    rel = _shown(home)
    print(f"\ndemo done in {time.perf_counter() - t0:.0f} s; everything is under {rel}/:")
    print(f"  {rel}/landing/telemetry/   the exports (injected.json lists the rare events the week holds)")
    where = f"the folder {settings.local_root}" if settings.backend == "local" else f"container {settings.container}"
    print(
        f"  {where}: blobs under {result.prefix} (the embedded stand-in for Azure Blob Storage)"
        if settings.backend == "local"
        else f"  {where}: blobs under {result.prefix}"
    )
    print(f"  {rel}/silver/              5-second hour files phase{{p}}_module{{m}}/YYYY/MM/DD/HH.parquet")
    print(f"  {rel}/silver/_quality/     one data-quality report per day")
    if result.plot:
        print(f"  {_shown(result.plot)}")
    print("next:")
    print(f"  .venv/bin/sim-platform quality --output {rel}/silver      the days with faults or anomalies")
    print(
        "  .venv/bin/sim-platform ui                                 the same platform in the Dagster UI (dg dev), "
        "http://127.0.0.1:3000: the sensors take this week to silver and plots by themselves"
    )
    print("  .venv/bin/sim-platform etl --input YOUR_EXPORTS --output out   the main job on your own telemetry exports")
    return code


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
