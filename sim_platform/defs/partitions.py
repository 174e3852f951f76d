"""Partitions: UTC days (landing, bronze), (day x phase_module) for silver, plots and features,
simulation runs, and quarters for the ML training set.

Bronze is one partition per UTC day: a day is the unit in which raw files are read and
deduplicated. Silver, the plot and the module-day features are one partition per (phase_module,
day) -- `module_day_partitions`, keys `YYYY-MM-DD|phase_module` -- so the UI shows a grid of modules
by days, a backfill can be restricted to some modules, some days or both, and a (module, day) fails
and is rebuilt alone. A selection of them is one run per rectangle of modules by days
(`sim_platform.dagster_instance.module_day_ranges`): every module over a range of days is one run.
Bronze maps onto them by day (every module of the day depends on the day), the quarterly training
set by the day dimension.

The days run from the configured start (`partitions.start` in pipelines.yaml, the plant's first day
of data; `SIM_PLATFORM_START_DATE` overrides it) to the configured end (`partitions.end`, exclusive,
or `SIM_PLATFORM_END_DATE`; none: up to the last complete UTC day). A replayed data set with an end
has exactly its days, so the dialogs open on days that hold data.

`phase_module` is a registry of the hierarchies seen in the data (`phase1_module3`, `phase2`,
`system`, ...), kept by the bronze asset, so a new module needs no code change.
"""

from __future__ import annotations

from datetime import date, timedelta

from dagster import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

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
#: (day, phase_module): silver, plots and features; keys "YYYY-MM-DD|phase_module" (dimensions by name)
module_day_partitions = MultiPartitionsDefinition({"day": daily_partitions, "phase_module": phase_module_partitions})


def module_day_key(day: str, phase_module: str) -> MultiPartitionKey:
    return MultiPartitionKey({"day": day, "phase_module": phase_module})


def by_day(keys) -> dict[str, list[str]]:
    """`{day: [phase_module, ...]}` of (day x phase_module) partition keys, both sorted."""
    out: dict[str, list[str]] = {}
    for key in keys:
        day, pm = str(key).split("|")
        out.setdefault(day, []).append(pm)
    return {d: sorted(out[d]) for d in sorted(out)}


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
