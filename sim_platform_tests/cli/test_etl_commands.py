"""The command line as a user runs it: a real process, real files, a real PNG."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image

from sim_platform.core.store.publish import write_bytes_atomic
from sim_platform_tests.core.telemetry_files import MASTER, epoch, module_tags, write_export


def run(*args, cwd=None):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "sim_platform", *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.fixture
def small_input(tmp_path):
    rows = []
    for s in range(0, 3600 * 3, 7):
        t = epoch("2024-07-05T09:00:00") + s
        rows += [
            (t, "module_voltage", f"{50 + s / 10000:.3f}", module_tags(1, 3)),
            (t, "module_state_of_charge", f"{0.5 + s / 100000:.4f}", module_tags(1, 3)),
            (t, "system_state", "RUN" if s % 1400 < 700 else "IDLE", [MASTER]),
        ]
    write_export(tmp_path / "in/2024/07/05/x.parquet", rows * 2)
    return tmp_path


def test_etl_then_plot(small_input):
    out = small_input / "out"
    res = run("etl", "--input", str(small_input / "in"), "--output", str(out), "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert "days: 1 (1 written)  raw rows: 9,258  distinct rows: 4,629  files written: 6" in res.stdout
    assert "100%" in res.stderr  # the tqdm bar ran to the end
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet")) == [
        f"{h}/2024/07/05/{hh}.parquet" for h in ("phase1_module3", "system") for hh in ("09", "10", "11")
    ]

    png = small_input / "fig.png"
    res = run("plot", "--silver", str(out), "--phase-module", "phase1_module3", "--day", "2024-07-05", "--to", str(png))
    assert res.returncode == 0, res.stderr
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width >= 800 and img.height >= 400
        assert len(img.convert("L").getcolors(256)) > 10  # something was drawn


def test_plot_of_missing_day_is_a_clear_error(tmp_path):
    res = run(
        "plot",
        "--output",
        str(tmp_path),
        "--phase-module",
        "phase1_module3",
        "--day",
        "2024-07-05",
        "--to",
        str(tmp_path / "x.png"),
    )
    assert res.returncode == 2 and "no hour files under" in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_generate_command(tmp_path):
    res = run("generate", "--runs", "1", "--days", "1", "--out", str(tmp_path / "g"), "--seed", "3", "--format", "hdf5")
    assert res.returncode == 0 and "wrote 1 hdf5 files" in res.stdout
    assert (tmp_path / "g/run_01/sample_01.h5").stat().st_size > 1_000_000


def test_atomic_write_leaves_old_file_or_new_never_partial(tmp_path):
    target = tmp_path / "d" / "00.parquet"
    write_bytes_atomic(target, b"old")

    with pytest.raises(TypeError):
        write_bytes_atomic(target, object())  # fails mid-write
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["00.parquet"]


def test_the_legend_of_a_many_series_panel_stays_beside_it():
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pyarrow as pa

    from sim_platform.core.gold.plots import draw_day

    cols = [f"cell_voltage_battery1_cell{i}" for i in range(1, 15)]
    ts = pa.array(np.arange(720, dtype="int64") * 5_000_000_000, pa.timestamp("ns"))
    table = pa.table({"timestamp": ts, **{c: np.full(720, 3.6 + i / 100) for i, c in enumerate(cols)}})
    meta = {"columns": {c: {"payload_type": "cell_voltage", "unit": "V", "kind": "numeric"} for c in cols}}
    fig = draw_day(table, meta, "cells")
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()][:2] == ["battery1_cell1", "battery1_cell2"]
    box, panel = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= panel.x1  # beside the panel: it hides none of its lines
    assert box.x1 <= fig.bbox.x1 + 1  # and inside the picture
