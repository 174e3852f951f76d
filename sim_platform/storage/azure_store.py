"""`BlobStore` on Azure Blob Storage (or Azurite) through `azure-storage-blob`.

Choices that matter for the sync:

* listing goes page by page so `stats.list_requests` is the real number of List Blobs calls;
* every upload records the MD5 of the bytes actually sent (`x-ms-blob-content-md5`) and asks the
  service to validate each request body (`validate_content`), so a blob never carries an MD5 that
  does not describe it; files above `max_single_put_size` go up as blocks of `max_block_size`,
  committed with the whole-file MD5;
* the SDK's own `ExponentialRetry` retries transient HTTP/connection failures with backoff, per
  request: it is the only retry layer for them (the sync retries nothing but MD5 mismatches, and
  Dagster's RetryPolicy retries a whole step that still failed);
* SDK exceptions are translated into `sim_platform.storage.errors` with messages written here, so
  callers never print SDK text that might quote a signed URL.
"""

from __future__ import annotations

import hashlib
import ipaddress
import mimetypes
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.utils
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobBlock, BlobServiceClient, ContentSettings, ExponentialRetry
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sim_platform.storage.blobstore import BlobInfo, BlobStore, StoreStats
from sim_platform.storage.errors import (
    BlobAuthError,
    BlobChangedError,
    BlobNotFoundError,
    BlobStoreError,
    ContainerNotFoundError,
    SettingsError,
    TransientBlobError,
)
from sim_platform.storage.logs import protect_library_loggers, redact, register_secret
from sim_platform.storage.names import safe_relative_path, validate_container_name
from sim_platform.storage.settings import (
    ENV_ACCOUNT_KEY,
    ENV_ACCOUNT_URL,
    ENV_CONNECTION_STRING,
    ENV_SAS_TOKEN,
    StorageSettings,
)

try:  # raised when the account key cannot be used to sign; not exported publicly by the SDK
    from azure.storage.blob._shared.authentication import AzureSigningError as _SIGNING_ERROR
except ImportError:  # pragma: no cover - a future SDK moved it; the generic path still reports it
    _SIGNING_ERROR = None

MIB = 1024 * 1024
DEFAULT_MAX_SINGLE_PUT_SIZE = 8 * MIB
DEFAULT_MAX_BLOCK_SIZE = 4 * MIB
_HDF5_SUFFIXES = {".h5", ".hdf5", ".he5"}
_AUTH_HINT = {
    "connection-string": f"check the AccountKey/SharedAccessSignature in {ENV_CONNECTION_STRING}",
    "shared-key": f"check {ENV_ACCOUNT_KEY} for {ENV_ACCOUNT_URL}",
    "sas": f"check {ENV_SAS_TOKEN} (expiry and permissions)",
    "default-credential": "check the identity DefaultAzureCredential picked (az login, managed identity) "
    "and its role on the container",
}


def _public_url(url: str) -> str:
    split = urlsplit(url)
    return urlunsplit((split.scheme, split.netloc, split.path.rstrip("/"), "", ""))


def account_name_from_url(url: str) -> str:
    """`https://acct.blob.core.windows.net` -> acct; `http://127.0.0.1:10000/devstoreaccount1` -> devstoreaccount1."""
    split = urlsplit(url)
    host = split.hostname or ""
    try:
        ipaddress.ip_address(host)
        path_style = True
    except ValueError:
        path_style = host == "localhost" or "." not in host
    if path_style:
        first = split.path.strip("/").split("/")[0]
        if not first:
            raise SettingsError(f"cannot tell the account name from {_public_url(url)}; set AZURE_STORAGE_ACCOUNT_NAME")
        return first
    return host.split(".")[0]


def _error_code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)
    return str(code or exc.reason or "")


def _bare_etag(etag: str) -> str:
    """Listings return etags bare, properties calls quoted; keep one form so they compare equal."""
    return etag.strip('"')


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0][:300]) if text else type(exc).__name__


