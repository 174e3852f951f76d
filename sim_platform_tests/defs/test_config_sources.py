"""A CSV and a JSON source added to pipelines.yaml, nothing else: the blob sensor notices their
blobs in the container (a real Azurite), the bronze asset reads them with their column mappings,
and silver equals `sim-platform etl` over the parquet exports the files were made from."""

from __future__ import annotations

import shutil
from pathlib import Path

from dagster import SensorResult, build_sensor_context, materialize

from sim_platform.core.etl import run_etl
from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.landing.sensors import new_blob_sensor
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform_tests.core.tabular_files import CSV_COLUMNS, JSON_COLUMNS, export_to_csv, export_to_json_lines, pipelines_with
from sim_platform_tests.defs.conftest import make_platform
from sim_platform_tests.defs.helpers import module_days, tree_digest


def test_csv_and_json_blobs_flow_to_silver(azurite, tmp_path: Path, instance, generated_exports: Path):
    exports = sorted(generated_exports.rglob("*2024-07-01*.parquet"))[:6]
    config = pipelines_with(
        tmp_path / "pipelines.yaml",
        {
            "scada_csv": {"kind": "csv", "location": {"blob_prefix": "raw/scada/"}, "columns": CSV_COLUMNS},
            "historian_json": {"kind": "json", "location": {"blob_prefix": "raw/historian"}, "columns": JSON_COLUMNS},
        },
    )
    platform = make_platform(tmp_path / "home", connection_string=azurite.connection_string(), config_path=str(config))
    land = tmp_path / "land"
    for f in exports[:3]:
        export_to_csv(f, land / "scada" / "2024-07-01" / f"{f.stem}.csv")
    for f in exports[3:]:
        export_to_json_lines(f, land / "historian" / f"{f.stem}.jsonl")
    (land / "scada" / "README.txt").write_text("not data: no source claims it")
    platform.land(land, "")

    with build_sensor_context(instance=instance, resources=platform.resources) as ctx:
        result = new_blob_sensor(ctx)
    assert isinstance(result, SensorResult)
    (request,) = result.run_requests  # the CSVs are dated by their folder, the JSON lines by their metadata
    assert request.partition_key == "2024-07-01"

    r = materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key="2024-07-01")
    assert r.success
    pms = instance.get_dynamic_partitions("phase_module")  # registered by bronze, from the data
    assert "phase3_module8" in pms and "system" in pms
    (event,) = r.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
    assert meta["files_by_source"] == {"historian_json": 3, "scada_csv": 3}

    assert materialize(
        [resampled_5s], instance=instance, resources=platform.resources, tags=module_days(instance, "2024-07-01")
    ).success

    pq_in = tmp_path / "pq"
    pq_in.mkdir()
    for f in exports:
        shutil.copy(f, pq_in / f.name)
    assert run_etl(pq_in, tmp_path / "etl", workers=2).ok
    assert tree_digest(platform.silver_root, "*.parquet") == tree_digest(tmp_path / "etl", "*.parquet")
