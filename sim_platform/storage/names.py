"""Blob names, prefixes and container names: the only place that turns a name into a path.

A blob name comes from a remote listing, so it is untrusted input: `../x`, `/etc/x`, `a\\b`,
`C:x` or `a//b` must never become a path. `safe_relative_path` is the single gate used by the
download side of the sync and by the local-folder backend, so both refuse exactly the same names.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path, PurePosixPath

from sim_platform.storage.errors import SettingsError, UnsafeBlobName

TEMP_SUFFIX = ".simtmp"
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def safe_relative_path(name: str) -> PurePosixPath:
    """Return `name` as a relative path that cannot leave the folder it is joined to.

    Refused: empty names, NUL characters, backslashes (a separator on Windows, and Azure itself
    turns them into `/`), absolute names, drive letters at the start of any segment, and empty,
    `.` or `..` segments. Nothing is normalised away: a name that needs fixing is refused, so the
    file written is always exactly the blob named.
    """
    if not isinstance(name, str) or name == "":
        raise UnsafeBlobName(str(name), "the name is empty")
    if "\x00" in name:
        raise UnsafeBlobName(name, "it contains a NUL character")
    if "\\" in name:
        raise UnsafeBlobName(name, "it contains a backslash")
    if name.startswith("/"):
        raise UnsafeBlobName(name, "it is an absolute path")
    parts = name.split("/")
    for part in parts:
        if part == "":
            raise UnsafeBlobName(name, "it has an empty path segment ('//' or a trailing '/')")
        if part in (".", ".."):
            raise UnsafeBlobName(name, f"it has a {part!r} path segment")
        if _DRIVE.match(part):
            raise UnsafeBlobName(name, "it contains a drive letter")
    return PurePosixPath(*parts)


def resolve_inside(root: Path, name: str) -> Path:
    """Map blob `name` to a path under `root`, refusing anything that would land outside it.

    Besides the syntactic check, the existing part of the destination's parent is resolved so a
    symbolic link inside `root` pointing elsewhere cannot be used to escape either.
    """
    rel = safe_relative_path(name)
    root_abs = Path(root).resolve()
    target = root_abs.joinpath(*rel.parts)
    if not target.parent.resolve().is_relative_to(root_abs):
        raise UnsafeBlobName(name, f"it resolves outside {root_abs} through a symbolic link")
    return target


def normalise_prefix(prefix: str | None) -> str:
    """Turn a user prefix into a folder-like blob prefix: '' or 'a/b/' (always ending in '/').

    A prefix is treated as a folder so `--prefix raw` and `--prefix raw/` mean the same thing and
    `raw` never matches `rawdata/...`.
    """
    if prefix is None:
        return ""
    stripped = prefix.strip().rstrip("/")
    if stripped == "":
        return ""
    try:
        safe_relative_path(stripped)
    except UnsafeBlobName as exc:
        raise UnsafeBlobName(prefix, f"unusable as a prefix: {exc.reason}") from None
    return stripped + "/"


def validate_container_name(name: str) -> str:
    """Apply Azure's container naming rules to both backends (and keep local paths tame)."""
    if not isinstance(name, str) or not _CONTAINER.match(name):
        raise SettingsError(
            f"invalid container name {name!r}: use 3-63 lowercase letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        )
    return name


def temp_path_for(final: Path) -> Path:
    """A unique temporary name beside `final` (same folder, so the final rename is atomic).

    Hidden and ending in `.simtmp`: folder scans skip such files, so a transfer killed half way
    leaves a file no later run can take for the complete one.
    """
    return final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")


def is_temp_name(filename: str) -> bool:
    """True for names made by `temp_path_for`."""
    return filename.startswith(".") and filename.endswith(TEMP_SUFFIX)


def temp_is_orphaned(filename: str) -> bool:
    """True for a temporary file whose writing process is gone (its pid is in the name; names
    without one come from before pids were recorded, and their writers are long gone)."""
    m = re.search(r"\.(\d+)-[0-9a-f]{12}" + re.escape(TEMP_SUFFIX) + "$", filename)
    if not m:
        return True
    return not process_alive(int(m.group(1)))


def process_alive(pid: int) -> bool:
    """Whether a process of this machine still runs (this one included; one we may not signal runs)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
