"""The one `Definitions` object of sim_platform (`workspace.yaml`, `dg dev`, `dg check defs`).

The definitions live in `sim_platform/defs/`, one package per layer (`landing/`, `bronze/`,
`silver/`, `gold/`) plus what they share (partitions, resources, policies, automation); this module
puts them together with the resources and the executor of the deployment, chosen from the
environment, so the same code runs embedded (local folders under SIM_PLATFORM_HOME, SQLite instance
in DAGSTER_HOME) and against Azure:

- `SIM_PLATFORM_HOME`: base folder of landing, raw cache, bronze, silver (default ./.sim_platform)
- `SIM_PLATFORM_PIPELINES`: pipelines YAML (sources, catalog, destinations, partitions; default: the packaged one)
- `SIM_PLATFORM_START_DATE` / `SIM_PLATFORM_END_DATE`: the daily partitions' first day / end (exclusive)
- `AZURE_STORAGE_CONNECTION_STRING`, or `AZURE_STORAGE_ACCOUNT_URL` (+ key, SAS or workload identity): the container
- `SIM_PLATFORM_SILVER_BACKEND=local|blob`: overrides `destinations.silver` (a folder under the home, or a container prefix)
- `SIM_PLATFORM_SILVER_ROOT`: silver folder (local) or blob prefix (blob); default `<home>/silver`, `silver/`
- `SIM_PLATFORM_GOLD_ROOT`: gold prefix (or folder) instead of `destinations.gold`
- `SIM_PLATFORM_WAREHOUSE_URL` (the variable `destinations.warehouse.url_env` names): PostgreSQL URL; unset: DuckDB
- `SIM_PLATFORM_WORKERS`: processes inside a run (default: one per core)
- `SIM_PLATFORM_EXECUTOR=k8s`: steps as Kubernetes Jobs (deploy/k8s; needs the `k8s` extra)
"""

from __future__ import annotations

import os

from dagster import Definitions, in_process_executor

from sim_platform.core.pipeline_config import ENV_VAR
from sim_platform.defs.automation import pipeline_automation
from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.gold.assets import ml_training_set, module_day_features, module_day_plot
from sim_platform.defs.gold.schedules import monthly_training_set_refresh, quarterly_training_set_schedule, training_set_job
from sim_platform.defs.landing.assets import blob_synced_runs, raw_files, raw_hdf5_runs
from sim_platform.defs.landing.sensors import new_blob_sensor
from sim_platform.defs.resources import BlobStoreResource, GoldStore, PlatformPaths, SilverStore, WarehouseResource
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform.defs.silver.io_managers import SilverIOManager


def build_resources(env: dict | None = None) -> dict:
    env = dict(os.environ if env is None else env)
    paths = PlatformPaths(
        home=env.get("SIM_PLATFORM_HOME", ""),
        config_path=env.get(ENV_VAR, ""),
        workers=int(env.get("SIM_PLATFORM_WORKERS", "0") or 0),
    )
    blob = BlobStoreResource.from_env(env)
    # silver goes where `destinations.silver` says, unless the environment of a deployment says otherwise
    dest = paths.pipelines().destinations.silver
    backend = env.get("SIM_PLATFORM_SILVER_BACKEND") or ("blob" if dest.blob_prefix is not None else "local")
    if env.get("SIM_PLATFORM_SILVER_ROOT"):
        root = env["SIM_PLATFORM_SILVER_ROOT"]
    elif backend == "local":
        root = str(paths.home_dir / (dest.folder or "silver"))
    else:
        root = dest.prefix  # empty when the destination is a folder: the store's default `silver/`
    silver = SilverStore(backend=backend, root=root, blob=blob)
    return {
        "paths": paths,
        "blob_store": blob,
        "silver_store": silver,
        "silver_io_manager": SilverIOManager(store=silver, paths=paths),
        "gold_store": GoldStore(blob=blob, paths=paths, root=env.get("SIM_PLATFORM_GOLD_ROOT", "")),
        "warehouse": WarehouseResource(paths=paths),
    }


def build_executor(env: dict | None = None):
    """`SIM_PLATFORM_EXECUTOR=k8s` runs each step as its own Kubernetes Job (needs the `k8s` extra);
    unset, the steps of a run execute one after the other in the run's process: each step already
    spreads its days over processes (one per core), so a process per step would only add start-up."""
    env = dict(os.environ if env is None else env)
    kind = env.get("SIM_PLATFORM_EXECUTOR", "")
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if kind:
        raise ValueError(f"SIM_PLATFORM_EXECUTOR={kind!r}: only 'k8s' (or unset) is known")
    return in_process_executor


defs = Definitions(
    assets=[
        raw_hdf5_runs,
        blob_synced_runs,
        raw_files,  # landing
        telemetry_day,  # bronze
        resampled_5s,  # silver
        module_day_plot,
        module_day_features,
        ml_training_set,  # gold
    ],
    jobs=[training_set_job],
    schedules=[quarterly_training_set_schedule, monthly_training_set_refresh],
    sensors=[new_blob_sensor, pipeline_automation],
    resources=build_resources(),
    executor=build_executor(),
)
