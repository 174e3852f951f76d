"""What only the Azure backend has: a network that fails, credentials that are wrong, SAS and keys.

A `FaultyProxy` on loopback sits between the SDK and Azurite and cuts or corrupts real connections.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.identity import DefaultAzureCredential
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

from sim_platform.cli import main
from sim_platform.storage import open_blob_store
from sim_platform.storage.azure_store import AzureBlobStore
from sim_platform.storage.azurite import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from sim_platform.storage.errors import BlobAuthError
from sim_platform.storage.settings import StorageSettings
from sim_platform.storage.sync import sync_down, sync_up
from sim_platform_tests.storage.conftest import REPO, RequestCounter, new_container
from sim_platform_tests.storage.helpers import expected_md5, make_runs, tree_md5
from sim_platform_tests.storage.proxy import FaultyProxy

FILE_SIZE = 120_000  # several TCP reads, so a fault at 30 000 bytes lands mid-body


@pytest.fixture
def seeded(azurite, tmp_path):
    """A fresh container filled with 4 files through a direct connection; returns (settings, content)."""
    settings = StorageSettings(container=new_container(), connection_string=azurite.connection_string())
    content = make_runs(tmp_path / "src", runs=2, files=2, size=FILE_SIZE)
    with open_blob_store(settings) as store:
        assert sync_up(store, tmp_path / "src", log_dir=tmp_path / "logs").ok
    return settings, content


def proxied_store(azurite, container: str, proxy: FaultyProxy, **options) -> AzureBlobStore:
    settings = StorageSettings(
        container=container,
        connection_string=azurite.connection_string(endpoint=proxy.endpoint(DEV_ACCOUNT_NAME)),
    )
    options.setdefault("retry_total", 1)
    options.setdefault("retry_backoff", 0.01)
    return AzureBlobStore.from_settings(settings, **options)


def leftovers(root) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.endswith(".simtmp")]


def test_interrupted_download_keeps_nothing_then_resumes(azurite, seeded, tmp_path):
    settings, content = seeded
    proxy = FaultyProxy(azurite.port, fault="cut", direction="down", after=30_000).start()
    dst = tmp_path / "dst"
    with proxied_store(azurite, settings.container, proxy) as store:
        report = sync_down(store, dst, attempts=1, log_dir=tmp_path / "logs")
        assert sorted(f.name for f in report.failed) == sorted(content)
        assert proxy.faults_injected >= len(content)
        assert tree_md5(dst) == {}  # no file under a final name, no temp file left
        proxy.disarm()
        report = sync_down(store, dst, log_dir=tmp_path / "logs")
    proxy.close()
    assert report.ok and report.transferred == sorted(content)
    assert tree_md5(dst) == expected_md5(content)


def test_killed_download_leaves_no_file_under_its_final_name(azurite, seeded, tmp_path):
    """The process dies mid-transfer (no cleanup code runs): only hidden temp files may remain."""
    settings, content = seeded
    proxy = FaultyProxy(azurite.port, fault="stall", direction="down", after=30_000).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_"))}
    env["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string(endpoint=proxy.endpoint(DEV_ACCOUNT_NAME))
    env["AZURE_STORAGE_CONTAINER_NAME"] = settings.container
    env["PYTHONPATH"] = str(REPO)
    dst = tmp_path / "dst"
    child = subprocess.Popen(
        [sys.executable, "-m", "sim_platform", "sync", "down", "--to", str(dst), "--no-progress"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (proxy.faults_injected >= len(content) and leftovers(dst)):
        time.sleep(0.05)
    child.kill()
    child.wait(10)
    proxy.close()
    assert proxy.faults_injected >= len(content), "the transfers never reached the stall point"
    assert leftovers(dst), "expected the killed run's temporary files"
    assert [n for n in tree_md5(dst) if not n.endswith(".simtmp")] == []  # nothing that looks complete

    with open_blob_store(settings) as store:
        report = sync_down(store, dst, log_dir=tmp_path / "logs")
    assert report.ok and report.transferred == sorted(content)
    assert tree_md5(dst) == expected_md5(content)  # complete, and the killed run's temporaries are gone
    assert "temporary *.simtmp file(s) left in" in (tmp_path / "logs" / "download.log").read_text()


def test_interrupted_upload_then_resume(azurite, tmp_path):
    container = new_container()
    content = make_runs(tmp_path / "src", runs=2, files=2, size=FILE_SIZE)
    proxy = FaultyProxy(azurite.port, fault="cut", direction="up", after=30_000).start()
    direct_settings = StorageSettings(container=container, connection_string=azurite.connection_string())
    with proxied_store(azurite, container, proxy) as store, open_blob_store(direct_settings) as direct:
        direct.create_container()
        report = sync_up(store, tmp_path / "src", attempts=1, log_dir=tmp_path / "logs")
        assert sorted(f.name for f in report.failed) == sorted(content)
        assert proxy.faults_injected >= len(content)
        assert list(direct.list_blobs()) == []  # a cut upload never shows up as a blob
        proxy.disarm()
        report = sync_up(store, tmp_path / "src", log_dir=tmp_path / "logs")
        assert report.ok and report.transferred == sorted(content)
        assert {b.name: b.content_md5.hex() for b in direct.list_blobs()} == expected_md5(content)
        report = sync_down(direct, tmp_path / "dst", log_dir=tmp_path / "logs")
    proxy.close()
    assert report.ok and tree_md5(tmp_path / "dst") == expected_md5(content)


def test_one_cut_connection_is_retried_within_the_same_sync(azurite, seeded, tmp_path):
    settings, content = seeded
    proxy = FaultyProxy(azurite.port, fault="cut", direction="down", after=30_000, budget=1).start()
    counter = RequestCounter()
    with proxied_store(azurite, settings.container, proxy, request_hook=counter) as store:
        report = sync_down(store, tmp_path / "dst", backoff=0.01, log_dir=tmp_path / "logs")
    proxy.close()
    assert proxy.faults_injected == 1
    assert report.ok and report.transferred == sorted(content)
    assert counter.count("get_blob") > len(content)  # the cut request really was sent again
    assert tree_md5(tmp_path / "dst") == expected_md5(content)


def test_corruption_in_transit_is_caught_by_md5(azurite, seeded, tmp_path):
    settings, content = seeded
    # every connection flips one byte of the body: nothing may be kept
    proxy = FaultyProxy(azurite.port, fault="flip", direction="down", after=30_000).start()
    with proxied_store(azurite, settings.container, proxy) as store:
        report = sync_down(store, tmp_path / "dst", attempts=2, backoff=0.01, log_dir=tmp_path / "logs")
    proxy.close()
    assert sorted(f.name for f in report.failed) == sorted(content)
    assert all("MD5 mismatch" in f.error for f in report.failed)
    assert tree_md5(tmp_path / "dst") == {}

    # one flipped byte only: the retry downloads a good copy
    proxy = FaultyProxy(azurite.port, fault="flip", direction="down", after=30_000, budget=1).start()
    with proxied_store(azurite, settings.container, proxy) as store:
        report = sync_down(store, tmp_path / "dst", attempts=2, backoff=0.01, log_dir=tmp_path / "logs")
    proxy.close()
    assert report.ok and report.retries == 1
    assert tree_md5(tmp_path / "dst") == expected_md5(content)


def _wrong_key() -> str:
    return base64.b64encode(os.urandom(64)).decode()


def _credential_env(azurite, style: str) -> tuple[dict[str, str], list[str]]:
    """Environment for a wrong credential of `style`, and the secret strings that must never show."""
    key = _wrong_key()
    if style == "connection-string":
        cs = azurite.connection_string(key=key)
        return {"AZURE_STORAGE_CONNECTION_STRING": cs}, [key, cs]
    if style == "account-key":
        return {"AZURE_STORAGE_ACCOUNT_URL": azurite.blob_endpoint, "AZURE_STORAGE_ACCOUNT_KEY": key}, [key]
    sas = generate_account_sas(
        DEV_ACCOUNT_NAME,
        key,
        ResourceTypes(container=True, object=True),
        AccountSasPermissions(read=True, write=True, list=True, create=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    signature = dict(part.split("=", 1) for part in sas.split("&"))["sig"]
    return {"AZURE_STORAGE_ACCOUNT_URL": azurite.blob_endpoint, "AZURE_STORAGE_SAS_TOKEN": sas}, [sas, signature]


@pytest.mark.parametrize("style", ["connection-string", "account-key", "sas"])
@pytest.mark.parametrize("direction", ["up", "down"])
def test_wrong_credentials_fail_clearly_and_never_leak(azurite, tmp_path, monkeypatch, capsys, caplog, style, direction):
    env, secrets = _credential_env(azurite, style)
    for name in [n for n in os.environ if n.startswith("AZURE_STORAGE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_STORAGE_CONTAINER_NAME", new_container())
    monkeypatch.chdir(tmp_path)
    make_runs(tmp_path / "src", runs=1, files=2, size=1000)
    caplog.set_level(logging.DEBUG)  # everything, the Azure SDK's own loggers included

    folder = ["--from", "src"] if direction == "up" else ["--to", "dst"]
    code = main(["sync", direction, *folder, "-v", "--attempts", "1"])

    out, err = capsys.readouterr()
    assert code == 2
    assert "refused the credentials (HTTP 403" in err
    log_file = (tmp_path / "logs" / ("upload.log" if direction == "up" else "download.log")).read_text()
    assert "refused the credentials (HTTP 403" in log_file
    assert err.count("refused the credentials") == 1  # shown once, not by both the log and the CLI
    for text in (out, err, caplog.text, log_file):
        for secret in secrets:
            assert secret not in text
    assert not (tmp_path / "dst").exists() or not any((tmp_path / "dst").iterdir())


def test_key_that_is_not_base64_is_a_clear_auth_error(azurite, tmp_path):
    bad = "not-base64-but-secret!"
    settings = StorageSettings(container=new_container(), connection_string=azurite.connection_string(key=bad))
    with open_blob_store(settings) as store:
        with pytest.raises(BlobAuthError, match="not valid base64") as info:
            list(store.list_blobs())
    assert bad not in str(info.value)


@pytest.mark.parametrize("style", ["sas", "account-key"])
def test_account_url_with_sas_or_key_works(azurite, tmp_path, style):
    container = new_container()
    if style == "sas":
        sas = generate_account_sas(
            DEV_ACCOUNT_NAME,
            DEV_ACCOUNT_KEY,
            ResourceTypes(service=True, container=True, object=True),
            AccountSasPermissions(read=True, write=True, list=True, create=True, add=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        settings = StorageSettings(container=container, account_url=azurite.blob_endpoint, sas_token=sas)
    else:
        settings = StorageSettings(container=container, account_url=azurite.blob_endpoint, account_key=DEV_ACCOUNT_KEY)
    content = make_runs(tmp_path / "src", runs=1, files=2, size=5000)
    with open_blob_store(settings) as store:
        assert store.auth == ("sas" if style == "sas" else "shared-key")
        assert sync_up(store, tmp_path / "src", log_dir=tmp_path / "logs").ok
        assert sync_down(store, tmp_path / "dst", log_dir=tmp_path / "logs").ok
    assert tree_md5(tmp_path / "dst") == expected_md5(content)


def test_account_url_alone_uses_default_azure_credential():
    settings = StorageSettings(account_url="https://example.blob.core.windows.net")
    with open_blob_store(settings) as store:
        assert store.auth == "default-credential"
        assert isinstance(store._service.credential, DefaultAzureCredential)


def test_names_only_azure_can_hold_are_refused_on_download(azurite, tmp_path):
    settings = StorageSettings(container=new_container(), connection_string=azurite.connection_string())
    evil = ["/abs.txt", "C:/drive.txt", "run//double.txt", "a\\..\\..\\escape.txt"]
    with open_blob_store(settings) as store:
        store.create_container()
        raw = store._container_client
        for name in evil:
            raw.upload_blob(name, b"never written", overwrite=True)
        raw.upload_blob("folder-marker/", b"", overwrite=True)
        raw.upload_blob("ok/file.txt", b"fine", overwrite=True)
        names = {b.name for b in store.list_blobs()}
        assert "a/../../escape.txt" in names and "/abs.txt" in names
        target = tmp_path / "work" / "target"
        report = sync_down(store, target, log_dir=tmp_path / "logs")
    assert sorted(f.name for f in report.failed) == sorted(names - {"folder-marker/", "ok/file.txt"})
    assert all("refusing blob name" in f.error for f in report.failed)
    assert report.transferred == ["ok/file.txt"] and report.skipped == ["folder-marker/"]
    written = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file() and "logs" not in p.parts]
    assert written == ["work/target/ok/file.txt"]
    assert not os.path.exists("/abs.txt")


def test_environment_proxy_settings_are_resolved_once_per_store(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    settings = StorageSettings(account_url="https://acct.blob.core.windows.net", account_key=DEV_ACCOUNT_KEY)
    with open_blob_store(settings) as store:
        assert store._session.proxies.get("https") == "http://proxy.example:3128"
    local = StorageSettings(account_url="http://127.0.0.1:10000/devstoreaccount1", account_key=DEV_ACCOUNT_KEY)
    with open_blob_store(local) as store:
        assert "http" not in store._session.proxies and "https" not in store._session.proxies
