"""Fixtures for the Dagster layer: real resources over temporary folders, a real Azurite, a real
(temporary, SQLite) DagsterInstance per test, and raw blobs landed in a container.

`azurite` is the storage suite's session fixture (re-exported here, so the server is real and fails
loudly when the binary is missing; it never skips).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import instance_for_test

from sim_platform.defs.resources import BlobStoreResource, GoldStore, PlatformPaths, SilverStore, WarehouseResource
from sim_platform.defs.silver.io_managers import SilverIOManager
from sim_platform.storage import sync_up
from sim_platform_tests.storage.conftest import azurite  # noqa: F401  (fixture re-export)

SAMPLE_DAYS = ("2024-06-05", "2024-06-20", "2024-07-05", "2024-08-06")


@dataclass
class Platform:
    """Resources of one test deployment, plus the paths the tests look at."""

    home: Path
    blob: BlobStoreResource
    paths: PlatformPaths
    silver: SilverStore

    @property
    def resources(self) -> dict:
        return {
            "paths": self.paths,
            "blob_store": self.blob,
            "silver_store": self.silver,
            "silver_io_manager": SilverIOManager(store=self.silver, paths=self.paths),
            "gold_store": GoldStore(blob=self.blob, paths=self.paths),
            "warehouse": WarehouseResource(paths=self.paths),
        }

    @property
    def silver_root(self) -> Path:
        return Path(self.silver.spec().root)

    def land(self, folder: Path, prefix: str) -> None:
        """Upload a folder into the container under `<raw prefix><prefix>` (as an exporter would)."""
        with self.blob.open() as store:
            report = sync_up(store, folder, prefix="raw/" + prefix, log_dir=None)
        assert report.ok, report.failed


def make_platform(
    home: Path, *, connection_string: str = "", silver_backend: str = "local", config_path: str = "", workers: int = 2
) -> Platform:
    blob = BlobStoreResource(
        container=f"t{uuid.uuid4().hex[:16]}", connection_string=connection_string, local_root=str(home / "blobstore")
    )
    paths = PlatformPaths(home=str(home), config_path=config_path, workers=workers)
    silver = SilverStore(backend=silver_backend, root=str(home / "silver") if silver_backend == "local" else "silver/", blob=blob)
    return Platform(home, blob, paths, silver)


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return make_platform(tmp_path / "home")


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


@pytest.fixture(scope="session")
def sample_two_days(sample_data: Path, tmp_path_factory) -> Path:
    """The real exports of 2024-06-05 and 2024-06-20 only (keeps the suite fast)."""
    out = tmp_path_factory.mktemp("sample2")
    for day in SAMPLE_DAYS[:2]:
        rel = Path(day.replace("-", "/"))
        shutil.copytree(sample_data / rel, out / rel)
    return out
