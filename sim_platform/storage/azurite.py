"""Start a private Azurite (Azure Storage emulator) blob service for tests, benchmarks and demos.

Azurite is an npm package, installed into `<repo>/.tools` (see `.ci/run`); `AZURITE_BIN` overrides
the location. The server listens on a free loopback port with its own workspace folder, so runs never
share state. `find_azurite` raises (never returns None) when the binary is missing: a test suite
that silently skipped its Azure half would prove nothing.

The account name and key below are Azurite's fixed, publicly documented development credentials,
not a secret.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

AZURITE_VERSION = "3.37.0"
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_RELATIVE_BIN = Path(".tools/node_modules/.bin/azurite-blob")


def find_azurite(start: Path | None = None) -> Path:
    """`$AZURITE_BIN`, else `.tools/node_modules/.bin/azurite-blob` in `start` or a parent folder."""
    override = os.environ.get("AZURITE_BIN")
    if override:
        path = Path(override)
        if path.is_file():
            return path
        raise FileNotFoundError(f"AZURITE_BIN={override} does not exist")
    candidates = [Path(start or Path.cwd()).resolve(), Path(__file__).resolve()]
    for base in candidates:
        for folder in [base, *base.parents]:
            if (folder / _RELATIVE_BIN).is_file():
                return folder / _RELATIVE_BIN
    raise FileNotFoundError(
        f"azurite-blob not found (looked for {_RELATIVE_BIN} above {candidates[0]} and set AZURITE_BIN). "
        f"Install it with: npm install --prefix <repo>/.tools --no-audit --no-fund azurite@{AZURITE_VERSION}"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AzuriteServer:
    """One Azurite blob service process; use as a context manager."""

    def __init__(self, workspace: Path, *, binary: Path | None = None, in_memory: bool = False) -> None:
        self.workspace = Path(workspace)
        self.binary = binary or find_azurite()
        self.in_memory = in_memory
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = self.workspace / "azurite.log"

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT_NAME}"

    def connection_string(self, *, endpoint: str | None = None, key: str = DEV_ACCOUNT_KEY) -> str:
        """Connection string for this server (or another endpoint such as a proxy in front of it)."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};AccountKey={key};"
            f"BlobEndpoint={endpoint or self.blob_endpoint};"
        )

    def start(self, timeout: float = 30.0) -> AzuriteServer:
        """Launch on a free port and wait until it accepts connections (3 tries against port races)."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        node = shutil.which("node")
        if node is None:
            raise FileNotFoundError("node is not on PATH; Azurite needs Node.js")
        last_error = ""
        for _ in range(3):
            self.port = free_port()
            command = [
                str(self.binary),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--skipApiVersionCheck",
                "--loose",
                "--silent",
                "--disableTelemetry",
            ]
            # Azurite refuses --location together with --inMemoryPersistence
            command += ["--inMemoryPersistence"] if self.in_memory else ["--location", str(self.workspace / "data")]
            log = open(self._log_path, "ab")
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    break
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self
                except OSError:
                    time.sleep(0.1)
            last_error = self._log_path.read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"Azurite did not start ({self.binary}); its output:\n{last_error}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> AzuriteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
