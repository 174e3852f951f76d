"""Asset keys by name: a layer names its upstreams by key, never by importing another layer's asset."""

from dagster import AssetKey

RAW_FILES = AssetKey(["landing", "raw_files"])
TELEMETRY_DAY = AssetKey(["bronze", "telemetry_day"])
RESAMPLED_5S = AssetKey(["silver", "resampled_5s"])
