"""Partitions: UTC days (bronze, silver, plots, features), simulation runs, and quarters for the
ML training set.

A day is the unit of work and of failure everywhere, as in `sim-platform etl`: one partition per
UTC day from landing to features (every phase_module of that day inside it), so a backfill or an
automated update of N days is one run with N partitions, and the UI's dialogs ask for a date only.

The days run from the configured start (`partitions.start` in pipelines.yaml, the plant's first day
of data; `SIM_PLATFORM_START_DATE` overrides it) to the configured end (`partitions.end`, exclusive,
or `SIM_PLATFORM_END_DATE`; none: up to the last complete UTC day). A replayed data set with an end
has exactly its days, so the dialogs open on days that hold data.

`phase_module` is a registry of the hierarchies seen in the data (`phase1_module3`, `phase2`,
`system`, ...), kept by the bronze asset, so a new module needs no code change.
"""

from __future__ import annotations

from datetime import date, timedelta

from dagster import DailyPartitionsDefinition, DynamicPartitionsDefinition, TimeWindowPartitionsDefinition

from sim_platform.core.config.pipelines import cached_pipelines
from sim_platform.environment import PlatformEnv


def day_range(env: PlatformEnv | None = None) -> tuple[date, date | None]:
    """(first day, end day exclusive or None) from the environment, else the pipelines file."""
    env = env or PlatformEnv.read()
    configured = cached_pipelines(env.pipelines).partitions
    return env.start_date or configured.start, env.end_date or configured.end


START, END = day_range()
#: First UTC day of the daily partitions (ISO text).
START_DATE = START.isoformat()

daily_partitions = DailyPartitionsDefinition(start_date=START_DATE, end_date=END.isoformat() if END else None, timezone="UTC")
run_partitions = DynamicPartitionsDefinition(name="run")
phase_module_partitions = DynamicPartitionsDefinition(name="phase_module")


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_quarter(day: date) -> date:
    q = _quarter_start(day)
    return date(q.year + (q.month == 10), (q.month + 2) % 12 + 1, 1)


#: Quarters, keyed by their first day (2024-07-01 is 2024Q3). Open-ended: `end_offset=1` makes the
#: quarter in progress a partition too, so the monthly schedule can refresh it before it ends; with
#: an end day, the last quarter is the one holding it.
quarterly_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *",
    start=_quarter_start(START).isoformat(),
    end=_next_quarter(END - timedelta(days=1)).isoformat() if END else None,
    fmt="%Y-%m-%d",
    timezone="UTC",
    end_offset=0 if END else 1,
)


def quarter_key(day: date) -> str:
    """The quarterly partition key of the quarter holding `day`."""
    return _quarter_start(day).isoformat()
