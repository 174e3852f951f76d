"""The telemetry reader against a plain-Python reading of the same file.

The reader numbers series by bit masks of tag pairs and deduplicates by dense tables; each test
here builds a file that drives one of its paths (one 64-bit word, many words, many payload types,
millisecond timestamps over a long span) and compares every distinct sample with what
`pyarrow.Table.to_pylist` and a Python set make of the same rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.ingest.rawdata import InputError
from sim_platform.core.ingest.telemetry import read_telemetry
from sim_platform_tests.core.telemetry_files import epoch, module_tags

T0 = epoch("2024-07-05T10:00:00")


def _write(path, ts, payloads, values, tags):
    table = pa.table(
        {
            "timestamp": pa.array(ts, pa.int64()),
            "payload_type": pa.array(payloads, pa.string()),
            "value": pa.array(values, pa.string()),
            "tags": pa.array(tags, pa.list_(pa.list_(pa.string()))),
        }
    )
    pq.write_table(table, path)
    return path


def _expected(path) -> set:
    """Distinct (payload, tags, ms, value) of the file, read row by row in Python."""
    out = set()
    for r in pq.read_table(path).to_pylist():
        ts = r["timestamp"] * (1000 if r["timestamp"] < 100_000_000_000 else 1)
        out.add((r["payload_type"], tuple(tuple(p) for p in r["tags"]), ts, float(r["value"])))
    return out


def _read(path) -> set:
    batch = read_telemetry(path, default_catalog())
    rows = zip(batch.num_sid.tolist(), batch.num_ts.tolist(), batch.num_val.tolist())
    got = [(batch.series[s][0], batch.series[s][1], t, v) for s, t, v in rows]
    assert len(got) == len(set(got)), "the reader kept a duplicate"
    return set(got)


def _rows(rng, n, payloads, tag_sets, seconds, ms=False):
    """n rows drawn from the payloads and tag sets, each written 1-4 times in shuffled order."""
    base = [
        (
            T0 * (1000 if ms else 1) + int(rng.integers(0, seconds * (1000 if ms else 1))),
            payloads[int(rng.integers(len(payloads)))],
            f"{rng.integers(0, 50) / 4:.2f}",
            tag_sets[int(rng.integers(len(tag_sets)))],
        )
        for _ in range(n)
    ]
    rows = [r for r in base for _ in range(int(rng.integers(1, 5)))]
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]


@pytest.mark.parametrize(
    "case, n_payloads, n_pairs, ms, seconds",
    [
        ("one word: the plant's usual file", 14, 30, False, 900),
        ("many words: more distinct tag pairs than 63", 5, 150, False, 900),
        ("tag bits and payload overflow one word", 600, 60, False, 900),
        ("milliseconds over a week: deduplication by hashing", 3, 12, True, 7 * 86_400),
    ],
)
def test_every_distinct_sample_and_its_series(tmp_path, case, n_payloads, n_pairs, ms, seconds):
    rng = np.random.default_rng(n_pairs)
    payloads = [f"module_voltage_{i}" for i in range(n_payloads)]
    pairs = [[f"k{i % 7}", f"v{i}"] for i in range(n_pairs)]
    tag_sets = [
        module_tags(1 + i % 3, 1 + i % 8, *[tuple(pairs[j]) for j in rng.choice(n_pairs, 3, replace=False)]) for i in range(40)
    ]
    tag_sets.append([])  # a row without tags is a series of its own
    path = _write(tmp_path / "export.parquet", *_rows(rng, 4000, payloads, tag_sets, seconds, ms))
    assert _read(path) == _expected(path)


def test_the_same_tags_in_another_order_are_the_same_series(tmp_path):
    """Tags are a set: a row that lists them in another order repeats the series (and here the
    sample), and the series keeps the order of its first row."""
    a, b = module_tags(1, 1), list(reversed(module_tags(1, 1)))
    path = _write(tmp_path / "x.parquet", [T0, T0, T0], ["module_voltage"] * 3, ["1.0", "1.0", "2.0"], [a, b, a])
    batch = read_telemetry(path, default_catalog())
    assert batch.series == [("module_voltage", tuple(map(tuple, a)))]
    assert sorted(batch.num_val.tolist()) == [1.0, 2.0]


@pytest.mark.parametrize("n_pairs", [10, 150], ids=["one word", "many words"])
def test_a_tag_given_twice_in_one_row_is_refused_or_kept_apart(tmp_path, n_pairs):
    """One word: the row is refused with the file named. Many words: the row with the repeated pair
    is its own series (its pair count differs), so nothing is merged away."""
    others = [module_tags(2, 1 + i % 8, ("cell", str(i))) for i in range(n_pairs)]
    twice = [["phase", "1"], ["phase", "1"], ["module", "3"]]
    once = [["phase", "1"], ["module", "3"]]
    n = len(others) + 2
    path = _write(tmp_path / "twice.parquet", [T0] * n, ["module_voltage"] * n, ["1.0"] * n, [*others, twice, once])
    if n_pairs < 63:
        with pytest.raises(InputError, match="twice.parquet.*the same tag is given twice"):
            read_telemetry(path, default_catalog())
    else:
        series = read_telemetry(path, default_catalog()).series
        assert ("module_voltage", tuple(map(tuple, twice))) in series
        assert ("module_voltage", tuple(map(tuple, once))) in series


def test_each_file_keeps_its_own_tag_order_whatever_was_read_before(tmp_path):
    """Decoded tag sets are shared between the files a process reads; a file must still get the
    order its own rows give, or the day's series would depend on which worker read what."""
    a, b = module_tags(1, 1), list(reversed(module_tags(1, 1)))
    first = _write(tmp_path / "a.parquet", [T0], ["module_voltage"], ["1.0"], [a])
    second = _write(tmp_path / "b.parquet", [T0], ["module_voltage"], ["1.0"], [b])
    for order in ([first, second], [second, first]):
        got = {p.name: read_telemetry(p, default_catalog()).series for p in order}
        assert got == {
            "a.parquet": [("module_voltage", tuple(map(tuple, a)))],
            "b.parquet": [("module_voltage", tuple(map(tuple, b)))],
        }
