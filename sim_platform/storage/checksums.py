"""MD5 helpers shared by the backends and the sync.

MD5 is what Azure records as a blob's Content-MD5, so it is the one checksum both sides can compare
without downloading anything. hashlib releases the GIL on large updates, so hashing in worker
threads really runs in parallel.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1024 * 1024


def md5_file(path: Path | str) -> bytes:
    """MD5 digest of a file's content, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.digest()


def md5_b64(digest: bytes | None) -> str:
    """Base64 form, as the Azure portal and `Content-MD5` headers show it."""
    return base64.b64encode(digest).decode("ascii") if digest else "(none)"


class HashingWriter:
    """A write-only stream that forwards to a file and keeps the MD5 and size of what went through."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._md5.update(data)
        self.size += len(data)
        return self._target.write(data)

    def digest(self) -> bytes:
        return self._md5.digest()
