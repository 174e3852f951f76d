"""The daily schedule: at 01:30 UTC, build yesterday's bronze day (the last complete UTC day).

Silver and plots follow through `silver_after_bronze_sensor` (they must wait for bronze).
"""

from __future__ import annotations

from dagster import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

from sim_platform.defs.assets import telemetry_day
from sim_platform.defs.partitions import daily_partitions

daily_bronze_job = define_asset_job(
    "daily_bronze_job", selection=AssetSelection.assets(telemetry_day), partitions_def=daily_partitions
)
daily_schedule = build_schedule_from_partitioned_job(daily_bronze_job, hour_of_day=1, minute_of_hour=30, name="daily_yesterday_schedule")
