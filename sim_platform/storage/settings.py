"""Where the blobs live, read from the environment or a `.env` file.

Precedence (first match wins):

1. `AZURE_STORAGE_CONNECTION_STRING` (Azure or Azurite, any credential the string carries);
2. `AZURE_STORAGE_ACCOUNT_URL` with `AZURE_STORAGE_ACCOUNT_KEY`, or `AZURE_STORAGE_SAS_TOKEN`,
   or neither (then `DefaultAzureCredential`: managed identity, Azure CLI login, ...);
3. otherwise the embedded local-folder store under `SIM_PLATFORM_LOCAL_BLOB_ROOT`
   (default `.blobstore`, relative to the working directory).

`AZURE_STORAGE_CONTAINER_NAME` (default `simulation-data`) names the container for every backend.
A `.env` file fills in variables the real environment does not set; it never overrides them.
Secrets are registered for log redaction as soon as settings exist, and `repr()` masks them, so a
settings object can be logged or shown in a traceback safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sim_platform.environment import DEFAULT_ENV_FILE, environment, value
from sim_platform.storage.errors import SettingsError
from sim_platform.storage.logs import MASK, redact, register_secret
from sim_platform.storage.names import validate_container_name

DEFAULT_CONTAINER = "simulation-data"
DEFAULT_LOCAL_ROOT = ".blobstore"

ENV_CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
ENV_CONTAINER = "AZURE_STORAGE_CONTAINER_NAME"
ENV_ACCOUNT_URL = "AZURE_STORAGE_ACCOUNT_URL"
ENV_ACCOUNT_NAME = "AZURE_STORAGE_ACCOUNT_NAME"
ENV_ACCOUNT_KEY = "AZURE_STORAGE_ACCOUNT_KEY"
ENV_SAS_TOKEN = "AZURE_STORAGE_SAS_TOKEN"
ENV_LOCAL_ROOT = "SIM_PLATFORM_LOCAL_BLOB_ROOT"


_SECRET_PARTS = ("accountkey", "sharedaccesssignature")


def _connection_string_items(value: str) -> list[tuple[str, str]]:
    """`Key=Value;Key=Value` as (key, value) pairs in order, case kept (values may contain '=')."""
    items: list[tuple[str, str]] = []
    for item in value.split(";"):
        if not item.strip():
            continue
        key, sep, val = item.partition("=")
        if not sep:
            raise SettingsError(f"{ENV_CONNECTION_STRING} is malformed: expected Key=Value pairs separated by ';'")
        items.append((key.strip(), val.strip()))
    return items


def parse_connection_string(value: str) -> dict[str, str]:
    """Connection string parts keyed by lower-cased name (Azure compares names case-insensitively)."""
    return {key.lower(): val for key, val in _connection_string_items(value)}


def _without_query(url: str) -> str:
    """A URL with any query string (possibly a SAS) removed, for display."""
    split = urlsplit(url)
    return urlunsplit((split.scheme, split.netloc, split.path, "", ""))


@dataclass(frozen=True, repr=False)
class StorageSettings:
    """Resolved storage settings; build with `StorageSettings.from_env()` or directly in code/tests."""

    container: str = DEFAULT_CONTAINER
    connection_string: str | None = None
    account_url: str | None = None
    account_name: str | None = None
    account_key: str | None = None
    sas_token: str | None = None
    local_root: Path = field(default_factory=lambda: Path(DEFAULT_LOCAL_ROOT))

    def __post_init__(self) -> None:
        validate_container_name(self.container)
        object.__setattr__(self, "local_root", Path(self.local_root))
        for secret in self.secrets():
            register_secret(secret)
        if self.connection_string is None:
            if self.account_key and self.sas_token:
                raise SettingsError(f"both {ENV_ACCOUNT_KEY} and {ENV_SAS_TOKEN} are set; set only one of them")
            if (self.account_key or self.sas_token) and not self.account_url:
                name = ENV_ACCOUNT_KEY if self.account_key else ENV_SAS_TOKEN
                raise SettingsError(f"{name} is set but {ENV_ACCOUNT_URL} is not; set the account URL too")
        else:
            parse_connection_string(self.connection_string)

    @property
    def backend(self) -> str:
        """'azure' when any Azure setting is present, else 'local'."""
        return "azure" if (self.connection_string or self.account_url) else "local"

    @property
    def auth(self) -> str:
        """How the Azure backend authenticates: connection-string, shared-key, sas, default-credential."""
        if self.connection_string:
            return "connection-string"
        if not self.account_url:
            return "none"
        if self.account_key:
            return "shared-key"
        if self.sas_token:
            return "sas"
        return "default-credential"

    def secrets(self) -> list[str]:
        """Every secret value these settings carry (for redaction and for tests)."""
        values = [self.account_key, self.sas_token, self.connection_string]
        if self.connection_string:
            parts = parse_connection_string(self.connection_string)
            values += [parts.get("accountkey"), parts.get("sharedaccesssignature")]
        if self.account_url and "?" in self.account_url:
            values.append(self.account_url.split("?", 1)[1])
        return [v for v in values if v]

    def __repr__(self) -> str:
        shown: list[str] = [f"backend={self.backend!r}"]
        if self.backend == "azure":
            shown.append(f"auth={self.auth!r}")
        shown.append(f"container={self.container!r}")
        if self.connection_string:
            items = [(k, MASK if k.lower() in _SECRET_PARTS else v) for k, v in _connection_string_items(self.connection_string)]
            shown.append("connection_string=" + repr(redact(";".join(f"{k}={v}" for k, v in items))))
        if self.account_url:
            shown.append(f"account_url={_without_query(self.account_url)!r}")
        if self.account_name:
            shown.append(f"account_name={self.account_name!r}")
        if self.account_key:
            shown.append(f"account_key={MASK!r}")
        if self.sas_token:
            shown.append(f"sas_token={MASK!r}")
        if self.backend == "local":
            shown.append(f"local_root={str(self.local_root)!r}")
        return f"StorageSettings({', '.join(shown)})"

    __str__ = __repr__

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: Path | str | None = DEFAULT_ENV_FILE,
    ) -> StorageSettings:
        """Read settings from `environ` (default `os.environ`) completed by `env_file` if it exists.

        A variable present in the real environment wins over `.env`, even when empty; an empty value
        means "not set" so a `.env` entry can be switched off from the shell.
        """
        env = environment(environ, env_file)

        def get(key: str) -> str | None:
            return value(env, key)

        return cls(
            container=get(ENV_CONTAINER) or DEFAULT_CONTAINER,
            connection_string=get(ENV_CONNECTION_STRING),
            account_url=get(ENV_ACCOUNT_URL),
            account_name=get(ENV_ACCOUNT_NAME),
            account_key=get(ENV_ACCOUNT_KEY),
            sas_token=get(ENV_SAS_TOKEN),
            local_root=Path(get(ENV_LOCAL_ROOT) or DEFAULT_LOCAL_ROOT),
        )
