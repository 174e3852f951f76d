"""The last days of a parallel run are finished by every worker at once (a share of the day's
hierarchies each, published by the parent as one unit). What they write must be exactly what one
worker writes: the same hour files, byte for byte, and the same quality report."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from sim_platform.core.config.pipelines import default_catalog, packaged_pipelines
from sim_platform.core.etl import run_etl
from sim_platform.core.etl_day import hierarchy_groups
from sim_platform.core.ingest.plan import plan_inputs
from sim_platform.core.ingest.read import read_day


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "_manifest" not in p.parts
    }


def test_a_day_split_over_two_workers_is_the_day_one_worker_writes(rare_exports, tmp_path):
    days = sorted({p.parent for p in rare_exports.rglob("*.parquet")})
    one_day = days[len(days) // 2]  # a rare day: new states, glitches, unknown series, drifted files
    one, two = tmp_path / "one", tmp_path / "two"
    a = run_etl(one_day, one, workers=1)
    b = run_etl(one_day, two, workers=2)  # a run of one day: read in chunks, then split
    assert a.ok and b.ok and len(a.days) == len(b.days) == 1
    assert _files(one) == _files(two) and len(_files(one)) > 600
    assert a.days[0].quality == b.days[0].quality
    assert sorted(a.days[0].files_written) == b.days[0].files_written
    assert sorted(a.days[0].hierarchies) == b.days[0].hierarchies
    assert not list(two.glob(".staging/*")) and not list(two.glob(".journal/*"))


def test_hierarchy_groups_cover_every_series_once_and_balance_the_samples(rare_exports):
    catalog = default_catalog()
    plan = plan_inputs(rare_exports, catalog, packaged_pipelines().source_formats())
    day, files = sorted(plan.by_day().items())[0]
    batch, errors = read_day(files, day, catalog)
    assert not errors
    groups = hierarchy_groups(batch, catalog, 2)
    assert len(groups) == 2
    ids = np.concatenate(groups)
    assert sorted(ids.tolist()) == list(range(len(batch.series)))  # each series in exactly one group
    hierarchy = [catalog.place(p, t).hierarchy for p, t in batch.series]
    owners = [{hierarchy[i] for i in g} for g in groups]
    assert not owners[0] & owners[1]  # a hierarchy is never split between workers
    samples = np.bincount(batch.num_sid, minlength=len(hierarchy)) + np.bincount(batch.txt_sid, minlength=len(hierarchy))
    loads = [int(samples[g].sum()) for g in groups]
    assert max(loads) <= 1.2 * min(loads), loads


def test_a_structural_break_in_one_workers_share_fails_the_whole_day(rare_exports, tmp_path, monkeypatch):
    """One worker's share of a split day breaks the hour-file contract (a resampler bug that breaks
    the 5 s grid of one hierarchy): the day fails as a unit, with the reason in one line; not one
    hierarchy of it is replaced (the other worker's share was staged, and is dropped), and no
    staging or journal is left behind."""
    from sim_platform.core.silver import build as build_module

    days = sorted({p.parent for p in rare_exports.rglob("*.parquet")})
    one_day = days[len(days) // 2]
    out = tmp_path / "out"
    assert run_etl(one_day, out, workers=2).ok
    before = _files(out)
    real = build_module.resample_day

    def broken(batch, day_start_ms, catalog):  # in the worker that gets phase1_module1
        tables = real(batch, day_start_ms, catalog)
        for hd in tables:
            if hd.hierarchy == "phase1_module1":
                hd.table = hd.table.set_column(0, "timestamp", hd.table.column(0).take(np.r_[1 : len(hd.table), 0]))
        return tables

    monkeypatch.setattr(build_module, "resample_day", broken)  # the workers are forked: they see it too
    summary = run_etl(one_day, out, workers=2, force=True)
    (day,) = summary.days
    assert not day.written and len(day.failures) == 1
    assert day.failures[0].startswith(f"day {day.day}: not written: StructuralError: phase1_module1: timestamp:")
    assert len(day.failures[0]) <= 300
    assert _files(out) == before  # the day exactly as it was
    assert not list(out.glob(".staging/*")) and not list(out.glob(".journal/*"))
