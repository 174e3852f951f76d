"""Fixtures for the storage tests: a real Azurite, and a `backend` parametrised over local/azurite.

Azurite is started once per session on a free loopback port with a fresh temporary workspace; each
test gets its own container. If the Azurite binary is missing the fixture FAILS (it never skips):
CI installs it into `<repo>/.tools` and a silently skipped Azure half would prove nothing.

For Azurite, every HTTP request the SDK sends (retries included) is recorded by a `raw_request_hook`
(`RequestCounter`), so request counts asserted by tests are what went over the wire, independently
of the counters the store keeps itself.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import ContainerClient, ContentSettings

from sim_platform.storage.azure_store import AzureBlobStore
from sim_platform.storage.azurite import AzuriteServer, find_azurite
from sim_platform.storage.blobstore import BlobStore
from sim_platform.storage.local_store import LocalBlobStore
from sim_platform.storage.settings import StorageSettings

REPO = Path(__file__).resolve().parents[2]


def _classify(method: str, url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    comp = query.get("comp", [None])[0]
    restype = query.get("restype", [None])[0]
    if method == "GET" and comp == "list":
        return "list"
    if method == "PUT" and restype == "container":
        return "create_container"
    if method == "PUT" and comp is None:
        return "put_blob"
    if method == "PUT" and comp in ("block", "blocklist", "properties"):
        return {"block": "put_block", "blocklist": "put_block_list", "properties": "set_properties"}[comp]
    if method == "GET" and comp is None:
        return "get_blob"
    if method == "HEAD":
        return "get_properties"
    if method == "DELETE":
        return "delete"
    return f"{method} {comp}"


class RequestCounter:
    """`raw_request_hook` that records (method, kind) of every HTTP request, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []

    def __call__(self, pipeline_request) -> None:
        request = pipeline_request.http_request
        with self._lock:
            self.requests.append((request.method, _classify(request.method, request.url)))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def count(self, kind: str | None = None, *, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, k in self.requests if (kind is None or k == kind) and (method is None or m == method))

    def kinds(self) -> Counter:
        with self._lock:
            return Counter(k for _, k in self.requests)


def new_container() -> str:
    return f"t{uuid.uuid4().hex[:20]}"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    try:
        binary = find_azurite(REPO)
    except FileNotFoundError as exc:
        pytest.fail(f"Azurite is required for the storage tests and was not found: {exc}", pytrace=False)
    server = AzuriteServer(tmp_path_factory.mktemp("azurite-workspace"), binary=binary)
    server.start()
    yield server
    server.stop()


@dataclass
class Backend:
    """One backend under test, with the few raw operations the tests need beyond the interface."""

    kind: str
    store: BlobStore
    http: RequestCounter | None
    make_store: Callable[..., BlobStore]
    plant: Callable[[str, bytes], None]
    corrupt: Callable[[str], None]


def _local_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "blobroot"
    container = new_container()
    store = LocalBlobStore(root, container)
    store.create_container()

    def make_store(container: str = container, **_options) -> BlobStore:
        return LocalBlobStore(root, container)

    def plant(name: str, data: bytes) -> None:
        # bypasses the store's name checks, as another tool writing into the folder would
        path = store.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def corrupt(name: str) -> None:
        # bit rot: bytes change, size and mtime do not, so the recorded MD5 is still trusted
        path = store.folder / name
        st = path.stat()
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    return Backend("local", store, None, make_store, plant, corrupt)


def _azurite_backend(server: AzuriteServer) -> Backend:
    container = new_container()
    connection_string = server.connection_string()
    counter = RequestCounter()

    def make_store(container: str = container, **options) -> AzureBlobStore:
        options.setdefault("request_hook", counter)
        options.setdefault("retry_backoff", 0.05)
        settings = StorageSettings(container=container, connection_string=connection_string)
        return AzureBlobStore.from_settings(settings, **options)

    store = make_store()
    store.create_container()
    raw = ContainerClient.from_connection_string(connection_string, container)

    def plant(name: str, data: bytes) -> None:
        raw.upload_blob(name, data, overwrite=True)

    def corrupt(name: str) -> None:
        # the recorded MD5 no longer describes the bytes (as after a faulty copy by another tool)
        raw.get_blob_client(name).set_http_headers(
            content_settings=ContentSettings(content_md5=bytearray(hashlib.md5(b"not the content").digest()))
        )

    counter.reset()
    return Backend("azurite", store, counter, make_store, plant, corrupt)


@pytest.fixture(params=["local", "azurite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        result = _local_backend(tmp_path)
    else:
        result = _azurite_backend(request.getfixturevalue("azurite"))
    yield result
    result.store.close()


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.store
