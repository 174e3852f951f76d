"""`BlobTarget`: the core's `OutputTarget` protocol over a blob container.

`core.layout.write_hierarchy_day` writes through `put/list_day/delete`; with this target the same
rules (hour naming, stale-hour removal) apply to blobs. A blob appears in one commit (a single
upload), so readers never see half a file. Bytes are staged in a temporary file because the store
uploads files (which also records their MD5).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from sim_platform.storage import BlobNotFoundError, BlobStore

_HOUR_FILE = re.compile(r"^\d{2}\.parquet$")


class BlobTarget:
    def __init__(self, store: BlobStore, prefix: str = "silver/"):
        self.store = store
        self.prefix = prefix

    def put(self, relpath: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".simtarget-", suffix=".simtmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            self.store.upload_file(self.prefix + relpath, Path(tmp))
        finally:
            os.unlink(tmp)

    def list_day(self, prefix: str) -> list[str]:
        base = self.prefix + prefix + "/"
        return sorted(
            b.name[len(self.prefix):] for b in self.store.list_blobs(base) if _HOUR_FILE.match(b.name[len(base):])
        )

    def delete(self, relpath: str) -> None:
        try:
            self.store.delete_blob(self.prefix + relpath)
        except BlobNotFoundError:
            pass

    def get(self, relpath: str) -> bytes:
        import io

        buf = io.BytesIO()
        try:
            self.store.download_into(self.prefix + relpath, buf)
        except BlobNotFoundError as exc:  # the same signal as a missing local file
            raise FileNotFoundError(f"{self.prefix + relpath}: no such blob") from exc
        return buf.getvalue()