class AzureBlobStore(BlobStore):
    """A container in an Azure storage account (Azurite included)."""

    def __init__(
        self,
        service: BlobServiceClient,
        container: str,
        *,
        auth: str,
        session: requests.Session | None = None,
        max_single_put_size: int = DEFAULT_MAX_SINGLE_PUT_SIZE,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    ) -> None:
        self.container = validate_container_name(container)
        self.stats = StoreStats()
        self.auth = auth
        self.max_single_put_size = max_single_put_size
        self.max_block_size = max_block_size
        self._service = service
        self._session = session
        self._container_client = service.get_container_client(container)
        self.endpoint = _public_url(service.url)

    @classmethod
    def from_settings(
        cls,
        settings: StorageSettings,
        *,
        request_hook: Callable[[Any], None] | None = None,
        retry_total: int = 3,
        retry_backoff: float = 0.5,
        max_single_put_size: int = DEFAULT_MAX_SINGLE_PUT_SIZE,
        max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
        max_connections: int = 32,
        connection_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> AzureBlobStore:
        """Build the client from settings.

        `request_hook` is called with every HTTP request the pipeline sends, retries included (the
        SDK's `raw_request_hook`); tests and the benchmark count requests with it. The HTTP pool is
        sized for `max_connections` parallel transfers instead of requests' default of 10.
        """
        if settings.backend != "azure":
            raise SettingsError("no Azure setting is present (set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL)")
        for secret in settings.secrets():
            register_secret(secret)
        protect_library_loggers()
        session = requests.Session()
        # With trust_env on, requests re-reads proxy, CA bundle and netrc settings from the environment
        # on every request (~0.4 ms of CPU each, a tenth of a small upload). They are read once here
        # instead: the CA bundle below, the proxies once the endpoint is known.
        session.trust_env = False
        adapter = HTTPAdapter(
            pool_connections=4,
            pool_maxsize=max_connections,
            max_retries=Retry(total=False, redirect=False, raise_on_status=False),
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        transport = RequestsTransport(
            session=session,
            session_owner=False,
            connection_timeout=connection_timeout,
            read_timeout=read_timeout,
            connection_data_block_size=4 * MIB,
            connection_verify=os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True,
        )
        client_options: dict[str, Any] = {
            "transport": transport,
            "retry_policy": ExponentialRetry(
                initial_backoff=retry_backoff,
                increment_base=2,
                retry_total=retry_total,
                random_jitter_range=retry_backoff / 2,
            ),
        }
        if request_hook is not None:
            client_options["raw_request_hook"] = request_hook
        try:
            if settings.connection_string:
                service = BlobServiceClient.from_connection_string(settings.connection_string, **client_options)
            else:
                url = settings.account_url or ""
                credential: Any
                if settings.account_key:
                    name = settings.account_name or account_name_from_url(url)
                    credential = AzureNamedKeyCredential(name, settings.account_key)
                elif settings.sas_token:
                    credential = AzureSasCredential(settings.sas_token.lstrip("?"))
                else:
                    from azure.identity import DefaultAzureCredential

                    credential = DefaultAzureCredential()
                service = BlobServiceClient(url, credential=credential, **client_options)
        except (ValueError, TypeError) as exc:
            session.close()
            source = ENV_CONNECTION_STRING if settings.connection_string else ENV_ACCOUNT_URL
            raise SettingsError(f"{source} is not usable: {redact(str(exc))}") from None
        session.proxies.update(requests.utils.get_environ_proxies(service.url))  # honours NO_PROXY
        return cls(
            service,
            settings.container,
            auth=settings.auth,
            session=session,
            max_single_put_size=max_single_put_size,
            max_block_size=max_block_size,
        )

    def __repr__(self) -> str:
        return f"AzureBlobStore(endpoint={self.endpoint!r}, container={self.container!r}, auth={self.auth!r})"

    # -- error translation -------------------------------------------------------------------------

    def _translate(self, exc: AzureError, what: str) -> BlobStoreError:
        """Our error for an SDK error, with a message built here (nothing secret, blob named)."""
        if _SIGNING_ERROR is not None and isinstance(exc, _SIGNING_ERROR):
            return BlobAuthError(
                f"{what}: could not sign the request for {self.endpoint}: the account key is not valid "
                f"base64; {_AUTH_HINT.get(self.auth, 'check the credentials')}"
            )
        if isinstance(exc, HttpResponseError) and exc.status_code is not None:
            status, code = exc.status_code, _error_code(exc)
            if status in (401, 403):
                return BlobAuthError(
                    f"{what}: {self.endpoint} refused the credentials (HTTP {status} {code}); "
                    f"{_AUTH_HINT.get(self.auth, 'check the credentials')}"
                )
            if status == 404:
                if code == "ContainerNotFound":
                    return ContainerNotFoundError(f"{what}: container {self.container!r} does not exist at {self.endpoint}")
                return BlobNotFoundError(f"{what}: no such blob in container {self.container!r} (HTTP 404 {code})")
            if status == 412:
                return BlobChangedError(f"{what}: the blob changed since it was listed (HTTP 412 {code})")
            if status in (408, 429) or status >= 500:
                return TransientBlobError(f"{what}: server error HTTP {status} {code}")
            return BlobStoreError(f"{what}: HTTP {status} {code}: {_first_line(exc)}")
        if isinstance(exc, (ServiceRequestError, ServiceResponseError, IncompleteReadError, HttpResponseError)):
            return TransientBlobError(f"{what}: connection to {self.endpoint} failed: {_first_line(exc)}")
        return BlobStoreError(f"{what}: {type(exc).__name__}: {_first_line(exc)}")

    # -- BlobStore ---------------------------------------------------------------------------------

    def create_container(self) -> bool:
        try:
            self._container_client.create_container()
            return True
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise self._translate(exc, f"create container {self.container!r}") from exc

    def list_blobs(self, prefix: str = "") -> Iterator[BlobInfo]:
        what = f"list container {self.container!r}" + (f" under {prefix!r}" if prefix else "")
        pages = self._container_client.list_blobs(name_starts_with=prefix or None).by_page()
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except AzureError as exc:
                self.stats.add(list_requests=1)
                raise self._translate(exc, what) from exc
            self.stats.add(list_requests=1)
            for props in page:
                yield self._info(props)

    def upload_file(self, name: str, path: Path) -> BlobInfo:
        safe_relative_path(name)
        what = f"upload {name!r}"
        path = Path(path)
        blob = self._container_client.get_blob_client(name)
        try:
            with open(path, "rb") as fh:
                size = path.stat().st_size
                self.stats.add(uploads=1)
                if size <= self.max_single_put_size:
                    data = fh.read()
                    md5 = hashlib.md5(data).digest()
                    response = blob.upload_blob(
                        data,
                        length=len(data),
                        overwrite=True,
                        content_settings=self._content_settings(name, md5),
                        validate_content=True,
                        max_concurrency=1,
                    )
                    sent = len(data)
                else:
                    md5, sent, response = self._upload_blocks(blob, fh, name)
        except OSError as exc:
            raise BlobStoreError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
        except AzureError as exc:
            raise self._translate(exc, what) from exc
        self.stats.add(bytes_uploaded=sent)
        return BlobInfo(name, sent, response["last_modified"], _bare_etag(response["etag"]), md5)

    def _upload_blocks(self, blob: Any, fh: BinaryIO, name: str) -> tuple[bytes, int, dict[str, Any]]:
        """Stage the file as blocks, hashing as we go, then commit with the whole-file MD5.

        Done by hand rather than by `upload_blob` so the MD5 recorded at commit is the MD5 of the
        very bytes staged, computed in the same single pass over the file.
        """
        digest = hashlib.md5()
        blocks: list[BlobBlock] = []
        sent = 0
        while chunk := fh.read(self.max_block_size):
            digest.update(chunk)
            block_id = f"block-{len(blocks):08d}"
            blob.stage_block(block_id, chunk, length=len(chunk), validate_content=True)
            blocks.append(BlobBlock(block_id=block_id))
            sent += len(chunk)
        md5 = digest.digest()
        response = blob.commit_block_list(blocks, content_settings=self._content_settings(name, md5))
        return md5, sent, response

    @staticmethod
    def _content_settings(name: str, md5: bytes) -> ContentSettings:
        suffix = Path(name).suffix.lower()
        content_type = "application/x-hdf5" if suffix in _HDF5_SUFFIXES else None
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return ContentSettings(content_type=content_type, content_md5=bytearray(md5))

    def download_into(self, name: str, stream: BinaryIO, *, etag: str | None = None) -> BlobInfo:
        what = f"download {name!r}"
        options: dict[str, Any] = {}
        if etag:
            options = {"etag": f'"{_bare_etag(etag)}"', "match_condition": MatchConditions.IfNotModified}
        blob = self._container_client.get_blob_client(name)
        received = 0
        self.stats.add(downloads=1)
        try:
            downloader = blob.download_blob(max_concurrency=1, **options)
            for chunk in downloader.chunks():
                stream.write(chunk)
                received += len(chunk)
        except AzureError as exc:
            raise self._translate(exc, what) from exc
        finally:
            self.stats.add(bytes_downloaded=received)
        return self._info(downloader.properties, name=name)

    def get_properties(self, name: str) -> BlobInfo:
        self.stats.add(property_requests=1)
        try:
            props = self._container_client.get_blob_client(name).get_blob_properties()
        except AzureError as exc:
            raise self._translate(exc, f"get properties of {name!r}") from exc
        return self._info(props, name=name)

    def delete_blob(self, name: str) -> None:
        self.stats.add(deletes=1)
        try:
            self._container_client.get_blob_client(name).delete_blob()
        except AzureError as exc:
            raise self._translate(exc, f"delete {name!r}") from exc

    def close(self) -> None:
        self._service.close()
        if self._session is not None:
            self._session.close()

    @staticmethod
    def _info(props: Any, name: str | None = None) -> BlobInfo:
        md5 = props.content_settings.content_md5 if props.content_settings else None
        return BlobInfo(
            name=name or props.name,
            size=props.size,
            last_modified=props.last_modified,
            etag=_bare_etag(props.etag),
            content_md5=bytes(md5) if md5 else None,
        )
