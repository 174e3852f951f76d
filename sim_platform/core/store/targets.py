"""Where silver and gold files go: a local folder or a blob container, behind one small protocol.

`core.store.layout.publishing` writes a day through `put/list_day/delete` (`layout.OutputTarget`);
`BlobTarget` gives a blob container the same methods, so the same rules (hour naming, stale-hour
removal) apply to blobs. A blob appears in one commit (a single upload), so readers never see half
a file. Bytes are staged in a temporary file because the store uploads files (which also records
their MD5).

`TargetSpec` is the picklable description a worker process opens its own target from: a folder, or
a blob prefix plus a picklable callable that opens the container (the Dagster layer passes one that
builds its client the way its resource does).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sim_platform.core.store.layout import LocalTarget
from sim_platform.storage import BlobNotFoundError, BlobStore

_HOUR_FILE = re.compile(r"^\d{2}\.parquet$")


class BlobTarget:
    """`layout.OutputTarget` over the blobs under `prefix` of a container."""

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
        return sorted(b.name[len(self.prefix) :] for b in self.store.list_blobs(base) if _HOUR_FILE.match(b.name[len(base) :]))

    def delete(self, relpath: str) -> None:
        try:
            self.store.delete_blob(self.prefix + relpath)
        except BlobNotFoundError:
            pass

    def get(self, relpath: str) -> bytes:
        buf = io.BytesIO()
        try:
            self.store.download_into(self.prefix + relpath, buf)
        except BlobNotFoundError as exc:  # the same signal as a missing local file
            raise FileNotFoundError(f"{self.prefix + relpath}: no such blob") from exc
        return buf.getvalue()


@dataclass(frozen=True)
class TargetSpec:
    """A picklable description of a target, so worker processes can open it themselves."""

    kind: str  # "local" | "blob"
    root: str  # folder (local) or blob name prefix ending in "/" (blob)
    store: Callable[[], BlobStore] | None = None  # opens the container (blob only); must pickle

    def open(self) -> LocalTarget | BlobTarget:
        if self.kind == "local":
            return LocalTarget(self.root)
        if self.store is None:
            raise ValueError("a blob target needs a store opener")
        return BlobTarget(self.store(), self.root)
