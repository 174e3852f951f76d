"""Partitions: UTC days, simulation runs, (day x phase_module) for silver and the module-day
features, and quarters for the ML training set.

The phase_module dimension is dynamic: its keys (`phase1_module3`, `phase2`, `system`, ...) are
added from the data by the bronze asset and the blob sensor, so a new module needs no code change.
"""

from __future__ import annotations

import os

from datetime import date

from dagster import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

#: First UTC day of the daily partitions; the shared sample starts 2024-06-05.
START_DATE = os.environ.get("SIM_PLATFORM_START_DATE", "2024-06-01")

daily_partitions = DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")
run_partitions = DynamicPartitionsDefinition(name="run")
phase_module_partitions = DynamicPartitionsDefinition(name="phase_module")
silver_partitions = MultiPartitionsDefinition({"date": daily_partitions, "phase_module": phase_module_partitions})


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


#: Quarters, keyed by their first day (2024-07-01 is 2024Q3). `end_offset=1` makes the quarter in
#: progress a partition too, so the monthly schedule can refresh it before it ends.
quarterly_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *",
    start=_quarter_start(date.fromisoformat(START_DATE)).isoformat(),
    fmt="%Y-%m-%d",
    timezone="UTC",
    end_offset=1,
)


def quarter_key(day: date) -> str:
    """The quarterly partition key of the quarter holding `day`."""
    return _quarter_start(day).isoformat()


def silver_key(day: str, phase_module: str) -> MultiPartitionKey:
    return MultiPartitionKey({"date": day, "phase_module": phase_module})


def split_key(key) -> tuple[str, str]:
    """(date, phase_module) of a silver partition key given as MultiPartitionKey or its string."""
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims["date"], dims["phase_module"]
    day, pm = str(key).split("|")  # dimensions are sorted by name: date|phase_module
    return day, pm
