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
    from sim_platform.core.synth.generate import generate

    out = tmp_path_factory.mktemp("runs")
    generate(out, runs=2, days=1, seed=5, fmt="hdf5")
    return out


@pytest.fixture(scope="session")
def generated_exports(tmp_path_factory) -> Path:
    """Two one-day runs of telemetry exports from the generator, seed 5."""
    from sim_platform.core.synth.generate import generate

    out = tmp_path_factory.mktemp("exports")
    generate(out, runs=2, days=1, seed=5, fmt="telemetry")
    return out


#: every kind of rare injection (states, glitches, NaN, both new payloads, the new tag key and all six
#: drift kinds) appears in these 8 days of the generator (2024-07-01 ...); tests rely on it
RARE_SEED, RARE_DAYS = 931, 8


@pytest.fixture(scope="session")
def rare_exports(tmp_path_factory) -> Path:
    """Eight days of telemetry exports with the plant's rare behaviour, and `injected.json`."""
    from sim_platform.core.synth.generate import generate

    out = tmp_path_factory.mktemp("rare_exports")
    generate(out, runs=1, days=RARE_DAYS, seed=RARE_SEED, fmt="telemetry", rare=True, workers=2)
    return out
