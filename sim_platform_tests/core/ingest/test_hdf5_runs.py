"""The HDF5 run layout: what the generator writes is readable by plain h5py, h5dump and the ETL."""

from __future__ import annotations

import json
import shutil
import subprocess

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.etl import run_etl
from sim_platform.core.ingest.hdf5_runs import SCHEMA_VERSION, read_run_file, write_run_file
from sim_platform.core.ingest.rawdata import InputError


def test_layout_with_plain_h5py(generated_runs):
    path = generated_runs / "run_01" / "sample_01.h5"
    with h5py.File(path, "r") as f:
        assert f.attrs["layout"] == "sim_platform.run"
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        assert f.attrs["time_unit"] == "ms" and f.attrs["run_id"] == "run_01"
        groups = f["series"]
        assert len(groups) == f.attrs["series_count"]
        g = groups["phase1_module3__cell_voltage_battery1_cell3"]
        assert g.attrs["payload_type"] == "cell_voltage" and g.attrs["unit"] == "V"
        assert json.loads(g.attrs["tags"])[:2] == [["phase", "1"], ["module", "3"]]
        ts = g["timestamp"]
        assert ts.dtype == np.int64 and ts.chunks and ts.compression == "gzip"
        assert np.all(np.diff(ts[()]) >= 0)
        assert f.attrs["start_ms"] <= ts[0] and ts[-1] < f.attrs["end_ms"]
        state = groups["system__system_state"]["value"]
        assert h5py.check_string_dtype(state.dtype).encoding == "utf-8"


def test_h5dump_reads_the_layout(generated_runs):
    h5dump = shutil.which("h5dump")
    assert h5dump, "h5dump missing: install Debian package hdf5-tools (.ci/run does)"
    out = subprocess.run(
        [h5dump, "-H", str(generated_runs / "run_01" / "sample_01.h5")], capture_output=True, text=True, check=True
    ).stdout
    assert 'ATTRIBUTE "schema_version"' in out and 'GROUP "phase2_module5__module_voltage"' in out
    assert "H5T_STD_I64LE" in out


def test_roundtrip_of_a_small_file(tmp_path):
    cat = default_catalog()
    tags = (("phase", "1"), ("module", "2"), ("message_source", "master"))
    ts = np.array([0, 1000, 1000, 2000], np.int64) + 1_720_000_000_000
    write_run_file(
        tmp_path / "run_01/s.h5",
        [
            ("module_voltage", tags, ts, np.array([1.0, 2.0, 2.0, 3.0])),
            ("system_state", (("message_source", "master"),), ts[:2], np.array(["IDLE", "RUN"], object)),
        ],
        cat,
        int(ts[0]),
        int(ts[-1]) + 1,
    )
    b = read_run_file(tmp_path / "run_01/s.h5", cat)
    assert b.series == [("module_voltage", tags), ("system_state", (("message_source", "master"),))]
    assert b.raw_rows == 6 and list(b.num_val) == [1.0, 2.0, 3.0]  # the adjacent duplicate is gone
    assert list(b.txt_val) == ["IDLE", "RUN"]
    assert not list(tmp_path.rglob(".*"))


def test_timestamps_outside_declared_range_are_refused(tmp_path):
    cat = default_catalog()
    ts = np.array([1_720_000_000_000, 1_720_000_005_000], np.int64)
    write_run_file(
        tmp_path / "r/s.h5",
        [("module_voltage", (("phase", "1"), ("module", "1")), ts, np.ones(2))],
        cat,
        int(ts[0]),
        int(ts[0]) + 1,
    )
    with pytest.raises(InputError, match="outside the file's"):
        read_run_file(tmp_path / "r/s.h5", cat)


def test_runs_and_telemetry_of_one_seed_give_the_same_output(generated_runs, generated_exports, tmp_path):
    """The two input formats carry the same samples, so the ETL must produce identical hour files."""
    a = run_etl(generated_runs, tmp_path / "out_h5")
    b = run_etl(generated_exports, tmp_path / "out_tel")
    assert a.ok and b.ok and a.totals()["distinct_rows"] == b.totals()["distinct_rows"] > 2_000_000
    files = sorted(p.relative_to(tmp_path / "out_h5") for p in (tmp_path / "out_h5").rglob("*.parquet"))
    assert len(files) == 2 * 28 * 24
    assert files == sorted(p.relative_to(tmp_path / "out_tel") for p in (tmp_path / "out_tel").rglob("*.parquet"))
    for rel in files[::23]:
        assert pq.read_table(tmp_path / "out_h5" / rel).equals(pq.read_table(tmp_path / "out_tel" / rel)), rel
