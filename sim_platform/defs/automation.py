"""Declarative automation: what follows from upstream data, and when.

- Silver (`resampled_5s`) follows bronze: every module of a day is requested when its bronze day
  updates (a new or rebuilt `telemetry_day`), unless bronze for that day is missing or running, or
  the partition is already running. Unlike Dagster's `eager()`, every day counts, not only the
  latest one: data of any day can land. A new phase_module needs nothing more: bronze registers it
  in the run that writes its day, so that day's update requests it.
- No condition asks which partitions are missing. `newly_missing()` (in `eager()`) lists every
  (day, phase_module) key -- 25,600 for 2.5 years of 28 modules -- and compares them with the
  previous tick's: 2.5 s a tick alone, 5-26 s in the daemon beside a run, which held every landing
  back (`docs/benchmarks.md`, freshness).
- The plot and the module-day features follow silver the same way: in the same run when silver is
  requested on the same tick (silver's blocking check then stops them if it fails), else once
  silver's blocking check has passed. One landing costs two runs: bronze, then the rest.
- Bronze (`telemetry_day`) is rebuilt for the last complete UTC day every day at 01:30 UTC (what a
  daily schedule used to do); the blob sensor requests it as soon as files land.

All of this is evaluated by one automation sensor, `pipeline_automation`, on by default like the blob
sensor: a new instance follows the data from its first tick (stop either under Automation, or with
`dagster sensor stop`). Its runs are queued with a higher priority than the blob sensor's bronze runs,
so a day already in bronze goes on to silver and its plot before the queue starts more bronze days:
the first plot of a landed week is not held behind the bronze of the whole week.
"""

from __future__ import annotations

from dagster import AssetSelection, AutomationCondition, AutomationConditionSensorDefinition, DefaultSensorStatus

#: when the daily bronze rebuild runs (UTC)
DAILY_CRON = "30 1 * * *"
#: how often the automation sensor evaluates (the freshness benchmark's figures assume this)
AUTOMATION_INTERVAL_S = 5
#: queue priority of the automation's runs (the run queue takes higher first; the blob sensor's are 0)
AUTOMATION_RUN_PRIORITY = 1


def after_upstream() -> AutomationCondition:
    """`eager()` for every partition, not only the latest time window."""
    return (
        AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("after upstream")


def after_checked_upstream() -> AutomationCondition:
    """`after_upstream()`, once the upstream's blocking checks have passed -- or in the same run as
    the upstream, when it is requested on this tick (its blocking check then guards the step)."""
    checked = AutomationCondition.all_deps_blocking_checks_passed() | AutomationCondition.any_deps_match(
        AutomationCondition.will_be_requested()
    )
    return (after_upstream() & checked).with_label("after checked upstream")


def daily_last_day(cron: str = DAILY_CRON) -> AutomationCondition:
    """The latest complete day, once per cron tick (the daily schedule, as a condition)."""
    return (
        AutomationCondition.in_latest_time_window()
        & AutomationCondition.cron_tick_passed(cron, "UTC").since_last_handled()
        & ~AutomationCondition.in_progress()
    ).with_label(f"daily at {cron} UTC")


pipeline_automation = AutomationConditionSensorDefinition(
    "pipeline_automation",
    target=AssetSelection.groups("bronze", "silver", "gold"),
    minimum_interval_seconds=AUTOMATION_INTERVAL_S,
    emit_backfills=False,  # runs straight away (one per partition range, per the backfill policies)
    default_status=DefaultSensorStatus.RUNNING,
    run_tags={"dagster/priority": str(AUTOMATION_RUN_PRIORITY)},  # the days already in bronze first (Dagster's run-queue tag)
    description="bronze daily at 01:30 UTC; silver after bronze; plots and features after silver",
)
