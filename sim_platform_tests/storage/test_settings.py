"""Settings from the environment and `.env`, precedence, and secrets kept out of repr and logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from dotenv import dotenv_values

from sim_platform.storage import open_blob_store
from sim_platform.storage.errors import SettingsError
from sim_platform.storage.local_store import LocalBlobStore
from sim_platform.storage.logs import RedactingFormatter, redact
from sim_platform.storage.settings import StorageSettings
from sim_platform_tests.conftest import REPO

KEY = "c2VjcmV0LWFjY291bnQta2V5LW5vdC10by1iZS1zaG93bg=="
SAS = "sv=2024-08-04&ss=b&srt=co&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=VerySecretSignature%2B%3D"
CONN = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"


def test_no_azure_setting_means_local_store(tmp_path):
    settings = StorageSettings.from_env({}, env_file=None)
    assert settings.backend == "local"
    assert settings.container == "simulation-data"
    assert settings.local_root == Path(".blobstore")
    store = open_blob_store(StorageSettings.from_env({"SIM_PLATFORM_LOCAL_BLOB_ROOT": str(tmp_path)}, env_file=None))
    assert isinstance(store, LocalBlobStore) and store.folder == tmp_path / "simulation-data"
    with pytest.raises(TypeError):
        open_blob_store(settings, request_hook=print)


def test_dotenv_fills_in_but_never_overrides_the_environment(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "AZURE_STORAGE_CONTAINER_NAME=from-dotenv\n"
        "SIM_PLATFORM_LOCAL_BLOB_ROOT=/data/blobs\n"
        f"AZURE_STORAGE_CONNECTION_STRING={CONN}\n"
    )
    settings = StorageSettings.from_env({"AZURE_STORAGE_CONTAINER_NAME": "from-env"}, env_file=env_file)
    assert settings.container == "from-env"
    assert settings.local_root == Path("/data/blobs")
    assert settings.connection_string == CONN and settings.backend == "azure"
    # an empty real variable switches the .env entry off
    settings = StorageSettings.from_env({"AZURE_STORAGE_CONNECTION_STRING": ""}, env_file=env_file)
    assert settings.backend == "local"
    assert StorageSettings.from_env({}, env_file=tmp_path / "missing.env").backend == "local"


def test_precedence_and_auth_kind():
    url = "https://acct.blob.core.windows.net"
    both = StorageSettings.from_env({"AZURE_STORAGE_CONNECTION_STRING": CONN, "AZURE_STORAGE_ACCOUNT_URL": url}, env_file=None)
    assert both.auth == "connection-string"
    assert StorageSettings(account_url=url, account_key=KEY).auth == "shared-key"
    assert StorageSettings(account_url=url, sas_token=SAS).auth == "sas"
    assert StorageSettings(account_url=url).auth == "default-credential"


def test_contradictory_or_incomplete_settings_are_refused():
    url = "https://acct.blob.core.windows.net"
    with pytest.raises(SettingsError, match="set only one"):
        StorageSettings(account_url=url, account_key=KEY, sas_token=SAS)
    with pytest.raises(SettingsError, match="AZURE_STORAGE_ACCOUNT_URL is not"):
        StorageSettings(account_key=KEY)
    with pytest.raises(SettingsError, match="invalid container name"):
        StorageSettings(container="Bad_Name")
    with pytest.raises(SettingsError, match="malformed"):
        StorageSettings(connection_string="just-a-word")


def test_repr_and_logs_never_show_secrets(caplog):
    url = "https://acct.blob.core.windows.net"
    variants = [
        StorageSettings(connection_string=CONN),
        StorageSettings(account_url=url, account_key=KEY),
        StorageSettings(account_url=url, sas_token=SAS),
    ]
    caplog.set_level(logging.DEBUG)
    for settings in variants:
        text = repr(settings) + str(settings) + f"{settings}" + repr([settings])
        logging.getLogger("sim_platform.storage").info("settings: %s / %r", settings, settings)
        for secret in (KEY, SAS, "VerySecretSignature"):
            assert secret not in text
        assert "***" in text
    assert "AccountName=acct" in repr(variants[0])
    for secret in (KEY, SAS, "VerySecretSignature"):
        assert secret not in caplog.text


def test_redaction_of_text_from_elsewhere():
    StorageSettings(account_url="https://acct.blob.core.windows.net", sas_token=SAS)  # registers the secret
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", (f"GET https://a/c/b?{SAS}",), None)
    line = RedactingFormatter("%(message)s").format(record)
    assert "VerySecretSignature" not in line and "b?***" in line
    # not registered anywhere: still masked by shape
    assert redact("GET https://a/c/b?sv=1&sig=AbCdEf123%3D&se=2") == "GET https://a/c/b?sv=1&sig=***&se=2"
    assert redact(f"oops {CONN}").count(KEY) == 0
    assert "AccountKey=***" in redact("AccountKey=somethingelse;")


def test_env_example_documents_every_setting_without_a_secret():
    example = REPO / ".env.example"
    text = example.read_text()
    for name in [
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_CONTAINER_NAME",
        "AZURE_STORAGE_ACCOUNT_URL",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "SIM_PLATFORM_LOCAL_BLOB_ROOT",
    ]:
        assert name in text
    # only the container name is active; credentials are commented-out placeholders
    values = {k: v for k, v in dotenv_values(example).items() if v}
    assert set(values) <= {"AZURE_STORAGE_CONTAINER_NAME", "SIM_PLATFORM_LOCAL_BLOB_ROOT"}
    assert StorageSettings.from_env({}, env_file=example).backend == "local"
    assert ".env" in (REPO / ".gitignore").read_text().split()
