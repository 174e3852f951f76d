"""The silver IO manager against the blob container (Azurite): hour files and the plot are blobs,
downstream assets load them back, and re-materialising gives the same bytes."""

from __future__ import annotations

import hashlib
import io
import pickle
from datetime import UTC

import pytest
from dagster import materialize

from sim_platform.defs.bronze.assets import telemetry_day
from sim_platform.defs.gold.assets import module_day_plot
from sim_platform.defs.silver.assets import resampled_5s
from sim_platform_tests.defs.conftest import make_platform
from sim_platform_tests.defs.helpers import mat_days, module_days


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
    # the day's silver and plots through the blob target (and the plot reads its input back from there)
    tags = module_days(instance, "2024-06-05")
    r = materialize([resampled_5s, module_day_plot], instance=instance, resources=platform.resources, tags=tags)
    assert r.success and mat_days(r, "gold/module_day_plot") == {"2024-06-05"}
    with platform.blob.open() as store:
        first = _contents(store, "silver/")
        names = sorted(first)
        assert "silver/phase1_module1/2024/06/05/plot.png" in names
        hours = [n for n in names if n.startswith("silver/phase1_module2/2024/06/05/") and n.endswith(".parquet")]
        assert hours and all(n.rsplit("/", 1)[1][:2].isdigit() for n in hours)
        r = materialize([resampled_5s], instance=instance, resources=platform.resources, tags=tags)
        assert r.success
        second = _contents(store, "silver/")
    assert {k: v for k, v in second.items() if k.endswith(".parquet")} == {
        k: v for k, v in first.items() if k.endswith(".parquet")
    }


@pytest.mark.parametrize("mode", ["key", "sas"])
def test_the_container_through_dagster_azure(azurite, tmp_path, mode):
    """With an account URL and a key or a SAS token, the container is dagster-azure's
    AzureBlobStorageResource and its client; worker processes open it from a picklable opener."""
    from datetime import datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas
    from dagster_azure.blob import AzureBlobStorageKeyCredential, AzureBlobStorageResource, AzureBlobStorageSASTokenCredential

    from sim_platform.defs.resources import BlobStoreResource
    from sim_platform.storage import sync_up
    from sim_platform.storage.azurite import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

    if mode == "key":
        credential = AzureBlobStorageKeyCredential(key=DEV_ACCOUNT_KEY)
    else:
        token = generate_account_sas(
            DEV_ACCOUNT_NAME,
            DEV_ACCOUNT_KEY,
            ResourceTypes(service=True, container=True, object=True),
            AccountSasPermissions(read=True, write=True, list=True, create=True, delete=True, add=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        credential = AzureBlobStorageSASTokenCredential(token=token)
    resource = BlobStoreResource(
        container=f"dg{mode}", azure=AzureBlobStorageResource(account_url=azurite.blob_endpoint, credential=credential)
    )
    folder = tmp_path / "runs" / "run_01"
    folder.mkdir(parents=True)
    (folder / "a.h5").write_bytes(b"x" * 1000)
    with resource.open() as store:
        assert type(store).__name__ == "AzureBlobStore"
        assert sync_up(store, tmp_path / "runs", prefix="raw/runs/", log_dir=None).ok
    opener = pickle.loads(pickle.dumps(resource.opener()))  # what a worker process receives
    with opener() as store:
        assert [b.name for b in store.list_blobs("raw/")] == ["raw/runs/run_01/a.h5"]
