"""The output contract on the real 4-day sample, checked against an independent pandas oracle."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.etl import run_etl
from sim_platform.core.silver.validate import validate_table

DAY = date(2024, 6, 5)


@pytest.fixture(scope="module")
def etl_out(sample_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample_out")
    summary = run_etl(sample_data, out, workers=2)
    assert summary.ok, summary.failures
    return out, summary


@pytest.fixture(scope="module")
def raw_day(sample_data) -> pd.DataFrame:
    """The raw rows of DAY, distinct, with tags as plain dicts: the oracle's input."""
    files = sorted((sample_data / f"{DAY:%Y/%m/%d}").glob("*.parquet"))
    frame = pa.concat_tables(
        [pq.read_table(f, columns=["timestamp", "payload_type", "value", "tags"]) for f in files]
    ).to_pandas()
    frame["tags"] = frame["tags"].map(lambda t: tuple(tuple(p) for p in t))
    frame = frame.drop_duplicates(["timestamp", "payload_type", "value", "tags"])
    frame["tagd"] = frame["tags"].map(dict)
    return frame


def oracle_column(payload: str, tags: dict) -> tuple[str, str]:
    """Hierarchy and column, written out plainly from the contract's wording."""
    if "phase" in tags and "module" in tags:
        h = f"phase{tags['phase']}_module{tags['module']}"
    elif "phase" in tags:
        h = f"phase{tags['phase']}"
    else:
        h = "system"
    name = payload
    for key in ("battery", "cell", "sensor"):
        if key in tags:
            name += f"_{key}{tags[key]}"
    if "debug_value_key" in tags:
        name += f"_{tags['debug_value_key']}"
    return h, name


def oracle_module_day(raw: pd.DataFrame, phase: str, module: str) -> pd.DataFrame:
    """5-second table of one module by the plain definition: mean per bin, then a fill loop."""
    cat = default_catalog()
    sel = raw[raw["tagd"].map(lambda t: t.get("phase") == phase and t.get("module") == module)]
    day0 = pd.Timestamp(DAY, tz="UTC")
    grid = pd.date_range(day0, periods=17280, freq="5s")
    out = {}
    for (payload, tags), g in sel.groupby(["payload_type", "tags"]):
        _, col = oracle_column(payload, dict(tags))
        limit = cat.signals[payload].fill_limit_s
        ts = pd.to_datetime(g["timestamp"], unit="s", utc=True)
        bins = ts.dt.floor("5s")
        keys = bins.dt.tz_convert(None).to_numpy()
        mean = g["value"].astype(float).groupby(keys).mean()
        last = ts.dt.tz_convert(None).groupby(keys).max()
        values = np.full(len(grid), np.nan)
        cur, cur_last = np.nan, None
        lookup = dict(zip(mean.index, zip(mean.values, last.values)))
        for i, t in enumerate(grid):
            hit = lookup.get(t.tz_convert(None).to_datetime64())
            if hit is not None:
                cur, cur_last = hit[0], pd.Timestamp(hit[1]).tz_localize("UTC")
                values[i] = cur
            elif cur_last is not None and t < cur_last + pd.Timedelta(seconds=limit):
                values[i] = cur
        out[col] = values
    return pd.DataFrame(out, index=grid)


def read_day(root, hierarchy: str) -> pd.DataFrame:
    files = sorted((root / hierarchy / f"{DAY:%Y/%m/%d}").glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pandas().set_index("timestamp")


@pytest.mark.parametrize("phase, module", [("1", "3"), ("3", "8")])
def test_module_values_match_the_oracle(etl_out, raw_day, phase, module):
    got = read_day(etl_out[0], f"phase{phase}_module{module}")
    want = oracle_module_day(raw_day, phase, module)
    want = want.loc[want.index.isin(got.index)]
    assert len(got) % 720 == 0 and len(want) == len(got)
    for col in want.columns:
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12, equal_nan=True, err_msg=col)


def test_hour_files_exist_exactly_where_raw_samples_are(etl_out, raw_day):
    expected = set()
    for payload, tags, ts in zip(raw_day["payload_type"], raw_day["tagd"], raw_day["timestamp"]):
        h, _ = oracle_column(payload, tags)
        expected.add(f"{h}/{datetime.fromtimestamp(ts, tz=UTC):%Y/%m/%d/%H}.parquet")
    root = etl_out[0]
    got = {p.relative_to(root).as_posix() for p in root.rglob(f"*/{DAY:%Y/%m/%d}/*.parquet")}
    assert got == expected


def test_all_distinct_samples_land(etl_out):
    _, summary = etl_out
    by_day = {d.day.isoformat(): (d.raw_rows, d.distinct_rows) for d in summary.days}
    # figures measured independently in shared/data/README.md
    assert by_day["2024-07-05"] == (5_525_912, 1_249_196)
    assert sum(r for r, _ in by_day.values()) == 10_025_665


def test_every_file_is_720_rows_on_the_grid(etl_out):
    root = etl_out[0]
    files = sorted(root.rglob("*.parquet"))
    assert len(files) > 2000
    for f in files:
        ts = pq.read_table(f, columns=["timestamp"]).column("timestamp").to_numpy().astype("datetime64[s]").astype(np.int64)
        start = int(datetime(*map(int, f.relative_to(root).parts[1:4]), int(f.stem), tzinfo=UTC).timestamp())
        assert np.array_equal(ts, start + 5 * np.arange(720)), f
    assert not list(root.rglob(".*")), "temporary files left behind"


@pytest.mark.parametrize("hierarchy", ["phase1_module3", "phase2", "system"])
def test_hour_files_pass_the_pandera_schema(etl_out, hierarchy):
    root = etl_out[0]
    files = sorted((root / hierarchy / f"{DAY:%Y/%m/%d}").glob("*.parquet"))
    assert files
    for f in files:
        validate_table(pq.read_table(f), default_catalog(), hierarchy)


def test_rerun_is_byte_identical_and_independent_of_workers(etl_out, sample_data, tmp_path):
    root, _ = etl_out
    again = run_etl(sample_data, tmp_path, workers=1)
    assert again.ok

    def digests(base):
        return {p.relative_to(base).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in base.rglob("*.parquet")}

    assert digests(tmp_path) == digests(root)
