"""Fixtures shared by all tests: the real sample exports, generated runs, hand-made inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def sample_dir() -> Path:
    """The real 4-day sample (`../shared/data/telemetry` beside the repo, or SIM_PLATFORM_SAMPLE_DATA)."""
    path = Path(os.environ.get("SIM_PLATFORM_SAMPLE_DATA", REPO.parent / "shared" / "data" / "telemetry"))
    if not path.is_dir():
        pytest.fail(f"sample data not found at {path}: put shared/ beside the repo or set SIM_PLATFORM_SAMPLE_DATA")
    return path


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return sample_dir()


@pytest.fixture(scope="session")
def generated_runs(tmp_path_factory) -> Path:
    """Two one-day HDF5 runs (2024-07-01, 2024-07-02) from the generator, seed 5."""
    from sim_platform.core.generate import generate

    out = tmp_path_factory.mktemp("runs")
    generate(out, runs=2, days=1, seed=5, fmt="hdf5")
    return out


@pytest.fixture(scope="session")
def generated_exports(tmp_path_factory) -> Path:
    """Two one-day runs of telemetry exports from the generator, seed 5."""
    from sim_platform.core.generate import generate

    out = tmp_path_factory.mktemp("exports")
    generate(out, runs=2, days=1, seed=5, fmt="telemetry")
    return out
