"""`sim-platform sync up|down`: argument parsing and a tqdm progress bar over `sim_platform.storage`.

Exit codes: 0 everything transferred or unchanged; 1 some files failed (listed in the summary);
2 nothing could be done (bad settings, credentials refused, container or folder missing).
The one-line summary goes to stdout; retries (warnings) and failures (errors, one line per file)
go to the console through the storage logger with secrets redacted, everything else too with
`-v`. The per-run log files `logs/upload.log` / `logs/download.log` (every file, every decision)
are written by the storage layer itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from sim_platform.storage import open_blob_store
from sim_platform.storage.errors import BlobStoreError
from sim_platform.storage.logs import LOGGER_NAME, RedactingFormatter, redact
from sim_platform.storage.names import validate_container_name
from sim_platform.storage.settings import DEFAULT_ENV_FILE, StorageSettings
from sim_platform.storage.sync import (
    DEFAULT_ATTEMPTS,
    DEFAULT_CONCURRENCY,
    DEFAULT_LOG_DIR,
    SyncReport,
    sync_down,
    sync_up,
)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sync",
        help="sync run folders with the blob container (only what changed)",
        description="Upload or download run folders; only missing or changed files are transferred. "
        "The container comes from AZURE_STORAGE_* settings (environment or .env), else a local folder.",
    )
    directions = parser.add_subparsers(dest="direction", required=True)

    up = directions.add_parser("up", help="upload new or changed files of a folder")
    up.add_argument("--from", dest="source", required=True, type=Path, help="folder of run folders to upload")
    _common(up)
    up.set_defaults(func=_run_up)

    down = directions.add_parser("down", help="download new or changed blobs into a folder")
    down.add_argument("--to", dest="target", required=True, type=Path, help="folder to download into")
    _common(down)
    down.set_defaults(func=_run_down)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", default="", help="blob name prefix, treated as a folder (e.g. raw/)")
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"parallel transfers (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--attempts",
        type=_positive_int,
        default=DEFAULT_ATTEMPTS,
        help=f"tries per file on transient errors (default {DEFAULT_ATTEMPTS})",
    )
    parser.add_argument("--container", default=None, help="container name (default AZURE_STORAGE_CONTAINER_NAME)")
    parser.add_argument("--env-file", default=DEFAULT_ENV_FILE, help="dotenv file to read (default .env)")
    parser.add_argument("--log-dir", type=Path, default=DEFAULT_LOG_DIR, help="folder for upload.log/download.log")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every file on the console (default: warnings and failures only)"
    )


class _Bar:
    """tqdm over files, with bytes and outcome counts in the postfix."""

    def __init__(self, direction: str, enabled: bool) -> None:
        self._direction = direction
        self._enabled = enabled
        self._bar: tqdm | None = None
        self._counts = {"sent": 0, "skipped": 0, "failed": 0}
        self._bytes = 0

    def start(self, total: int) -> None:
        if self._enabled:
            self._bar = tqdm(total=total, unit="file", desc=f"sync {self._direction}", file=sys.stderr, dynamic_ncols=True)

    def done(self, name: str, outcome: str, nbytes: int) -> None:
        self._counts[outcome] = self._counts.get(outcome, 0) + 1
        self._bytes += nbytes
        if self._bar is not None:
            self._bar.set_postfix(**self._counts, MB=f"{self._bytes / 1e6:.1f}", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _TqdmHandler(logging.Handler):
    """Console handler that prints above the progress bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


@contextmanager
def _console_logging(verbose: bool) -> Iterator[None]:
    logger = logging.getLogger(LOGGER_NAME)
    handler = _TqdmHandler(level=logging.DEBUG if verbose else logging.WARNING)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _settings(args: argparse.Namespace) -> StorageSettings:
    settings = StorageSettings.from_env(env_file=args.env_file)
    if args.container:
        settings = dataclasses.replace(settings, container=validate_container_name(args.container))
    return settings


def _run(args: argparse.Namespace, direction: str) -> int:
    bar = _Bar(direction, enabled=not args.no_progress)
    try:
        with _console_logging(args.verbose):
            settings = _settings(args)
            with open_blob_store(settings) as store:
                common = dict(
                    prefix=args.prefix, concurrency=args.concurrency, attempts=args.attempts, log_dir=args.log_dir, progress=bar
                )
                report: SyncReport
                if direction == "up":
                    report = sync_up(store, args.source, **common)
                else:
                    report = sync_down(store, args.target, **common)
    except (BlobStoreError, OSError, ValueError) as exc:
        bar.close()
        if not getattr(exc, "logged", False):  # the storage layer already showed it through the log
            print(f"sim-platform sync {direction}: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    bar.close()
    print(report.summary())
    return 0 if report.ok else 1


def _run_up(args: argparse.Namespace) -> int:
    return _run(args, "up")


def _run_down(args: argparse.Namespace) -> int:
    return _run(args, "down")
