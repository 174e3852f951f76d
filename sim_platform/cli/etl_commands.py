"""`sim-platform etl | generate | plot`: argument parsing and progress over `sim_platform.core`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from sim_platform.core.exec.pool import max_workers
from sim_platform.core.silver import quality
from sim_platform.core.text import shorten
from sim_platform.environment import PlatformEnv


def register(sub: argparse._SubParsersAction) -> None:
    etl = sub.add_parser("etl", help="resample raw inputs to 5-second hour files")
    etl.add_argument(
        "--input",
        default=None,
        help="folder of input files at any depth, each read by the first configured source whose pattern "
        "matches its name (default: every configured source at its own location)",
    )
    etl.add_argument("--output", required=True, help="output root for {hierarchy}/YYYY/MM/DD/HH.parquet")
    etl.add_argument("--workers", type=positive_int, default=max_workers(), help="worker processes (default and ceiling: cores)")
    etl.add_argument(
        "--config",
        "--catalog",
        dest="config",
        default=PlatformEnv.read().pipelines,
        help="pipelines YAML: sources, signal catalog, destinations (default: $SIM_PLATFORM_PIPELINES or the packaged one)",
    )
    etl.add_argument("--source", action="append", default=None, help="only this configured source (repeatable)")
    etl.add_argument(
        "--cache",
        default=None,
        help="local cache of blob-prefix sources (default: $SIM_PLATFORM_HOME/raw_cache, else .sim_platform/raw_cache)",
    )
    etl.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="build a day from its good files when some of its files are bad (default: the day is not written)",
    )
    etl.add_argument(
        "--force",
        action="store_true",
        help="recompute every day (default: a day whose inputs and configuration did not change since it was written is skipped)",
    )
    etl.set_defaults(func=_etl)

    gen = sub.add_parser(
        "generate",
        help="make synthetic runs with the statistics of the real exports",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    gen.add_argument("--runs", type=positive_int, default=1, help="run folders run_XX")
    gen.add_argument("--days", type=positive_int, default=1, help="days per run; runs follow each other in time")
    gen.add_argument("--out", required=True, default=argparse.SUPPRESS, help="output folder")  # no "(default: None)"
    gen.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    gen.add_argument("--format", choices=["hdf5", "telemetry"], default="hdf5", help="run files or telemetry exports")
    gen.add_argument("--start", type=date.fromisoformat, default=date(2024, 7, 1), help="first UTC day (YYYY-MM-DD)")
    gen.add_argument(
        "--rare",
        action="store_true",
        help="add the plant's rare behaviour (INIT/READY/ERROR/EMERGENCY and an unknown state, sensor glitches, "
        "NaN, new payloads and tag keys, telemetry schema drift) and write OUT/injected.json listing it",
    )
    gen.set_defaults(func=_generate)

    plot = sub.add_parser("plot", help="draw one hierarchy's day of 5-second data")
    plot.add_argument(
        "--silver",
        "--from",
        "--output",
        dest="silver",
        required=True,
        help="the silver folder it reads: the ETL's --output (--output is kept as an alias)",
    )
    plot.add_argument("--phase-module", required=True, help="hierarchy, e.g. phase1_module3, phase2 or system")
    plot.add_argument("--day", required=True, type=date.fromisoformat)
    plot.add_argument("--to", required=True, help="PNG file to write")
    plot.set_defaults(func=_plot)

    qual = sub.add_parser("quality", help="list the days of an output folder with value anomalies or fault states")
    qual.add_argument("--output", required=True, help="the ETL output root (reports in _quality/YYYY/MM/DD.json)")
    qual.add_argument("--all", action="store_true", help="list clean days too")
    qual.set_defaults(func=_quality)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def usage_error(command: str, message: str) -> int:
    print(f"sim-platform {command}: error: {message}", file=sys.stderr)
    return 2


def _check_etl_args(args: argparse.Namespace) -> str | None:
    """What is wrong with the etl arguments, found before any work starts (None: nothing)."""
    if args.input is not None:
        src = Path(args.input)
        if not src.exists():
            return f"--input {src} does not exist"
        if not src.is_dir():
            return f"--input {src} is a file; give the folder that holds the input files"
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        return f"--output {out} is a file; give a folder (it is created when missing)"
    if not out.exists() and out.parent.exists() and not out.parent.is_dir():
        return f"--output {out}: {out.parent} is a file"
    return None


def _etl(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim_platform.core.etl import run_etl

    problem = _check_etl_args(args)
    if problem:
        return usage_error("etl", problem)
    if args.workers > max_workers():
        print(f"note: --workers {args.workers} capped at {max_workers()} (one per core: more only adds memory)", file=sys.stderr)
        args.workers = max_workers()
    bar = None

    def on_plan(plan):
        nonlocal bar
        days = plan.by_day()
        print(
            f"{len(plan.files)} input files over {len(days)} UTC days"
            + (f", {len(plan.failures)} refused while planning" if plan.failures else "")
            + (f", {len(plan.ignored)} other files ignored" if plan.ignored else ""),
            file=sys.stderr,
        )
        bar = tqdm(total=len(days), unit="day", desc="etl", file=sys.stderr)

    def on_day(res):
        bar.set_postfix_str(f"{res.day} {'ok' if res.written else 'unchanged' if res.unchanged else 'FAILED'}")
        bar.update(1)

    try:
        from sim_platform.core.config.pipelines import load_pipelines

        pipes = load_pipelines(args.config)  # once for the whole run: everything after gets the object
        if not args.input:
            inputs = _configured_inputs(args, pipes)
        elif args.source:  # the named sources' formats, applied to the --input folder
            inputs = [(Path(args.input), fmt) for fmt in pipes.source_formats(args.source)]
        else:
            inputs = args.input
        summary = run_etl(
            inputs, args.output, args.workers, pipes, args.skip_bad_files, on_plan=on_plan, on_day=on_day, force=args.force
        )
    except (FileNotFoundError, ValueError, OSError) as exc:
        if bar is not None:
            bar.close()  # so the error has a line of its own
        print(shorten(f"error: {exc}", 300), file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    return print_summary(summary, Path(args.output))


def print_summary(summary, output: Path) -> int:
    """The ETL's closing lines (counts, one line per kind of anomaly, failures); the exit status."""
    if summary.recovered:
        print(f"note: completed {summary.recovered} day publication(s) an interrupted earlier run had committed", file=sys.stderr)
    for folder in summary.excluded:
        print(f"note: {folder} is inside the input: left out of it (it is the output)", file=sys.stderr)
    t = summary.totals()
    print(
        f"days: {t['days']} ({t['days_written']} written"
        + (f", {t['days_unchanged']} unchanged" if t["days_unchanged"] else "")
        + f")  raw rows: {t['raw_rows']:,}  "
        f"distinct rows: {t['distinct_rows']:,}  files written: {t['files_written']:,}  "
        f"seconds: {t['seconds']:.2f}"
    )
    reports = [d.quality for d in summary.days if d.quality]
    lines = quality.summary_lines(reports)
    if lines:
        flagged = sum(quality.has_anomalies(r) for r in reports)
        print(
            shorten(
                f"data quality: {flagged} of {len(reports)} day(s) with value anomalies (kept and written); "
                f"reports: {output / quality.QUALITY_DIR}/YYYY/MM/DD.json",
                300,
            )
        )
        for line in lines:
            print(f"  {line}")
    for dup in summary.duplicates:
        print(f"note: {dup}")
    if summary.failures:
        print(f"FAILED inputs ({len(summary.failures)}):")
        for f in summary.failures:
            print(f"  {shorten(f, 296)}")
        return 1
    return 0


