"""The environment, read in one place for the whole platform (CLI, core, storage, Dagster).

A `.env` file in the working folder fills in variables the real environment does not set; it never
overrides them, and an empty value means "not set", so a `.env` entry can be switched off from the
shell. Every variable the platform reads is named here; secrets among them (the storage account's
connection string, key or SAS token, the warehouse URL) are only ever read, never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DEFAULT_ENV_FILE = ".env"

HOME = "SIM_PLATFORM_HOME"  # base of landing, raw cache, bronze, silver (default ./.sim_platform)
PIPELINES = "SIM_PLATFORM_PIPELINES"  # the pipelines YAML (default: the packaged one)
START_DATE = "SIM_PLATFORM_START_DATE"  # the daily partitions' first day (overrides partitions.start)
END_DATE = "SIM_PLATFORM_END_DATE"  # their end, exclusive (overrides partitions.end)
WORKERS = "SIM_PLATFORM_WORKERS"  # processes inside a Dagster run (default: one per core)
SILVER_BACKEND = "SIM_PLATFORM_SILVER_BACKEND"  # local | blob: overrides destinations.silver
SILVER_ROOT = "SIM_PLATFORM_SILVER_ROOT"  # silver folder (local) or blob prefix (blob)
GOLD_ROOT = "SIM_PLATFORM_GOLD_ROOT"  # gold prefix (or folder) instead of destinations.gold
EXECUTOR = "SIM_PLATFORM_EXECUTOR"  # k8s: each step a Kubernetes Job
#: Dagster's: a ranged run's planned and materialisation events handed to the event log in batches
#: of this size (`sim-platform ui`, compose and Helm set it; docs/dagster.md, "Runs")
EVENT_BATCH_SIZE, DEFAULT_EVENT_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE", "1000"


def environment(environ: Mapping[str, str] | None = None, env_file: Path | str | None = DEFAULT_ENV_FILE) -> dict[str, str]:
    """`environ` (default `os.environ`) completed by `env_file` when it exists."""
    env = dict(os.environ if environ is None else environ)
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(env_file).items():
            if key not in env and value is not None:
                env[key] = value
    return env


def value(env: Mapping[str, str], key: str) -> str | None:
    """A variable's value, None when unset or blank."""
    v = env.get(key)
    return v.strip() if v and v.strip() else None


@dataclass(frozen=True)
class PlatformEnv:
    """The platform's own variables, resolved (the storage account's are `storage.StorageSettings`)."""

    vars: Mapping[str, str]

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None, env_file: Path | str | None = DEFAULT_ENV_FILE) -> PlatformEnv:
        return cls(environment(environ, env_file))

    def get(self, key: str) -> str | None:
        return value(self.vars, key)

    @property
    def home(self) -> Path:
        return Path(self.get(HOME) or ".sim_platform").resolve()

    @property
    def pipelines(self) -> str | None:
        return self.get(PIPELINES)

    @property
    def start_date(self) -> date | None:
        v = self.get(START_DATE)
        return date.fromisoformat(v) if v else None

    @property
    def end_date(self) -> date | None:
        v = self.get(END_DATE)
        return date.fromisoformat(v) if v else None

    @property
    def workers(self) -> int:
        return int(self.get(WORKERS) or 0)


def platform_home() -> Path:
    """Base of the local folders (landing, raw cache, bronze, silver): `$SIM_PLATFORM_HOME`, else
    `./.sim_platform`. The CLI and the Dagster resources both start from here."""
    return PlatformEnv.read().home
