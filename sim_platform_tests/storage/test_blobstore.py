"""The `BlobStore` contract, run identically against the local folder and a real Azurite."""

from __future__ import annotations

import hashlib
import io
import math
from datetime import UTC, datetime, timedelta

import pytest

from sim_platform.storage.errors import (
    BlobChangedError,
    BlobNotFoundError,
    ContainerNotFoundError,
    UnsafeBlobName,
)
from sim_platform_tests.storage.conftest import new_container


def test_upload_list_properties_download_delete(backend, tmp_path):
    store = backend.store
    payloads = {"run_01/a.h5": b"alpha" * 1000, "run_01/b.h5": b"", "run_02/c.h5": bytes(range(256)) * 50}
    for name, data in payloads.items():
        path = tmp_path / name.replace("/", "_")
        path.write_bytes(data)
        info = store.upload_file(name, path)
        assert info.size == len(data)
        assert info.content_md5 == hashlib.md5(data).digest()

    listed = list(store.list_blobs())
    assert [b.name for b in listed] == sorted(payloads)
    now = datetime.now(UTC)
    for blob in listed:
        data = payloads[blob.name]
        assert blob.size == len(data)
        assert blob.content_md5 == hashlib.md5(data).digest()
        assert blob.etag
        assert abs(blob.last_modified - now) < timedelta(minutes=5)
        props = store.get_properties(blob.name)
        assert (props.size, props.content_md5, props.etag) == (blob.size, blob.content_md5, blob.etag)
        sink = io.BytesIO()
        store.download_into(blob.name, sink, etag=blob.etag)
        assert sink.getvalue() == data

    store.delete_blob("run_01/a.h5")
    assert [b.name for b in store.list_blobs()] == ["run_01/b.h5", "run_02/c.h5"]
    with pytest.raises(BlobNotFoundError, match="run_01/a.h5"):
        store.get_properties("run_01/a.h5")
    with pytest.raises(BlobNotFoundError, match="run_01/a.h5"):
        store.download_into("run_01/a.h5", io.BytesIO())
    with pytest.raises(BlobNotFoundError):
        store.delete_blob("run_01/a.h5")
    stats = store.stats.snapshot()
    # transfer calls started, the failed download of the deleted blob included
    assert (stats.uploads, stats.downloads, stats.list_requests) == (3, 4, 2)


def test_etag_and_md5_change_when_content_changes(backend, tmp_path):
    store = backend.store
    path = tmp_path / "f.h5"
    path.write_bytes(b"version one")
    first = store.upload_file("f.h5", path)
    path.write_bytes(b"version two")
    second = store.upload_file("f.h5", path)
    assert second.etag != first.etag
    listed = next(iter(store.list_blobs()))
    assert listed.etag == second.etag
    assert listed.content_md5 == hashlib.md5(b"version two").digest()


def test_download_refuses_a_blob_changed_since_listing(backend, tmp_path):
    store = backend.store
    path = tmp_path / "f.h5"
    path.write_bytes(b"old")
    old = store.upload_file("f.h5", path)
    path.write_bytes(b"new!")
    store.upload_file("f.h5", path)
    with pytest.raises(BlobChangedError, match="f.h5"):
        store.download_into("f.h5", io.BytesIO(), etag=old.etag)


def test_listing_by_prefix_is_sorted_and_exact(backend, tmp_path):
    store = backend.store
    path = tmp_path / "x"
    path.write_bytes(b"x")
    for name in ["raw/b/c.h5", "raw/a.h5", "rawdata/d.h5", "other/e.h5"]:
        store.upload_file(name, path)
    assert [b.name for b in store.list_blobs("raw/")] == ["raw/a.h5", "raw/b/c.h5"]
    assert [b.name for b in store.list_blobs("raw/b/")] == ["raw/b/c.h5"]
    assert list(store.list_blobs("nothing/")) == []


def test_missing_container(backend, tmp_path):
    store = backend.make_store(container=new_container())
    path = tmp_path / "x"
    path.write_bytes(b"x")
    with pytest.raises(ContainerNotFoundError, match=store.container):
        list(store.list_blobs())
    with pytest.raises(ContainerNotFoundError):
        store.upload_file("x", path)
    assert store.create_container() is True
    assert store.create_container() is False
    assert list(store.list_blobs()) == []
    store.close()


@pytest.mark.parametrize("name", ["../x.h5", "/abs.h5", "a\\b.h5", "C:x.h5", "a//b.h5", "a/./b.h5", "a/", ""])
def test_upload_refuses_unsafe_names(backend, tmp_path, name):
    path = tmp_path / "x"
    path.write_bytes(b"x")
    with pytest.raises(UnsafeBlobName, match="refusing blob name"):
        backend.store.upload_file(name, path)
    assert list(backend.store.list_blobs()) == []
    if backend.http is not None:
        assert backend.http.count(method="PUT") == 0


def test_large_file_goes_up_in_blocks_with_whole_file_md5(backend, tmp_path):
    store = backend.make_store(max_single_put_size=64 * 1024, max_block_size=32 * 1024)
    data = hashlib.sha256(b"seed").digest() * 6250  # 200 000 bytes
    path = tmp_path / "big.h5"
    path.write_bytes(data)
    info = store.upload_file("run/big.h5", path)
    assert info.content_md5 == hashlib.md5(data).digest()
    props = store.get_properties("run/big.h5")
    assert props.size == len(data) and props.content_md5 == hashlib.md5(data).digest()
    sink = io.BytesIO()
    store.download_into("run/big.h5", sink)
    assert sink.getvalue() == data
    if backend.http is not None:
        assert backend.http.count("put_block") == math.ceil(len(data) / (32 * 1024))
        assert backend.http.count("put_block_list") == 1
        assert backend.http.count("put_blob") == 0
    store.close()
