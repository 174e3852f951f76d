"""`sim-platform ui`: the Dagster UI and its daemon (`dg dev`) on a persistent local instance.

It only prepares the process and hands over to `dg dev`:

- the instance is `$DAGSTER_HOME`, else `./.dagster_home`; the folder is made and given the packaged
  local instance settings (`sim_platform/config/dagster.yaml`, the same file as
  `deploy/local/dagster.yaml`) when it has none -- a `dagster.yaml` already there is never replaced;
- `SIM_PLATFORM_HOME` and `SIM_PLATFORM_LOCAL_BLOB_ROOT`, when unset, are pinned to the absolute
  paths of their defaults in the current folder, so the UI, the daemon and every run see the folders
  `sim-platform demo` filled;
- the day partitions start and end where the data is: with no `SIM_PLATFORM_START_DATE` or
  `SIM_PLATFORM_END_DATE` set, they are set to the first and last day the container's raw files are
  named for (`core.ingest.landing.landed_days`; a live plant's days stay open-ended), so the
  demo's week or a replayed data set is what the partition grid and the Materialize dialog open on;
  an empty container keeps `partitions` of pipelines.yaml;
- in the project's folder (a `pyproject.toml` with `[tool.dg]`) it runs `dg dev`, elsewhere (an
  installed package) `dg dev -m sim_platform.definitions`; options it does not know (`--log-level
  debug`, ...) are passed on to `dg dev`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sys
import tomllib
from importlib.resources import files
from pathlib import Path

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 3000
DEFAULT_DAGSTER_HOME = ".dagster_home"
SAY = "sim-platform ui:"  # the prefix of this command's own lines, before Dagster's


def register(sub: argparse._SubParsersAction) -> None:
    ui = sub.add_parser(
        "ui",
        help="start the Dagster UI and daemon (dg dev) on a persistent local instance, sensors on",
        description="Start the Dagster UI and its daemon (`dg dev`) on the instance $DAGSTER_HOME (default ./.dagster_home, "
        "made with the packaged local settings when absent). Options not listed here are passed on to `dg dev`.",
    )
    ui.add_argument(
        "--port", "-p", type=int, default=None, help=f"webserver port (default: {DEFAULT_PORT}, or a free one if taken)"
    )
    ui.add_argument("--host", default=DEFAULT_HOST, help="webserver host (default: %(default)s)")
    ui.add_argument("--dry-run", action="store_true", help="prepare the instance, print the command, do not start it")
    ui.set_defaults(func=_ui, passes_unknown=True)


def packaged_instance() -> str:
    """The local instance settings shipped with the package."""
    return (files("sim_platform.config") / "dagster.yaml").read_text()


def prepare_dagster_home(home: Path) -> bool:
    """Make `home` an instance folder; True when its settings file was written (never overwritten)."""
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if settings.exists() or (home / "dagster.yml").exists():
        return False
    settings.write_text(packaged_instance())
    return True


def in_dg_project(folder: Path) -> bool:
    """Whether `folder` is a dg project's root (its pyproject.toml has `[tool.dg]`)."""
    try:
        with open(folder / "pyproject.toml", "rb") as fh:
            return "dg" in tomllib.load(fh).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def dg_command(folder: Path, host: str, port: int, extra: list[str]) -> list[str]:
    exe = Path(sys.executable).parent / "dg"
    dg = str(exe) if exe.exists() else (shutil.which("dg") or "dg")
    target = [] if in_dg_project(folder) else ["-m", "sim_platform.definitions"]
    return [dg, "dev", *target, "--host", host, "--port", str(port), *extra]


def _ui(args: argparse.Namespace, extra: list[str]) -> int:
    from sim_platform.environment import DEFAULT_EVENT_BATCH_SIZE, EVENT_BATCH_SIZE, platform_home
    from sim_platform.storage.azurite import free_port
    from sim_platform.storage.settings import DEFAULT_LOCAL_ROOT, ENV_LOCAL_ROOT

    cwd = Path.cwd()
    home = Path(os.environ.get("DAGSTER_HOME") or cwd / DEFAULT_DAGSTER_HOME).resolve()
    wrote = prepare_dagster_home(home)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("SIM_PLATFORM_HOME", str(platform_home()))
    os.environ.setdefault(ENV_LOCAL_ROOT, str(Path(DEFAULT_LOCAL_ROOT).resolve()))
    os.environ.setdefault(EVENT_BATCH_SIZE, DEFAULT_EVENT_BATCH_SIZE)
    _data_days()
    port = args.port
    if port is None:
        port = DEFAULT_PORT if port_is_free(args.host, DEFAULT_PORT) else free_port()
    cmd = dg_command(cwd, args.host, port, extra)
    print(
        f"{SAY} instance {_shown(home)}{' (new, local settings)' if wrote else ''}; data under {os.environ['SIM_PLATFORM_HOME']}"
    )
    print(f"{SAY} the sensors are on unless stopped in this instance: what lands in the blob container goes on by itself")
    print(f"{SAY} open http://{args.host}:{port} (Ctrl-C stops the UI and the daemon)", flush=True)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    # a shell's background job inherits SIGINT ignored, and Dagster stops on SIGTERM through SIGINT's handler
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        os.execv(cmd[0], cmd)
    except OSError as exc:
        print(
            f"{SAY} error: cannot run {cmd[0]}: {exc} (dagster-dg-cli is a dependency: reinstall sim_platform)", file=sys.stderr
        )
        return 2


def _data_days() -> None:
    """Pin the day partitions to the container's days, unless the environment sets them."""
    from datetime import UTC, datetime

    from sim_platform.core.config.pipelines import load_pipelines
    from sim_platform.core.ingest.landing import landed_days
    from sim_platform.environment import END_DATE, START_DATE, PlatformEnv
    from sim_platform.storage.stores import open_blob_store

    env = PlatformEnv.read()
    if env.start_date or env.end_date:
        return
    try:
        with open_blob_store() as store:
            found = landed_days(store, load_pipelines(env.pipelines), datetime.now(UTC).date())
    except Exception as exc:  # an unreachable account: the UI starts all the same, on the configured days
        print(f"{SAY} the container could not be listed ({type(exc).__name__}); partitions as configured")
        return
    if found is None:
        return
    first, end = found
    os.environ[START_DATE] = first.isoformat()
    if end is not None:
        os.environ[END_DATE] = end.isoformat()
    shown = f"{first} to {end} (exclusive)" if end else f"{first} on (a live plant)"
    print(f"{SAY} day partitions from {shown}: the days in the container ({START_DATE}/{END_DATE} override)")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
