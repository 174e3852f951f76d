"""sim_platform: battery-storage telemetry and simulation runs, from raw exports to 5-second hour files.

`sim_platform.core` and `sim_platform.storage` are plain libraries (no Dagster import);
`sim_platform.cli` and `sim_platform.defs` are thin shells over them.
"""

__version__ = "0.1.0"
