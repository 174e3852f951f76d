"""Resources: where things live, per deployment. Everything else asks these objects for paths.

Embedded default (no Azure setting in the environment): every folder sits under
`SIM_PLATFORM_HOME` (default `./.sim_platform`), the blob container is a local folder
(`<home>/blobstore`), and Dagster keeps its SQLite instance in `DAGSTER_HOME`.

The blob container, three ways (`BlobStoreResource`):

- `azure`: dagster-azure's `AzureBlobStorageResource` (an account URL with a shared key, a SAS token
  or `DefaultAzureCredential`, e.g. a Kubernetes workload identity). Its client is the one used.
- `connection_string`: Azurite (compose, tests) or any account given as a connection string, which
  `AzureBlobStorageResource` cannot take (it builds its client from an account URL and one
  credential); our own client (`storage.AzureBlobStore.from_settings`) reads it.
- neither: a local folder store (`local_root`, default `<home>/blobstore`).

Either way the assets get our `BlobStore` interface (listing with MD5s, verified transfers, sync).
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from dagster import ConfigurableResource, EnvVar
from dagster_azure.blob import (
    AzureBlobStorageDefaultCredential,
    AzureBlobStorageKeyCredential,
    AzureBlobStorageResource,
    AzureBlobStorageSASTokenCredential,
)

from sim_platform.core.config.catalog import Catalog
from sim_platform.core.config.pipelines import Pipelines, cached_pipelines
from sim_platform.core.store.targets import TargetSpec
from sim_platform.environment import PlatformEnv, platform_home
from sim_platform.storage import BlobStore, StorageSettings, open_blob_store
from sim_platform.storage.settings import (
    DEFAULT_CONTAINER,
    ENV_ACCOUNT_KEY,
    ENV_ACCOUNT_URL,
    ENV_CONNECTION_STRING,
    ENV_SAS_TOKEN,
)


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
        """The run's configuration, loaded once per process and file version (`cached_pipelines`)."""
        return cached_pipelines(self.config_path or None)

    def catalog(self) -> Catalog:
        return self.pipelines().catalog

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


_AUTH = {"key": "shared-key", "sas": "sas", "default_azure_credential": "default-credential", "anonymous": "anonymous"}


@dataclass(frozen=True)
class StoreOpener:
    """Picklable: opens the container in a worker process the way `BlobStoreResource.open` does."""

    container: str
    settings: StorageSettings | None = None  # connection string or local folder: our client
    account_url: str = ""  # AzureBlobStorageResource: its account URL and credential
    credential_type: str = ""
    secret: str | None = field(default=None, repr=False)
    credential_kwargs: tuple[tuple[str, object], ...] = ()

    def azure_resource(self) -> AzureBlobStorageResource:
        if self.credential_type == "key":
            credential = AzureBlobStorageKeyCredential(key=self.secret)
        elif self.credential_type == "sas":
            credential = AzureBlobStorageSASTokenCredential(token=self.secret)
        else:
            credential = AzureBlobStorageDefaultCredential(kwargs=dict(self.credential_kwargs))
        return AzureBlobStorageResource(account_url=self.account_url, credential=credential)

    def __call__(self) -> BlobStore:
        if self.settings is not None:
            return open_blob_store(self.settings)
        from sim_platform.storage.logs import register_secret
        from sim_platform.storage.stores import open_service_store

        if self.secret:
            register_secret(self.secret)  # never shown in a log line or an error
        client = self.azure_resource().get_client()
        service = client.__enter__()  # closed with the store
        return open_service_store(service, self.container, _AUTH.get(self.credential_type, self.credential_type))


class BlobStoreResource(ConfigurableResource):
    """The blob container (see the module docstring for the three ways to reach it)."""

    container: str = DEFAULT_CONTAINER
    azure: AzureBlobStorageResource | None = None
    connection_string: str = ""
    local_root: str = ""

    def opener(self) -> StoreOpener:
        if self.azure is not None:
            cred = self.azure.credential
            secret = getattr(cred, "key", None) or getattr(cred, "token", None)
            kwargs = tuple(sorted(getattr(cred, "kwargs", {}).items()))
            return StoreOpener(self.container, None, self.azure.account_url, cred.credential_type, secret, kwargs)
        if self.connection_string:
            return StoreOpener(
                self.container, StorageSettings(container=self.container, connection_string=self.connection_string)
            )
        root = Path(self.local_root) if self.local_root else platform_home() / "blobstore"
        return StoreOpener(self.container, StorageSettings(container=self.container, local_root=root))

    def open(self) -> BlobStore:
        store = self.opener()()
        store.create_container()
        return store

    @classmethod
    def from_env(cls, env: PlatformEnv | None = None) -> "BlobStoreResource":
        """The container the environment describes, by `storage.StorageSettings`' precedence (the one
        resolver), with secrets as `EnvVar`s so the UI shows variable names, never values."""
        settings = StorageSettings.from_env((env or PlatformEnv.read()).vars, env_file=None)
        container = settings.container
        if settings.connection_string:
            return cls(container=container, connection_string=EnvVar(ENV_CONNECTION_STRING))
        if settings.account_url:
            if settings.account_key:
                credential = AzureBlobStorageKeyCredential(key=EnvVar(ENV_ACCOUNT_KEY))
            elif settings.sas_token:
                credential = AzureBlobStorageSASTokenCredential(token=EnvVar(ENV_SAS_TOKEN))
            else:
                credential = AzureBlobStorageDefaultCredential()
            return cls(
                container=container, azure=AzureBlobStorageResource(account_url=EnvVar(ENV_ACCOUNT_URL), credential=credential)
            )
        return cls(container=container, local_root=str(settings.local_root))


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
            return TargetSpec("blob", prefix if prefix.endswith("/") else prefix + "/", self.blob.opener())
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
            return TargetSpec("blob", prefix if prefix.endswith("/") else prefix + "/", self.blob.opener())
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
        from sim_platform.core.gold.warehouse import describe

        return describe(self._settings().url(), self.duckdb_path())

    def open(self):
        from sim_platform.core.gold.features import feature_schema
        from sim_platform.core.gold.warehouse import open_warehouse

        return open_warehouse(self._settings().url(), self.duckdb_path(), feature_schema(self.paths.catalog()))
