"""Errors raised by the storage layer.

Every message is written to be shown to a user as is: it names the blob or file and the problem,
and never contains a credential (backends build their own messages instead of echoing SDK text
that may carry a signed URL). The sync uses the classes to decide what to do: transient errors and
checksum mismatches are retried, everything else fails that one file, and authentication or missing
container errors stop the whole run because no other file could succeed.
"""

from __future__ import annotations


class BlobStoreError(Exception):
    """Base class: a storage operation failed; the message is safe to print."""


class SettingsError(BlobStoreError):
    """The storage settings (environment / `.env`) are incomplete or contradictory."""


class BlobAuthError(BlobStoreError):
    """The service refused the credentials (HTTP 401/403) or the request could not be signed."""


class ContainerNotFoundError(BlobStoreError):
    """The container does not exist."""


class BlobNotFoundError(BlobStoreError):
    """The blob does not exist."""


class BlobChangedError(BlobStoreError):
    """The blob changed between the listing and the transfer (its etag no longer matches)."""


class TransientBlobError(BlobStoreError):
    """A network or server-side failure that may succeed when tried again."""


class ChecksumMismatchError(BlobStoreError):
    """The bytes received do not match the MD5 recorded for the blob.

    Retried like a transient error, since corruption in transit is the usual cause; if the stored
    MD5 itself is wrong every attempt fails and the file is reported, never kept.
    """


class UnsafeBlobName(BlobStoreError, ValueError):
    """A blob name that could write outside the target folder (or cannot be a relative path)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"refusing blob name {name!r}: {reason}")
