"""Incremental reruns: a day is recomputed only when its inputs or the configuration changed."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import yaml

from sim_platform.core.config.pipelines import load_pipelines
from sim_platform.core.etl import run_etl
from sim_platform_tests.core.tabular_files import PACKAGED
from sim_platform_tests.core.telemetry_files import MASTER, epoch, module_tags, write_export

DAYS = ("2024-07-01", "2024-07-02", "2024-07-03")


def _inputs(root: Path) -> Path:
    for i, day in enumerate(DAYS):
        for hour in (4, 12):
            rows = [
                (epoch(f"{day}T{hour:02d}:00:00") + s, "module_voltage", f"{50 + i + s / 1e4:.4f}", module_tags(1, 2))
                for s in range(0, 3600, 10)
            ]
            rows += [(epoch(f"{day}T{hour:02d}:00:00") + s, "system_state", "RUN", [MASTER]) for s in range(0, 3600, 30)]
            write_export(root / day.replace("-", "/") / f"export-{day}-{hour:02d}.parquet", rows)
    return root


def _digests(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.relative_to(out).as_posix().startswith("_manifest")
    }


def _written(summary) -> list[str]:
    return sorted(d.day.isoformat() for d in summary.days if d.written)


def test_a_rerun_skips_unchanged_days_and_redoes_exactly_the_changed_ones(tmp_path):
    src, out = _inputs(tmp_path / "in"), tmp_path / "out"
    first = run_etl(src, out, workers=2)
    assert _written(first) == list(DAYS) and first.ok
    before = _digests(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}

    again = run_etl(src, out, workers=2)
    assert _written(again) == [] and [d.unchanged for d in again.days] == [True] * 3
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == mtimes  # not one file rewritten

    # a copied or touched file (new modification time, same bytes) is no change
    touched = src / "2024/07/02/export-2024-07-02-04.parquet"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert _written(run_etl(src, out, workers=1)) == []

    # one new file for one day: that day alone is recomputed, and equals a clean run
    write_export(
        src / "2024/07/02/export-2024-07-02-late.parquet",
        [(epoch("2024-07-02T20:00:00") + s, "module_voltage", "51.5", module_tags(1, 2)) for s in range(0, 600, 5)],
    )
    third = run_etl(src, out, workers=2)
    assert _written(third) == ["2024-07-02"] and sum(d.unchanged for d in third.days) == 2
    clean = tmp_path / "clean"
    run_etl(src, clean, workers=1)
    assert _digests(out) == _digests(clean) and _digests(out) != before

    # the same size with other bytes is a change (here a corrupted byte: the day is tried, and fails)
    keep = tmp_path / "keep.parquet"
    shutil.copy(touched, keep)
    data = bytearray(touched.read_bytes())
    data[len(data) // 2] ^= 0xFF
    touched.write_bytes(bytes(data))
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 2 * 10**9))
    day2 = next(d for d in run_etl(src, out, workers=1).days if d.day.isoformat() == "2024-07-02")
    assert not day2.unchanged
    shutil.copy(keep, touched)  # the original bytes back, under a new modification time: no change
    assert _written(run_etl(src, out, workers=1)) == [] and _digests(out) == _digests(clean)

    # --force recomputes everything
    assert _written(run_etl(src, out, workers=2, force=True)) == list(DAYS)


def test_another_configuration_recomputes_every_day(tmp_path):
    src, out = _inputs(tmp_path / "in"), tmp_path / "out"
    run_etl(src, out, workers=1)
    raw = yaml.safe_load(PACKAGED.read_text())
    raw["catalog"]["signals"]["module_voltage"]["fill_limit_s"] = 30
    cfg = tmp_path / "pipelines.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert _written(run_etl(src, out, workers=1, pipes=load_pipelines(cfg))) == list(DAYS)
    assert _written(run_etl(src, out, workers=1, pipes=load_pipelines(cfg))) == []


def test_a_removed_input_file_recomputes_its_day(tmp_path):
    src, out = _inputs(tmp_path / "in"), tmp_path / "out"
    run_etl(src, out, workers=1)
    (src / "2024/07/03/export-2024-07-03-12.parquet").unlink()
    summary = run_etl(src, out, workers=1)
    assert _written(summary) == ["2024-07-03"]
    assert not (out / "phase1_module2/2024/07/03/12.parquet").exists()  # the hour only that file fed is gone
