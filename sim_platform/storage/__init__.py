"""Blob storage for simulation runs: one container interface, Azure and local-folder backends, sync.

Plain library (no Dagster import). Typical use::

    from sim_platform.storage import open_blob_store, sync_up

    with open_blob_store() as store:          # settings from the environment / .env
        report = sync_up(store, "mock_hdf5_runs", prefix="raw/")
        print(report.summary())
"""

from sim_platform.storage.blobstore import BlobInfo, BlobStore, StatsSnapshot, StoreStats
from sim_platform.storage.errors import (
    BlobAuthError,
    BlobChangedError,
    BlobNotFoundError,
    BlobStoreError,
    ChecksumMismatchError,
    ContainerNotFoundError,
    SettingsError,
    TransientBlobError,
    UnsafeBlobName,
)
from sim_platform.storage.names import resolve_inside, safe_relative_path
from sim_platform.storage.settings import StorageSettings
from sim_platform.storage.stores import open_blob_store
from sim_platform.storage.sync import SyncReport, TransferFailure, sync_down, sync_up

__all__ = [
    "BlobAuthError",
    "BlobChangedError",
    "BlobInfo",
    "BlobNotFoundError",
    "BlobStore",
    "BlobStoreError",
    "ChecksumMismatchError",
    "ContainerNotFoundError",
    "SettingsError",
    "StatsSnapshot",
    "StorageSettings",
    "StoreStats",
    "SyncReport",
    "TransferFailure",
    "TransientBlobError",
    "UnsafeBlobName",
    "open_blob_store",
    "resolve_inside",
    "safe_relative_path",
    "sync_down",
    "sync_up",
]
