"""Resources: where things live, per deployment. Everything else asks these objects for paths.

Embedded default (no Azure setting in the environment): every folder sits under
`SIM_PLATFORM_HOME` (default `./.sim_platform`), the blob container is a local folder
(`<home>/blobstore`), and Dagster keeps its SQLite instance in `DAGSTER_HOME`. With
`AZURE_STORAGE_CONNECTION_STRING` (or an account URL) set, the blob store is Azure/Azurite and the
silver IO manager can be pointed at the container with `SIM_PLATFORM_SILVER_BACKEND=blob`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource

from sim_platform.core.catalog import Catalog
from sim_platform.core.landing import platform_home
from sim_platform.core.pipeline_config import Pipelines, load_pipelines
from sim_platform.storage import BlobStore, StorageSettings, open_blob_store


class PlatformPaths(ConfigurableResource):
    """Local folders of the pipeline; empty fields resolve under `home`."""

    home: str = ""
    landing: str = ""  # simulation runs as they arrive: <landing>/run_XX/sample_YY.h5
    raw_cache: str = ""  # local copy of the container's raw prefix (downloaded only when missing)
    bronze: str = ""  # one parquet file per UTC day
    config_path: str = ""  # pipelines YAML (sources, catalog, destinations); empty: the packaged one
    workers: int = 0  # processes for multi-day runs; 0: one per core

    def _base(self) -> Path:
        return Path(self.home).resolve() if self.home else platform_home()

    def _sub(self, value: str, name: str) -> Path:
        return Path(value).resolve() if value else self._base() / name

    @property
    def landing_dir(self) -> Path:
        return self._sub(self.landing, "landing")

    @property
    def raw_cache_dir(self) -> Path:
        return self._sub(self.raw_cache, "raw_cache")

    @property
    def bronze_dir(self) -> Path:
        return self._sub(self.bronze, self.pipelines().destinations.bronze.folder)

    @property
    def home_dir(self) -> Path:
        return self._base()

    @property
    def log_dir(self) -> Path:
        return self._base() / "logs"

    def pipelines(self) -> Pipelines:
        return load_pipelines(self.config_path or None)

    def catalog(self) -> Catalog:
        return self.pipelines().catalog

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


class BlobStoreResource(ConfigurableResource):
    """The blob container, wrapping `storage.open_blob_store`.

    With `connection_string` set it is Azure/Azurite; else, with `from_env`, the environment decides
    (`StorageSettings.from_env`); else a local folder `local_root` (default `<home>/blobstore`).
    """

    container: str = "simulation-data"
    connection_string: str = ""
    local_root: str = ""
    from_env: bool = False

    def settings(self) -> StorageSettings:
        if self.connection_string:
            return StorageSettings(container=self.container, connection_string=self.connection_string)
        if self.from_env:
            return StorageSettings.from_env()
        root = Path(self.local_root) if self.local_root else platform_home() / "blobstore"
        return StorageSettings(container=self.container, local_root=root)

    def open(self) -> BlobStore:
        store = open_blob_store(self.settings())
        store.create_container()
        return store


@dataclass(frozen=True)
class TargetSpec:
    """A picklable description of where silver files go, so worker processes can open the target."""

    kind: str  # "local" | "blob"
    root: str  # folder (local) or blob name prefix (blob)
    settings: StorageSettings | None = None

    def open(self):
        from sim_platform.core.layout import LocalTarget
        from sim_platform.defs.targets import BlobTarget

        if self.kind == "local":
            return LocalTarget(self.root)
        return BlobTarget(open_blob_store(self.settings), self.root)


class SilverStore(ConfigurableResource):
    """Where the silver hour files (and the plots beside them) live: a folder or the container."""

    backend: str = "local"  # "local" | "blob"
    root: str = ""  # local folder (default <home>/silver) or blob prefix (default "silver/")
    blob: BlobStoreResource

    def spec(self) -> TargetSpec:
        if self.backend == "local":
            return TargetSpec("local", str(Path(self.root).resolve() if self.root else platform_home() / "silver"))
        if self.backend == "blob":
            self.blob.open().close()  # creates the container once, not in every worker
            prefix = self.root or "silver/"
            return TargetSpec("blob", prefix if prefix.endswith("/") else prefix + "/", self.blob.settings())
        raise ValueError(f"silver backend must be 'local' or 'blob', not {self.backend!r}")


class GoldStore(ConfigurableResource):
    """Where gold files live: `destinations.gold` of the pipelines file (a container prefix, default
    `gold/`, or a folder under the home); `root` overrides it (a prefix when the destination is a prefix)."""

    blob: BlobStoreResource
    paths: PlatformPaths
    root: str = ""

    def spec(self) -> TargetSpec:
        loc = self.paths.pipelines().destinations.gold
        if loc.blob_prefix is not None:
            self.blob.open().close()
            prefix = self.root or loc.prefix
            return TargetSpec("blob", prefix if prefix.endswith("/") else prefix + "/", self.blob.settings())
        return TargetSpec("local", str(Path(self.root).resolve() if self.root else self.paths.home_dir / loc.folder))


class WarehouseResource(ConfigurableResource):
    """The database `ml_training_set` is loaded into (`destinations.warehouse`): PostgreSQL when the
    environment variable it names holds a URL, else the embedded DuckDB file under the home.
    The URL is read when a connection is opened and never logged (only a masked form)."""

    paths: PlatformPaths

    def _settings(self):
        return self.paths.pipelines().destinations.warehouse

    def table(self) -> str:
        return self._settings().table

    def duckdb_path(self) -> Path:
        return self.paths.home_dir / self._settings().duckdb_path

    def describe(self) -> str:
        from sim_platform.core.warehouse import describe

        return describe(self._settings().url(), self.duckdb_path())

    def open(self):
        from sim_platform.core.warehouse import open_warehouse

        return open_warehouse(self._settings().url(), self.duckdb_path())
