"""Eight generated days with everything the real plant does and the sample never shows (new and
fault states, glitches, NaN, new payloads and tag keys, exporter schema drift): every day lands, and
each day's report counts exactly what the generator injected (`injected.json`)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sim_platform.cli import main
from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.synth.generate import MANIFEST


@pytest.fixture(scope="module")
def landed(rare_exports, tmp_path_factory):
    out = tmp_path_factory.mktemp("rare_out")
    import contextlib
    import io

    buf_out, buf_err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
        code = main(["etl", "--input", str(rare_exports), "--output", str(out), "--workers", "2"])
    return out, code, buf_out.getvalue(), buf_err.getvalue(), json.loads((rare_exports / MANIFEST).read_text())


def test_every_day_lands_and_every_line_is_short(landed):
    out, code, stdout, stderr, injected = landed
    assert code == 0, stdout
    assert "days: 8 (8 written)" in stdout
    assert max(len(line) for line in (stdout + stderr).splitlines()) <= 300
    drift = Counter(kind for day in injected["days"].values() for kind in day["drift"].values())
    assert set(drift) == {"value_double", "tags_map", "timestamp_ms", "timestamp_type", "extra_column", "pandas_index"}


def _per_name(section: dict) -> Counter:
    got = Counter()
    for key, n in section.items():
        got[key.split("/", 1)[1]] += n
    return got


def test_reports_count_exactly_what_was_injected(landed):
    out, _, stdout, _, injected = landed
    state = default_catalog().signals["system_state"]
    kinds = Counter()
    for day, inj in injected["days"].items():
        report = json.loads((out / "_quality" / f"{day.replace('-', '/')}.json").read_text())
        values = inj["text_values"].get("system_state", {})
        new = {v: n for v, n in values.items() if v not in state.known_values}
        faults = {v: n for v, n in values.items() if v in state.fault_values}
        assert report["new_text_values"].get("system/system_state", {}) == new, day
        assert report["fault_values"].get("system/system_state", {}) == faults, day
        assert {k: e["count"] for k, e in report["out_of_range"].items()} == inj["out_of_range"], day
        assert all(e["action"] == "null" and e["files"] for e in report["out_of_range"].values())
        assert {k: e["count"] for k, e in report["non_finite"].items()} == inj["non_finite"], day
        assert _per_name(report["unknown_payloads"]) == Counter(inj["unknown_payloads"]), day
        assert _per_name(report["unknown_tag_keys"]) == Counter(inj["unknown_tag_keys"]), day
        assert report["outside_plant"] == {}
        for kind in ("out_of_range", "non_finite", "unknown_payloads", "unknown_tag_keys"):
            kinds[kind] += bool(inj[kind])
        kinds["new_text_values"] += bool(new)
        kinds["faults"] += bool(faults)
    assert all(
        kinds[k] for k in ("out_of_range", "non_finite", "unknown_payloads", "unknown_tag_keys", "new_text_values", "faults")
    )
    assert "new text values in system_state" in stdout and "fault states in system_state" in stdout


def test_the_operator_finds_the_fault_days(landed, capsys):
    out, _, _, _, injected = landed
    assert main(["quality", "--output", str(out)]) == 0
    listed = capsys.readouterr().out
    for day, inj in injected["days"].items():
        faulty = any(v in ("ERROR", "EMERGENCY") for v in inj["text_values"].get("system_state", {}))
        if faulty:
            line = next(ln for ln in listed.splitlines() if ln.startswith(f"{day}: "))
            assert "faults: " in line
