"""The silver IO manager against the blob container (Azurite): hour files and the plot are blobs,
downstream assets load them back, and re-materialising gives the same bytes."""

from __future__ import annotations

import hashlib
import io

from dagster import materialize

from sim_platform.defs.assets import module_day_plot, resampled_5s, telemetry_day
from sim_platform.defs.partitions import silver_key
from sim_platform_tests.defs.conftest import make_platform
from sim_platform_tests.defs.helpers import mat_partitions, range_tags


def _contents(store, prefix: str) -> dict[str, str]:
    out = {}
    for b in store.list_blobs(prefix):
        buf = io.BytesIO()
        store.download_into(b.name, buf)
        out[b.name] = hashlib.sha256(buf.getvalue()).hexdigest()
    return out


def test_silver_in_the_container(azurite, tmp_path, instance, sample_two_days):
    platform = make_platform(tmp_path / "home", connection_string=azurite.connection_string(), silver_backend="blob")
    day = sample_two_days / "2024/06/05"
    landing = tmp_path / "landing" / "2024/06/05"
    landing.mkdir(parents=True)
    for f in sorted(day.glob("*.parquet"))[:60]:
        (landing / f.name).write_bytes(f.read_bytes())
    platform.land(tmp_path / "landing", "telemetry/")
    assert materialize([telemetry_day], instance=instance, resources=platform.resources, partition_key="2024-06-05").success
    # two partitions in one run, through the blob target
    tags = range_tags(str(silver_key("2024-06-05", "phase1_module1")), str(silver_key("2024-06-05", "phase1_module2")))
    order = instance.get_dynamic_partitions("phase_module")
    assert order.index("phase1_module2") == order.index("phase1_module1") + 1
    r = materialize([resampled_5s, module_day_plot], instance=instance, resources=platform.resources, tags=tags)
    assert r.success and len(mat_partitions(r, "gold/module_day_plot")) == 2
    with platform.blob.open() as store:
        first = _contents(store, "silver/")
        names = sorted(first)
        assert "silver/phase1_module1/2024/06/05/plot.png" in names
        hours = [n for n in names if n.startswith("silver/phase1_module2/2024/06/05/") and n.endswith(".parquet")]
        assert hours and all(n.rsplit("/", 1)[1][:2].isdigit() for n in hours)
        r = materialize([resampled_5s], instance=instance, resources=platform.resources, tags=tags)
        assert r.success
        second = _contents(store, "silver/")
    assert {k: v for k, v in second.items() if k.endswith(".parquet")} == {k: v for k, v in first.items() if k.endswith(".parquet")}
