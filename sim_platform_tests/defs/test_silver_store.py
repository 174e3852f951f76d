"""Storing computed silver (`core.silver.store.store_silver`, what the silver IO manager calls).

The compute step stages the encoded hour files of each day; the store publishes each day as one
unit: the requested modules are replaced (one without samples that day loses its old files), the
modules the run did not ask for are left alone, the day's quality report is merged into the stored
one, and nothing is left behind (staged files, staging folders, journals).
"""

import json
import pickle
from datetime import date
from pathlib import Path

from sim_platform.core.silver import quality
from sim_platform.core.silver.days import SilverDay, SilverDays
from sim_platform.core.silver.store import store_silver
from sim_platform.core.store.targets import TargetSpec

DAY = "2024-06-05"


def _report(modules: dict[str, int]) -> dict:
    """A quality report of DAY with `modules` (name -> distinct rows), one hour each."""
    return quality.report_from_entries(
        date.fromisoformat(DAY), sum(modules.values()), [(m, n, [0], {}) for m, n in modules.items()], {}
    )


def _day(staging: Path, files: dict[str, bytes], modules: list[str], report: dict) -> SilverDay:
    path = staging / f"{DAY}.share.pkl"
    path.write_bytes(pickle.dumps(list(files.items())))
    return SilverDay(DAY, modules, staged=[(str(path), modules)], report=report)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_rebuilt_day_replaces_its_requested_modules_as_one_unit(tmp_path: Path):
    silver, staging = tmp_path / "silver", tmp_path / "staging"
    staging.mkdir()
    spec = TargetSpec("local", str(silver))
    # an earlier run: three modules on DAY (module1 with hours 00 and 01)
    first = {
        "phase1_module1/2024/06/05/00.parquet": b"old m1 h0",
        "phase1_module1/2024/06/05/01.parquet": b"old m1 h1",
        "phase1_module2/2024/06/05/00.parquet": b"old m2 h0",
        "phase1_module3/2024/06/05/00.parquet": b"old m3 h0",
    }
    modules = ["phase1_module1", "phase1_module2", "phase1_module3"]
    old = _report({"phase1_module1": 10, "phase1_module2": 20, "phase1_module3": 30})
    assert store_silver(spec, SilverDays([_day(staging, first, modules, old)]), 2) == {DAY: 4}
    assert {k: v for k, v in _files(silver).items() if k.endswith(".parquet")} == first

    # a run over module1 and module2: module1 now has hour 00 only, module2 has no samples
    again = {"phase1_module1/2024/06/05/00.parquet": b"new m1 h0"}
    new = _report({"phase1_module1": 11})
    day = _day(staging, again, ["phase1_module1", "phase1_module2"], new)
    assert store_silver(spec, SilverDays([day, SilverDay("2024-06-06", ["phase1_module1"], status="skipped")]), 2) == {DAY: 1}

    stored = _files(silver)
    assert {k: v for k, v in stored.items() if k.endswith(".parquet")} == {
        "phase1_module1/2024/06/05/00.parquet": b"new m1 h0",  # replaced, and its stale hour 01 gone
        "phase1_module3/2024/06/05/00.parquet": b"old m3 h0",  # not requested: untouched
    }
    report = json.loads(stored["_quality/2024/06/05.json"])
    assert report["hierarchies"]["phase1_module1"]["distinct_rows"] == 11  # this run's
    assert report["hierarchies"]["phase1_module3"]["distinct_rows"] == 30  # the earlier run's, kept
    assert set(stored) == {
        "phase1_module1/2024/06/05/00.parquet",
        "phase1_module3/2024/06/05/00.parquet",
        "_quality/2024/06/05.json",
    }
    assert not [p for p in silver.iterdir() if p.name.startswith(".") and any(p.iterdir())]  # no staging, journal or trash left
    assert not list(staging.iterdir())  # the staged files are discarded once stored
