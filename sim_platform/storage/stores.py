"""The one factory of blob stores: a description in, an open `BlobStore` out.

The interface (`blobstore.BlobStore`) knows none of its implementations; this module knows them
all. Two descriptions: `StorageSettings` (a connection string, an account URL with a key, SAS or
the default credential, or a local folder), or a ready Azure `BlobServiceClient` (the Dagster
layer builds one with dagster-azure's resource, `defs.resources.StoreOpener`).
"""

from __future__ import annotations

from typing import Any

from sim_platform.storage.blobstore import BlobStore
from sim_platform.storage.settings import StorageSettings


def open_blob_store(settings: StorageSettings | None = None, **options: Any) -> BlobStore:
    """The store described by `settings` (default: read from the environment and `.env`).

    `options` go to the backend constructor (e.g. `request_hook`, `retry_total`,
    `max_single_put_size` for Azure); the local backend accepts none.
    """
    settings = settings or StorageSettings.from_env()
    if settings.backend == "azure":
        from sim_platform.storage.azure_store import AzureBlobStore

        return AzureBlobStore.from_settings(settings, **options)
    from sim_platform.storage.local_store import LocalBlobStore

    if options:
        raise TypeError(f"the local blob store takes no options (got {sorted(options)})")
    return LocalBlobStore(settings.local_root, settings.container)


def open_service_store(service, container: str, auth: str) -> BlobStore:
    """A store over an Azure `BlobServiceClient` someone else built (it is closed with the store)."""
    from sim_platform.storage.azure_store import AzureBlobStore

    return AzureBlobStore(service, container, auth=auth)
