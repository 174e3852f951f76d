"""A throwaway PostgreSQL server from Debian's packages, for tests and benchmarks.

Run as the `postgres` user (the server refuses root) in its own temporary folder, on a free
loopback port, with trust authentication; stopped and removed on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"), key=lambda p: int(p.parent.name)
)


class Postgres:
    """A throwaway PostgreSQL server run as the `postgres` user on a free loopback port."""

    def __init__(self, workdir: Path | None = None):
        # its own world-traversable temp dir: the server runs as `postgres`, not as the caller
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="sim_platform_pg_"))
        self.data = self.dir / "pgdata"
        self.port = 0

    def __enter__(self) -> Postgres:
        from sim_platform.storage.azurite import free_port

        if not (PG_BIN / "initdb").exists():
            raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh --test (apt-get install postgresql)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._as_pg([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self.port = free_port()
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=on"
        self._as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "pg.log"), "-w", "start"])
        self._as_pg(
            [
                str(PG_BIN / "createdb") if (PG_BIN / "createdb").exists() else "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "dagster",
            ]
        )
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/dagster"

    def _as_pg(self, cmd: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + cmd, check=True, stdout=subprocess.DEVNULL, cwd="/tmp")

    def __exit__(self, *exc) -> None:
        self._as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)
