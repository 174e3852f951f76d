"""The first run on a fresh clone: a realistic week, landed, processed and plotted, with no server.

`sim-platform demo` does what the platform does every day, on the embedded default (a local folder
stands in for the blob container):

1. generate a week of telemetry exports with the plant's rare behaviour (fault states, glitches, new
   series, exporter drift) into the landing folder, or take a folder of real exports (`--sample`);
2. land them in the container under the telemetry source's prefix (only missing or changed files
   move), where the Dagster sensor finds them too;
3. run the ETL over every configured source, as `sim-platform etl` with no `--input` does;
4. draw one module-day, and say where everything is and what to try next.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sim_platform.core.config.pipelines import Pipelines
from sim_platform.core.ingest.landing import upload_prefix

DEMO_DAYS = 7
DEMO_SEED = 931  # a week with fault states, glitches, a new series and exporter drift
DEMO_START = date(2024, 7, 1)


@dataclass
class DemoResult:
    home: Path
    landing: Path
    container: str
    prefix: str
    silver: Path
    plot: Path | None = None
    summary: object = None  # the EtlSummary
    steps: list[str] = field(default_factory=list)


def run_demo(
    home: Path,
    store,
    pipes: Pipelines,
    sample: Path | None = None,
    days: int = DEMO_DAYS,
    seed: int = DEMO_SEED,
    workers: int | None = None,
    say: Callable[[str], None] = print,
    on_day=None,
) -> DemoResult:
    from sim_platform.core.etl import run_etl
    from sim_platform.core.gold.plots import plot_day
    from sim_platform.core.ingest.landing import fetch_blob_sources, source_roots
    from sim_platform.core.synth.generate import generate
    from sim_platform.storage import sync_up

    landing = home / "landing" / "telemetry"
    prefix = upload_prefix(pipes, "telemetry")
    result = DemoResult(home, landing, repr(store), prefix, home / "silver")
    if sample is not None:
        say(f"1/4 taking the exports in {sample} into {landing}")
        shutil.copytree(sample, landing, dirs_exist_ok=True)
    elif not (landing.parent / ".telemetry.complete").exists():
        say(f"1/4 generating {days} days of telemetry exports with the plant's rare behaviour (seed {seed}) into {landing}")
        shutil.rmtree(landing, ignore_errors=True)
        generate(landing, runs=1, days=days, seed=seed, fmt="telemetry", rare=True, start=DEMO_START, workers=workers)
        (landing.parent / ".telemetry.complete").write_text("generated\n")
    else:
        say(f"1/4 the generated week is already in {landing}")
    report = sync_up(store, landing, prefix=prefix, log_dir=home / "logs")
    say(f"2/4 landed in the container {store!r} under {prefix}: {report.summary()}")
    if not report.ok:
        raise OSError(f"{len(report.failed)} file(s) could not be landed: {report.failed[0].name}: {report.failed[0].error}")
    cache = home / "raw_cache"
    for sync in fetch_blob_sources(store, pipes, cache, log_dir=home / "logs"):
        if not sync.ok:
            raise OSError(f"{len(sync.failed)} blob(s) could not be fetched: {sync.failed[0].name}: {sync.failed[0].error}")
    say(f"3/4 resampling every module to the 5-second grid into {result.silver}")
    result.summary = run_etl(source_roots(pipes, cache), result.silver, workers, pipes, on_day=on_day)
    written = [d for d in result.summary.days if d.written or d.unchanged]
    if written:
        day = written[len(written) // 2].day
        result.plot = home / "plots" / f"phase1_module1_{day}.png"
        result.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_day(result.silver, "phase1_module1", day, result.plot)
        say(f"4/4 drew phase1_module1 on {day}: {result.plot}")
    return result
