"""Configured sources end to end through the CLI: a CSV and a JSON source added by configuration
alone give exactly the silver output of the parquet export they were made from; the configuration
is validated with errors that name the file and the entry; bad tabular files are named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim_platform.cli import main
from sim_platform.core.config.pipelines import ConfigError, default_catalog, load_pipelines
from sim_platform.core.config.sources import SourceFormat
from sim_platform.core.ingest.plan import plan_inputs
from sim_platform_tests.core.tabular_files import (
    CSV_COLUMNS,
    JSON_COLUMNS,
    export_to_csv,
    export_to_json_lines,
    pipelines_with,
)
from sim_platform_tests.defs.helpers import tree_digest


@pytest.fixture(scope="module")
def exports(generated_exports: Path, tmp_path_factory) -> list[Path]:
    """Six exports of 2024-07-01, as parquet in their own folder."""
    out = tmp_path_factory.mktemp("pq")
    picked = sorted(generated_exports.rglob("*2024-07-01*.parquet"))[:6]
    for f in picked:
        shutil.copy(f, out / f.name)
    return sorted(out.iterdir())


@pytest.fixture(scope="module")
def parquet_silver(exports: list[Path], tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("silver_pq")
    assert main(["etl", "--input", str(exports[0].parent), "--output", str(out), "--workers", "1"]) == 0
    return out


def _tabular_sources(tmp_path: Path, exports: list[Path]) -> Path:
    """Half the exports as CSV, half as JSON Lines, each in its own folder, and a pipelines file."""
    for f in exports[:3]:
        export_to_csv(f, tmp_path / "scada" / f"{f.stem}.csv")
    for f in exports[3:]:
        export_to_json_lines(f, tmp_path / "historian" / "2024" / f"{f.stem}.jsonl")
    return pipelines_with(
        tmp_path / "conf" / "pipelines.yaml",
        {
            "scada_csv": {"kind": "csv", "location": {"folder": "../scada"}, "columns": CSV_COLUMNS},
            "historian_json": {"kind": "json", "location": {"folder": "../historian"}, "columns": JSON_COLUMNS},
        },
        keep_defaults=False,
    )


def test_csv_and_json_sources_equal_the_parquet_export(tmp_path, exports, parquet_silver, capsys):
    config = _tabular_sources(tmp_path, exports)
    out = tmp_path / "silver"
    # no --input: the CLI reads every configured source at its own location
    assert main(["etl", "--config", str(config), "--output", str(out), "--workers", "2"]) == 0
    assert tree_digest(out, "*.parquet") == tree_digest(parquet_silver, "*.parquet")
    assert "6 input files over 1 UTC days" in capsys.readouterr().err

    # one source at a time gives its own part; both together again the whole
    only_csv = tmp_path / "only_csv"
    assert main(["etl", "--config", str(config), "--source", "scada_csv", "--output", str(only_csv)]) == 0
    assert 0 < len(tree_digest(only_csv, "*.parquet")) <= len(tree_digest(out, "*.parquet"))


def test_same_rows_from_two_sources_count_once(tmp_path, exports, parquet_silver):
    config = pipelines_with(
        tmp_path / "pipelines.yaml",
        {"scada_csv": {"kind": "csv", "location": {"folder": "scada"}, "columns": CSV_COLUMNS}},
    )
    mixed = tmp_path / "mixed"
    for f in exports:
        shutil.copy(f, mixed / f.name) if mixed.exists() else (mixed.mkdir(), shutil.copy(f, mixed / f.name))
        export_to_csv(f, mixed / "csv" / f"{f.stem}.csv")  # the same rows again, as CSV
    out = tmp_path / "silver"
    assert main(["etl", "--config", str(config), "--input", str(mixed), "--output", str(out)]) == 0
    assert tree_digest(out, "*.parquet") == tree_digest(parquet_silver, "*.parquet")


def test_a_file_belongs_to_the_first_source_that_claims_it(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("scada_1.csv", "other.csv", "x.parquet", "notes.txt"):
        (tmp_path / "a" / name).write_text("time,signal,reading,labels\n2024-07-01T00:00:00Z,p,1,phase=1\n")
    cols = load_pipelines(
        pipelines_with(
            tmp_path / "p.yaml",
            {
                "scada": {"kind": "csv", "location": {"folder": "a"}, "pattern": "scada_*.csv", "columns": CSV_COLUMNS},
                "everything_csv": {"kind": "csv", "location": {"folder": "a"}, "columns": CSV_COLUMNS},
            },
            keep_defaults=False,
        )
    ).source_formats()
    plan = plan_inputs(tmp_path / "a", default_catalog(), cols)
    assert {f.path.name: f.source.name for f in plan.files} == {"scada_1.csv": "scada", "other.csv": "everything_csv"}
    assert sorted(p.name for p in plan.ignored) == ["notes.txt", "x.parquet"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["sources"].update(s={"kind": "xml", "location": {"folder": "a"}}), "sources.s.kind: Input should be"),
        (
            lambda r: r["sources"].update(s={"kind": "csv", "location": {"folder": "a"}}),
            "sources.s: a csv source needs 'columns'",
        ),
        (
            lambda r: r["sources"].update(
                s={"kind": "csv", "location": {"folder": "a", "blob_prefix": "b/"}, "columns": CSV_COLUMNS}
            ),
            "sources.s.location: give exactly one of 'folder' or 'blob_prefix'",
        ),
        (
            lambda r: r["sources"].update(
                s={"kind": "json", "location": {"folder": "a"}, "columns": {"timestamp": "t", "payload": "p", "tags": "g"}}
            ),
            "sources.s.columns.value: Field required",
        ),
        (
            lambda r: r["sources"].update(
                s={"kind": "json", "location": {"folder": "a"}, "columns": {**JSON_COLUMNS, "timestamp_format": "excel"}}
            ),
            "sources.s.columns.timestamp_format: Input should be",
        ),
        (
            lambda r: r["sources"].update(s={"kind": "telemetry_parquet", "location": {"blob_prefix": "../up"}}),
            "must be a relative name without '..'",
        ),
        (
            lambda r: r["sources"].update(s={"kind": "telemetry_parquet", "location": {"folder": "a"}, "colour": "red"}),
            "sources.s.colour: Extra inputs are not permitted",
        ),
        (
            lambda r: r["destinations"]["warehouse"].update(table="drop table x"),
            "destinations.warehouse.table: table 'drop table x' must be a plain identifier",
        ),
        (
            lambda r: r["catalog"]["signals"]["module_voltage"].update(level="rack"),
            "catalog.signals.module_voltage.level: Input should be 'module', 'phase' or 'system'",
        ),
        (lambda r: r.pop("sources"), "sources: Field required"),
        (
            lambda r: r.setdefault("destinations", {}).update(bronze={"blob_prefix": "bronze/"}),
            "destinations.bronze: bronze is local work files: give a 'folder', not a 'blob_prefix'",
        ),
    ],
)
def test_config_errors_name_the_file_and_the_entry(tmp_path, change, message, capsys):
    import yaml

    from sim_platform_tests.core.tabular_files import PACKAGED

    raw = yaml.safe_load(PACKAGED.read_text())
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_pipelines(path)
    assert str(path) in str(err.value) and message in str(err.value)
    # the CLI refuses it before touching anything, with the same message
    assert main(["etl", "--config", str(path), "--input", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            "when,signal,reading,labels\n2024-07-01T00:00:00Z,module_voltage,50,phase=1;module=1\n",
            "lacks the mapped columns ['time']",
        ),
        ("time,signal,reading,labels\nyesterday,module_voltage,50,phase=1;module=1\n", "timestamp is not ISO 8601"),
        (
            "time,signal,reading,labels\n2024-07-01T00:00:00Z,module_voltage,50,phase=1;module\n",
            "malformed tags: 'module' in row 1 is not key=value",
        ),
        (
            "time,signal,reading,labels\n2024-07-01T00:00:00Z,module_voltage,fifty,phase=1;module=1\n",
            "non-numeric value 'fifty' in numeric series module_voltage",
        ),
        ("", "empty file"),
    ],
)
def test_bad_csv_is_named_and_the_other_days_go_on(tmp_path, exports, content, reason, capsys):
    config = pipelines_with(tmp_path / "p.yaml", {"scada": {"kind": "csv", "location": {"folder": "in"}, "columns": CSV_COLUMNS}})
    (tmp_path / "in").mkdir()
    good = export_to_csv(exports[0], tmp_path / "in" / "good.csv")
    bad = tmp_path / "in" / "bad.csv"
    bad.write_text(content.replace("2024-07-01", "2024-07-02"))
    out = tmp_path / "out"
    assert main(["etl", "--config", str(config), "--source", "scada", "--output", str(out)]) == 1
    err = capsys.readouterr().out
    assert f"{bad}: " in err and reason in err and str(good) not in err
    assert list(out.glob("*/2024/07/01/*.parquet")) and not list(out.glob("*/2024/07/02/*"))


def test_json_array_and_tag_columns(tmp_path):
    """A JSON array of objects whose tags are partly columns of their own (`ph`, `mod`)."""
    import json

    from sim_platform.core.ingest.tabular import read_tabular

    records = [
        {"t": "2024-07-01T00:00:01+02:00", "p": "module_voltage", "v": 50.5, "ph": 1, "mod": "3", "extra": [["battery", "1"]]},
        {"t": "2024-06-30T22:00:01Z", "p": "module_voltage", "v": "50.5", "ph": 1, "mod": "3", "extra": [["battery", "1"]]},
        {"t": "2024-07-01T00:00:02", "p": "system_state", "v": "RUN", "ph": None, "mod": "", "extra": None},
    ]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(records))
    src = SourceFormat(
        "j",
        "json",
        ("*.json",),
        __import__("sim_platform.core.config.sources", fromlist=["ColumnMap"]).ColumnMap(
            "t", "p", "v", "extra", (("ph", "phase"), ("mod", "module"))
        ),
    )
    batch = read_tabular(path, src, default_catalog())
    assert sorted(batch.series) == [
        ("module_voltage", (("battery", "1"), ("phase", "1"), ("module", "3"))),
        ("system_state", ()),
    ]
    assert batch.raw_rows == 3 and len(batch.num_ts) == 1  # the two voltage rows are one sample
    assert batch.num_ts.tolist() == [1719784801000] and batch.txt_ts.tolist() == [1719792002000]
