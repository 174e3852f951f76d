"""`sync_up` / `sync_down`, run identically against the local folder and a real Azurite.

Request counts are asserted twice for Azurite: through the counters the store keeps (`SyncReport`)
and through the HTTP requests actually sent (`backend.http`, a raw_request_hook).
"""

from __future__ import annotations

import hashlib
import os
import subprocess

from sim_platform.storage.sync import sync_down, sync_up
from sim_platform_tests.storage.conftest import new_container
from sim_platform_tests.storage.helpers import expected_md5, make_runs, tree_md5


def remote_md5(store, prefix: str = "") -> dict[str, str]:
    return {b.name: b.content_md5.hex() for b in store.list_blobs(prefix)}


def test_first_sync_uploads_every_file_with_its_md5(backend, tmp_path):
    content = make_runs(tmp_path / "src")
    report = sync_up(backend.store, tmp_path / "src", log_dir=tmp_path / "logs")
    assert report.ok, report.failed
    assert report.transferred == sorted(content)
    assert report.skipped == []
    assert report.uploads == len(content)
    assert report.list_requests == 1
    assert report.bytes_transferred == sum(len(d) for d in content.values())
    if backend.http is not None:  # checked before the test's own listing below
        assert backend.http.count("list") == 1
        assert backend.http.count("put_blob") == len(content)
    assert remote_md5(backend.store) == expected_md5(content)


def test_noop_resync_makes_zero_uploads_and_one_listing(backend, tmp_path):
    content = make_runs(tmp_path / "src")
    sync_up(backend.store, tmp_path / "src", log_dir=tmp_path / "logs")
    if backend.http is not None:
        backend.http.reset()
    report = sync_up(backend.store, tmp_path / "src", log_dir=tmp_path / "logs")
    assert report.ok
    assert report.transferred == []
    assert report.skipped == sorted(content)
    assert report.uploads == 0
    assert report.list_requests == 1
    assert report.bytes_transferred == 0
    if backend.http is not None:
        assert backend.http.count() == 1, backend.http.kinds()
        assert backend.http.count("list") == 1
        assert backend.http.count(method="PUT") == 0


