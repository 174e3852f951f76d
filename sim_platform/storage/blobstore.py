"""The blob container interface and its request counters (the implementations and their factory: `stores`).

Two backends implement `BlobStore`: `AzureBlobStore` (Azure Blob Storage or Azurite) and
`LocalBlobStore` (a folder; the embedded default when no Azure setting is present). The sync is
written against this interface only, so both backends behave the same to it, and the same tests run
on both. No Dagster import here.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class BlobInfo:
    """What a listing or a properties call says about one blob."""

    name: str
    size: int
    last_modified: datetime
    etag: str
    content_md5: bytes | None


@dataclass(frozen=True)
class StatsSnapshot:
    """Counter values at one moment; subtract two snapshots to get what one sync run did."""

    list_requests: int = 0
    uploads: int = 0
    downloads: int = 0
    deletes: int = 0
    property_requests: int = 0
    bytes_uploaded: int = 0
    bytes_downloaded: int = 0

    def __sub__(self, other: StatsSnapshot) -> StatsSnapshot:
        return StatsSnapshot(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})


class StoreStats:
    """Thread-safe operation counters kept by every backend.

    `list_requests` counts listing round trips (one per page for Azure, one per walk for the local
    folder); `uploads`/`downloads` count transfer calls started, so "zero uploads" really means no
    upload was attempted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {f.name: 0 for f in fields(StatsSnapshot)}

    def add(self, **deltas: int) -> None:
        with self._lock:
            for key, delta in deltas.items():
                self._values[key] += delta

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(**self._values)


class BlobStore(ABC):
    """One blob container. Blob names are `/`-separated; all methods are thread-safe."""

    container: str
    stats: StoreStats

    @abstractmethod
    def create_container(self) -> bool:
        """Create the container; True if it was created, False if it already existed."""

    @abstractmethod
    def list_blobs(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob whose name starts with `prefix`, in name order.

        Raises `ContainerNotFoundError` when the container does not exist.
        """

    @abstractmethod
    def upload_file(self, name: str, path: Path) -> BlobInfo:
        """Store the file's content as blob `name` (replacing it), with its MD5 recorded.

        The MD5 is computed from the bytes actually sent, so it matches the stored content even if
        the file changed after the caller looked at it.
        """

    @abstractmethod
    def download_into(self, name: str, stream: BinaryIO, *, etag: str | None = None) -> BlobInfo:
        """Write the blob's bytes to `stream`; with `etag`, fail with `BlobChangedError` if it changed."""

    @abstractmethod
    def get_properties(self, name: str) -> BlobInfo:
        """Size, last-modified, etag and MD5 of one blob (`BlobNotFoundError` if missing)."""

    @abstractmethod
    def delete_blob(self, name: str) -> None:
        """Delete one blob (`BlobNotFoundError` if missing)."""

    def close(self) -> None:  # noqa: B027 - an optional hook with a no-op default, not an abstract method
        """Release network resources (nothing to do for the local folder)."""

    def __enter__(self) -> BlobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
