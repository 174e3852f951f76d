"""The deployment: the resources and the executor, chosen from the environment in this one place.

The same asset code runs embedded (local folders under SIM_PLATFORM_HOME, a local folder for the
container, SQLite instance in DAGSTER_HOME), against Azurite (compose, tests) and against Azure,
and on Kubernetes; only what this module returns differs. Every variable is named in
`sim_platform.environment`:

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

from dagster import Definitions, definitions, in_process_executor

from sim_platform.defs.resources import BlobStoreResource, GoldStore, PlatformPaths, SilverStore, WarehouseResource
from sim_platform.defs.silver.io_managers import SilverIOManager
from sim_platform.environment import EXECUTOR, GOLD_ROOT, SILVER_BACKEND, SILVER_ROOT, PlatformEnv


def build_resources(env: PlatformEnv | None = None) -> dict:
    """The resources of the deployment that `env` (default: the environment and `.env`) describes."""
    env = env or PlatformEnv.read()
    paths = PlatformPaths(home=env.get("SIM_PLATFORM_HOME") or "", config_path=env.pipelines or "", workers=env.workers)
    blob = BlobStoreResource.from_env(env)
    # silver goes where `destinations.silver` says, unless the environment of a deployment says otherwise
    dest = paths.pipelines().destinations.silver
    backend = env.get(SILVER_BACKEND) or ("blob" if dest.blob_prefix is not None else "local")
    if env.get(SILVER_ROOT):
        root = env.get(SILVER_ROOT)
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
        "gold_store": GoldStore(blob=blob, paths=paths, root=env.get(GOLD_ROOT) or ""),
        "warehouse": WarehouseResource(paths=paths),
    }


def build_executor(env: PlatformEnv | None = None):
    """`SIM_PLATFORM_EXECUTOR=k8s` runs each step as its own Kubernetes Job (needs the `k8s` extra);
    unset, the steps of a run execute one after the other in the run's process: each step already
    spreads its days over processes (one per core), so a process per step would only add start-up."""
    env = env or PlatformEnv.read()
    kind = env.get(EXECUTOR) or ""
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if kind:
        raise ValueError(f"SIM_PLATFORM_EXECUTOR={kind!r}: only 'k8s' (or unset) is known")
    return in_process_executor


@definitions
def deployment() -> Definitions:
    """What `load_from_defs_folder` finds of this module: the deployment's resources and executor."""
    env = PlatformEnv.read()
    return Definitions(resources=build_resources(env), executor=build_executor(env))
