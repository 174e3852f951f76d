"""Schedules of the training set (UTC). Everything upstream of it follows the data through
declarative automation (`defs/automation.py`); the training set is a calendar matter:

- `quarterly_training_set_schedule`, 04:00 on the first day of a quarter: the training set of the
  quarter that has just ended, complete.
- `monthly_training_set_refresh`, 04:00 on the first day of the other months: the quarter in
  progress, so far (a later run of the same quarter replaces its rows, it never duplicates them).
"""

from __future__ import annotations

from datetime import date

from dagster import AssetSelection, RunRequest, ScheduleEvaluationContext, define_asset_job, schedule

from sim_platform.defs.gold.assets import ml_training_set
from sim_platform.defs.partitions import quarter_key

training_set_job = define_asset_job("training_set_job", selection=AssetSelection.assets(ml_training_set))


def _tick_day(context: ScheduleEvaluationContext) -> date:
    return context.scheduled_execution_time.date()


@schedule(
    job=training_set_job, cron_schedule="0 4 1 1,4,7,10 *", execution_timezone="UTC", name="quarterly_training_set_schedule"
)
def quarterly_training_set_schedule(context: ScheduleEvaluationContext):
    today = _tick_day(context)
    ended = quarter_key(date(today.year - (today.month == 1), (today.month - 4) % 12 + 1, 1))
    return RunRequest(run_key=f"training_set:{ended}:final", partition_key=ended)


@schedule(
    job=training_set_job, cron_schedule="0 4 1 2,3,5,6,8,9,11,12 *", execution_timezone="UTC", name="monthly_training_set_refresh"
)
def monthly_training_set_refresh(context: ScheduleEvaluationContext):
    today = _tick_day(context)
    current = quarter_key(today)
    return RunRequest(run_key=f"training_set:{current}:{today:%Y-%m}", partition_key=current)
