"""What is specific to the local-folder backend: its files on disk."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from sim_platform.storage.errors import BlobStoreError, UnsafeBlobName
from sim_platform.storage.local_store import LocalBlobStore


@pytest.fixture
def local(tmp_path) -> LocalBlobStore:
    store = LocalBlobStore(tmp_path / "root", "simulation-data")
    store.create_container()
    return store


def test_blobs_are_plain_files_with_hidden_md5_sidecars(local, tmp_path):
    src = tmp_path / "a.h5"
    src.write_bytes(b"payload")
    local.upload_file("run_01/a.h5", src)
    folder = local.folder / "run_01"
    assert (folder / "a.h5").read_bytes() == b"payload"
    assert sorted(os.listdir(folder)) == [".a.h5.blobmeta.json", "a.h5"]
    (folder / ".b.h5.0123456789ab.simtmp").write_bytes(b"half-written")
    assert [b.name for b in local.list_blobs()] == ["run_01/a.h5"]


def test_file_edited_behind_the_store_gets_a_fresh_md5(local, tmp_path):
    src = tmp_path / "a.h5"
    src.write_bytes(b"first")
    first = local.upload_file("a.h5", src)
    (local.folder / "a.h5").write_bytes(b"second, longer")
    info = local.get_properties("a.h5")
    assert info.content_md5 == hashlib.md5(b"second, longer").digest()
    assert info.etag != first.etag


def test_reserved_names_are_refused(local, tmp_path):
    src = tmp_path / "a"
    src.write_bytes(b"x")
    for name in ["run/.a.h5.blobmeta.json", "run/.a.h5.0123.simtmp"]:
        with pytest.raises(UnsafeBlobName, match="reserved"):
            local.upload_file(name, src)


def test_file_and_folder_of_the_same_name_conflict_clearly(local, tmp_path):
    src = tmp_path / "a"
    src.write_bytes(b"x")
    local.upload_file("run/a", src)
    with pytest.raises(BlobStoreError, match="cannot coexist"):
        local.upload_file("run", src)
    with pytest.raises(BlobStoreError, match="cannot coexist"):
        local.upload_file("run/a/b", src)


def test_delete_prunes_empty_folders(local, tmp_path):
    src = tmp_path / "a"
    src.write_bytes(b"x")
    local.upload_file("deep/er/a", src)
    local.delete_blob("deep/er/a")
    assert os.listdir(local.folder) == []
    sink = io.BytesIO()
    local.upload_file("b", src)
    local.download_into("b", sink)
    assert sink.getvalue() == b"x"