def _configured_inputs(args: argparse.Namespace, pipes):
    """Every configured source (or those of --source) at its location; blob prefixes are first
    brought into the local cache (only missing or changed blobs are downloaded)."""
    from sim_platform.core.ingest.landing import blob_prefixes, fetch_blob_sources, source_roots
    from sim_platform.environment import platform_home
    from sim_platform.storage import StorageSettings, open_blob_store

    cache = Path(args.cache) if args.cache else platform_home() / "raw_cache"
    if blob_prefixes(pipes, args.source):
        settings = StorageSettings.from_env()
        print(f"fetching blob sources from {settings} into {cache}", file=sys.stderr)
        with open_blob_store(settings) as store:
            for report in fetch_blob_sources(store, pipes, cache, args.source, log_dir=None):
                print(f"  {report.summary()}", file=sys.stderr)
                if not report.ok:
                    raise OSError(
                        f"{len(report.failed)} blob(s) could not be fetched: "
                        + "; ".join(f"{f.name}: {f.error}" for f in report.failed[:5])
                    )
    return source_roots(pipes, cache, args.source)


def _generate(args: argparse.Namespace) -> int:
    from sim_platform.core.synth.generate import MANIFEST, generate

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return usage_error("generate", f"--out {out} is a file; give a folder (it is created when missing)")
    files = generate(args.out, runs=args.runs, days=args.days, seed=args.seed, fmt=args.format, start=args.start, rare=args.rare)
    print(f"wrote {len(files)} {args.format} files to {args.out}")
    if args.rare:
        print(f"rare behaviour injected: {Path(args.out) / MANIFEST}")
    return 0


def _quality(args: argparse.Namespace) -> int:
    reports = quality.read_reports(args.output)
    if not reports:
        print(f"error: no quality reports under {Path(args.output) / quality.QUALITY_DIR} (run etl first)", file=sys.stderr)
        return 2
    shown = [r for r in reports if args.all or quality.has_anomalies(r) or r["fault_samples"]]
    for r in shown:
        print(shorten(quality.day_line(r), 300))
    print(f"{len(shown)} of {len(reports)} day(s) listed; detail: {Path(args.output) / quality.QUALITY_DIR}/YYYY/MM/DD.json")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from sim_platform.core.gold.plots import plot_day

    try:
        path = plot_day(args.silver, args.phase_module, args.day, args.to)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