def test_only_changed_files_are_uploaded(backend, tmp_path):
    src = tmp_path / "src"
    content = make_runs(src)
    sync_up(backend.store, src, log_dir=tmp_path / "logs")
    same_size = "run_01/sample_02.h5"
    data = bytearray(content[same_size])
    data[len(data) // 2] ^= 0x01  # same size, different content: only the MD5 can tell
    (src / same_size).write_bytes(bytes(data))
    grown = "run_02/sample_00.h5"
    (src / grown).write_bytes(content[grown] + b"more")
    if backend.http is not None:
        backend.http.reset()
    report = sync_up(backend.store, src, log_dir=tmp_path / "logs")
    assert report.ok
    assert report.transferred == sorted([same_size, grown])
    assert report.uploads == 2
    assert len(report.skipped) == len(content) - 2
    if backend.http is not None:
        assert backend.http.count("put_blob") == 2
        assert backend.http.count("list") == 1
    assert remote_md5(backend.store) == tree_md5(src)


def test_deleted_local_file(backend, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    content = make_runs(src)
    sync_up(backend.store, src, log_dir=tmp_path / "logs")
    sync_down(backend.store, dst, log_dir=tmp_path / "logs")
    gone = "run_00/sample_01.h5"

    # deleted from the download folder: exactly that file comes back
    (dst / gone).unlink()
    report = sync_down(backend.store, dst, log_dir=tmp_path / "logs")
    assert report.ok
    assert report.transferred == [gone]
    assert report.downloads == 1
    assert tree_md5(dst) == expected_md5(content)

    # deleted from the source folder: nothing is uploaded and the blob is kept (sync never deletes)
    (src / gone).unlink()
    report = sync_up(backend.store, src, log_dir=tmp_path / "logs")
    assert report.ok and report.uploads == 0 and report.transferred == []
    assert gone in remote_md5(backend.store)


def test_sync_down_first_then_noop(backend, tmp_path):
    content = make_runs(tmp_path / "src")
    sync_up(backend.store, tmp_path / "src", log_dir=tmp_path / "logs")
    dst = tmp_path / "downloaded_runs"
    if backend.http is not None:
        backend.http.reset()
    report = sync_down(backend.store, dst, log_dir=tmp_path / "logs")
    assert report.ok
    assert report.transferred == sorted(content)
    assert report.downloads == len(content) and report.list_requests == 1
    assert tree_md5(dst) == expected_md5(content)
    if backend.http is not None:
        assert backend.http.count("list") == 1
        assert backend.http.count("get_blob") == len(content)
        backend.http.reset()
    report = sync_down(backend.store, dst, log_dir=tmp_path / "logs")
    assert report.ok
    assert report.transferred == [] and report.downloads == 0 and report.list_requests == 1
    assert report.skipped == sorted(content)
    if backend.http is not None:
        assert backend.http.count() == 1


def test_prefix_is_a_folder(backend, tmp_path):
    content = make_runs(tmp_path / "src", runs=2, files=2)
    report = sync_up(backend.store, tmp_path / "src", prefix="raw", log_dir=tmp_path / "logs")
    assert report.ok
    assert sorted(remote_md5(backend.store)) == sorted("raw/" + n for n in content)
    (tmp_path / "other.h5").write_bytes(b"outside the prefix")
    backend.store.upload_file("rawdata/other.h5", tmp_path / "other.h5")
    report = sync_down(backend.store, tmp_path / "dst", prefix="raw/", log_dir=tmp_path / "logs")
    assert report.ok
    assert tree_md5(tmp_path / "dst") == expected_md5(content)


def test_changed_local_copy_is_replaced_and_leftover_temp_removed(backend, tmp_path):
    content = make_runs(tmp_path / "src")
    sync_up(backend.store, tmp_path / "src", log_dir=tmp_path / "logs")
    dst = tmp_path / "dst"
    (dst / "run_00").mkdir(parents=True)
    truncated = "run_00/sample_00.h5"
    (dst / truncated).write_bytes(content[truncated][:1000])  # a partial file from some older tool
    flipped = "run_00/sample_01.h5"
    data = bytearray(content[flipped])
    data[-1] ^= 0xFF
    (dst / flipped).write_bytes(bytes(data))  # same size, wrong bytes
    leftover = dst / "run_00" / ".sample_02.h5.0123456789ab.simtmp"  # what a killed run leaves
    leftover.write_bytes(b"half")
    dead = _dead_pid()
    orphan = dst / "run_00" / f".sample_03.h5.{dead}-0123456789ab.simtmp"  # a dead writer's, by pid
    orphan.write_bytes(b"half")
    live = dst / "run_00" / f".sample_03.h5.{os.getpid()}-0123456789ab.simtmp"  # a live writer's: left alone
    live.write_bytes(b"busy")
    report = sync_down(backend.store, dst, log_dir=tmp_path / "logs")
    assert report.ok
    # the two damaged copies are replaced; sample_02 is fetched because the temp file is not taken for it
    assert report.transferred == sorted(
        [truncated, flipped, "run_00/sample_02.h5"] + [n for n in content if not n.startswith("run_00/")]
    )
    files = tree_md5(dst)
    assert files.pop(f"run_00/{live.name}") == hashlib.md5(b"busy").hexdigest()
    assert files == expected_md5(content)  # the interrupted runs' temporaries are gone
    assert "removed 2 temporary *.simtmp file(s)" in (tmp_path / "logs" / "download.log").read_text()
    # and a folder holding a leftover temp file never uploads it
    report = sync_up(backend.store, dst, prefix="copy/", log_dir=tmp_path / "logs")
    assert sorted(remote_md5(backend.store, "copy/")) == sorted("copy/" + n for n in content)


def test_corrupt_blob_is_detected_by_md5_and_not_kept(backend, tmp_path):
    content = make_runs(tmp_path / "src")
    sync_up(backend.store, tmp_path / "src", log_dir=tmp_path / "logs")
    bad = "run_01/sample_01.h5"
    backend.corrupt(bad)
    dst = tmp_path / "dst"
    report = sync_down(backend.store, dst, attempts=2, backoff=0.01, log_dir=tmp_path / "logs")
    assert [f.name for f in report.failed] == [bad]
    assert "MD5 mismatch" in report.failed[0].error and bad in report.failed[0].error
    assert report.retries == 1  # a mismatch is retried once, then reported
    assert report.transferred == sorted(set(content) - {bad})
    files = tree_md5(dst)
    assert bad not in files
    assert not [n for n in files if n.endswith(".simtmp")]
    assert files == {n: m for n, m in expected_md5(content).items() if n != bad}


def test_names_escaping_the_target_are_refused(backend, tmp_path):
    make_runs(tmp_path / "src", runs=1, files=2)
    sync_up(backend.store, tmp_path / "src", log_dir=tmp_path / "logs")
    evil = ["evil\\..\\..\\escape.txt", "C:escape.txt"]
    for name in evil:
        backend.plant(name, b"should never be written")
    listed = {b.name for b in backend.store.list_blobs()}
    planted = listed - {"run_00/sample_00.h5", "run_00/sample_01.h5"}
    assert len(planted) == 2  # Azure stores the backslashes as '/', the folder keeps them
    work = tmp_path / "work"
    target = work / "target"
    report = sync_down(backend.store, target, log_dir=tmp_path / "logs")
    assert sorted(f.name for f in report.failed) == sorted(planted)
    for failure in report.failed:
        assert f"refusing blob name {failure.name!r}" in failure.error
    assert report.transferred == ["run_00/sample_00.h5", "run_00/sample_01.h5"]
    assert sorted(p.name for p in work.iterdir()) == ["target"]
    assert sorted(tree_md5(target)) == ["run_00/sample_00.h5", "run_00/sample_01.h5"]
    assert not any("escape" in p.name for p in tmp_path.rglob("*") if "blobroot" not in p.parts)


def test_unusable_local_name_fails_alone(backend, tmp_path):
    src = tmp_path / "src"
    content = make_runs(src, runs=1, files=3)
    (src / "run_00" / "bad\\name.h5").write_bytes(b"backslash in a local file name")
    report = sync_up(backend.store, src, log_dir=tmp_path / "logs")
    assert [f.name for f in report.failed] == ["run_00/bad\\name.h5"]
    assert "backslash" in report.failed[0].error
    assert report.transferred == sorted(content)
    assert not report.ok


def test_missing_container_is_created_on_first_upload(backend, tmp_path):
    store = backend.make_store(container=new_container())
    content = make_runs(tmp_path / "src", runs=1, files=2)
    report = sync_up(store, tmp_path / "src", log_dir=tmp_path / "logs")
    assert report.ok and report.transferred == sorted(content)
    assert remote_md5(store) == expected_md5(content)
    store.close()


def test_logs_go_to_upload_and_download_log(backend, tmp_path):
    content = make_runs(tmp_path / "src", runs=1, files=2)
    log_dir = tmp_path / "not" / "yet" / "logs"
    sync_up(backend.store, tmp_path / "src", log_dir=log_dir)
    sync_down(backend.store, tmp_path / "dst", log_dir=log_dir)
    upload_log = (log_dir / "upload.log").read_text()
    download_log = (log_dir / "download.log").read_text()
    for name in content:
        assert f"uploaded {name}" in upload_log
        assert f"downloaded {name}" in download_log
    assert "sync up: sent 2, skipped 0, failed 0" in upload_log
    assert "sync down: downloaded 2, skipped 0, failed 0" in download_log


def test_parallel_sync_of_many_small_files(backend, tmp_path):
    content = make_runs(tmp_path / "src", runs=6, files=10, size=2_000)
    report = sync_up(backend.store, tmp_path / "src", concurrency=8, log_dir=tmp_path / "logs")
    assert report.ok and report.uploads == 60
    report = sync_down(backend.store, tmp_path / "dst", concurrency=8, log_dir=tmp_path / "logs")
    assert report.ok and report.downloads == 60
    assert tree_md5(tmp_path / "dst") == expected_md5(content)


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
