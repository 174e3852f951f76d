"""`BlobStore` on a local folder: the embedded default when no Azure setting is present.

Layout: blob `run_01/a.h5` of container `c` is the file `<root>/c/run_01/a.h5`, so the data can be
read with ordinary tools. Beside it, `.a.h5.blobmeta.json` records the MD5 together with the size
and mtime it was computed for; a listing trusts it only while those still match the file, otherwise
it recomputes (so editing a file by hand cannot leave a stale MD5 behind). Writes go to a temporary
`.<name>.<random>.simtmp` in the same folder and are renamed into place, so a reader sees either
the old or the new complete file. Listings never show sidecars or temporary files, and those two
name patterns are refused as blob names.

The etag combines the MD5 and the nanosecond mtime, so it changes whenever the content does (and
on every rewrite, as with Azure). Blob names go through `safe_relative_path`, exactly like the
download side of the sync. One difference from Azure that a folder cannot avoid: blobs `a` and
`a/b` cannot both exist; the second write fails with a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sim_platform.storage.blobstore import BlobInfo, BlobStore, StoreStats
from sim_platform.storage.checksums import CHUNK_SIZE, md5_file
from sim_platform.storage.errors import (
    BlobChangedError,
    BlobNotFoundError,
    BlobStoreError,
    ContainerNotFoundError,
    UnsafeBlobName,
)
from sim_platform.storage.names import (
    is_temp_name,
    resolve_inside,
    safe_relative_path,
    temp_path_for,
    validate_container_name,
)

SIDECAR_SUFFIX = ".blobmeta.json"


def is_sidecar_name(filename: str) -> bool:
    return filename.startswith(".") and filename.endswith(SIDECAR_SUFFIX)


def _etag(md5: bytes, st: os.stat_result) -> str:
    """Changes with the content (MD5) and with every rewrite (mtime), like an Azure etag."""
    return f"0x{st.st_mtime_ns:X}{md5.hex()[:8].upper()}"


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}{SIDECAR_SUFFIX}")


class LocalBlobStore(BlobStore):
    """A container as a folder `<root>/<container>`."""

    def __init__(self, root: Path | str, container: str) -> None:
        self.container = validate_container_name(container)
        self.root = Path(root).resolve()
        self.folder = self.root / container
        self.stats = StoreStats()

    def __repr__(self) -> str:
        return f"LocalBlobStore(root={str(self.root)!r}, container={self.container!r})"

    # -- helpers -----------------------------------------------------------------------------------

    def _require_container(self, what: str) -> None:
        if not self.folder.is_dir():
            raise ContainerNotFoundError(f"{what}: container {self.container!r} does not exist at {self.folder}")

    def _path(self, name: str) -> Path:
        """Path of blob `name`, refusing unsafe and reserved names."""
        rel = safe_relative_path(name)
        if is_temp_name(rel.name) or is_sidecar_name(rel.name):
            raise UnsafeBlobName(name, "this file name pattern is reserved by the local blob store")
        return resolve_inside(self.folder, name)

    def _md5_for(self, path: Path, st: os.stat_result) -> bytes:
        """MD5 from the sidecar if it still describes the file, else recomputed and re-recorded."""
        sidecar = _sidecar(path)
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            if meta["size"] == st.st_size and meta["mtime_ns"] == st.st_mtime_ns:
                return bytes.fromhex(meta["md5"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        md5 = md5_file(path)
        try:
            self._write_sidecar(path, md5, st)
        except OSError:
            pass  # read-only store: the MD5 is still right, just not cached
        return md5

    def _write_sidecar(self, path: Path, md5: bytes, st: os.stat_result) -> None:
        sidecar = _sidecar(path)
        tmp = temp_path_for(sidecar)
        tmp.write_text(json.dumps({"md5": md5.hex(), "size": st.st_size, "mtime_ns": st.st_mtime_ns}), encoding="utf-8")
        os.replace(tmp, sidecar)

    def _info(self, name: str, path: Path, st: os.stat_result) -> BlobInfo:
        md5 = self._md5_for(path, st)
        return BlobInfo(
            name=name,
            size=st.st_size,
            last_modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC),
            etag=_etag(md5, st),
            content_md5=md5,
        )

    # -- BlobStore ---------------------------------------------------------------------------------

    def create_container(self) -> bool:
        if self.folder.is_dir():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        return True

    def list_blobs(self, prefix: str = "") -> Iterator[BlobInfo]:
        """One walk of the container folder (counted as one listing request), in name order."""
        self.stats.add(list_requests=1)
        self._require_container("list")
        start = self.folder
        folder_part = prefix.rpartition("/")[0]
        if folder_part:
            start = self.folder / folder_part
            if not start.is_dir():
                return
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            base = Path(dirpath)
            rel_dir = base.relative_to(self.folder).as_posix()
            for filename in filenames:
                if is_temp_name(filename) or is_sidecar_name(filename):
                    continue
                name = filename if rel_dir == "." else f"{rel_dir}/{filename}"
                if name.startswith(prefix):
                    found.append((name, base / filename))
        for name, path in sorted(found):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue  # deleted while listing
            yield self._info(name, path, st)

    def upload_file(self, name: str, path: Path) -> BlobInfo:
        what = f"upload {name!r}"
        dest = self._path(name)
        self._require_container(what)
        tmp: Path | None = None
        try:
            if dest.is_dir():
                raise BlobStoreError(
                    f"{what}: a folder of that name exists in the local store (blobs 'a' and 'a/...' cannot coexist in a folder)"
                )
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise BlobStoreError(
                    f"{what}: a blob is stored where a folder of that name is needed "
                    "(blobs 'a' and 'a/...' cannot coexist in a folder)"
                ) from None
            self.stats.add(uploads=1)
            tmp = temp_path_for(dest)
            digest_src = hashlib.md5()
            sent = 0
            with open(path, "rb") as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK_SIZE):
                    digest_src.update(chunk)
                    out.write(chunk)
                    sent += len(chunk)
            os.replace(tmp, dest)
            tmp = None
            st = dest.stat()
            md5 = digest_src.digest()
            self._write_sidecar(dest, md5, st)
        except OSError as exc:
            raise BlobStoreError(f"{what}: {exc.strerror or exc} ({exc.filename or path})") from exc
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        self.stats.add(bytes_uploaded=sent)
        return BlobInfo(name, st.st_size, datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC), _etag(md5, st), md5)

    def download_into(self, name: str, stream: BinaryIO, *, etag: str | None = None) -> BlobInfo:
        what = f"download {name!r}"
        path = self._path(name)
        self._require_container(what)
        self.stats.add(downloads=1)
        received = 0
        try:
            with open(path, "rb") as fh:
                info = self._info(name, path, os.fstat(fh.fileno()))
                if etag and info.etag != etag:
                    raise BlobChangedError(f"{what}: the blob changed since it was listed")
                while chunk := fh.read(CHUNK_SIZE):
                    stream.write(chunk)
                    received += len(chunk)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFoundError(f"{what}: no such blob in container {self.container!r}") from None
        finally:
            self.stats.add(bytes_downloaded=received)
        return info

    def get_properties(self, name: str) -> BlobInfo:
        path = self._path(name)
        self.stats.add(property_requests=1)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is None or not path.is_file():
            raise BlobNotFoundError(f"get properties of {name!r}: no such blob in container {self.container!r}")
        return self._info(name, path, st)

    def delete_blob(self, name: str) -> None:
        path = self._path(name)
        self.stats.add(deletes=1)
        if not path.is_file():
            raise BlobNotFoundError(f"delete {name!r}: no such blob in container {self.container!r}")
        path.unlink()
        _sidecar(path).unlink(missing_ok=True)
        parent = path.parent
        while parent != self.folder and parent.is_relative_to(self.folder):
            try:
                parent.rmdir()  # only succeeds when empty: mirrors Azure's virtual folders
            except OSError:
                break
            parent = parent.parent
