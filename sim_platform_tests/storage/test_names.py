"""The single gate between blob names and paths."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from sim_platform.storage.errors import SettingsError, UnsafeBlobName
from sim_platform.storage.names import (
    normalise_prefix,
    resolve_inside,
    safe_relative_path,
    validate_container_name,
)


@pytest.mark.parametrize(
    "name, parts",
    [
        ("run_01/sample_01.h5", ("run_01", "sample_01.h5")),
        ("a.h5", ("a.h5",)),
        ("raw/2024-07-01T00:00:00/x.h5", ("raw", "2024-07-01T00:00:00", "x.h5")),
        ("..hidden/x..y", ("..hidden", "x..y")),
    ],
)
def test_safe_names(name, parts):
    assert safe_relative_path(name) == PurePosixPath(*parts)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("", "empty"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/..", "'..'"),
        ("./x", "'.'"),
        ("/etc/passwd", "absolute"),
        ("a\\..\\x", "backslash"),
        ("\\\\server\\share", "backslash"),
        ("C:x", "drive letter"),
        ("c:/x", "drive letter"),
        ("a/D:/x", "drive letter"),
        ("a//b", "empty path segment"),
        ("a/", "empty path segment"),
        ("a\x00b", "NUL"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(name, reason):
    with pytest.raises(UnsafeBlobName) as info:
        safe_relative_path(name)
    assert reason in str(info.value)
    assert repr(name) in str(info.value)


def test_resolve_inside_refuses_symlink_escape(tmp_path):
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert resolve_inside(root, "run/a.h5") == (root / "run" / "a.h5").resolve()
    with pytest.raises(UnsafeBlobName, match="symbolic link"):
        resolve_inside(root, "link/a.h5")


def test_prefix_is_normalised_to_a_folder():
    assert normalise_prefix("") == "" and normalise_prefix(None) == "" and normalise_prefix("/") == ""
    assert normalise_prefix("raw") == "raw/" == normalise_prefix("raw/")
    assert normalise_prefix("raw/2024") == "raw/2024/"
    with pytest.raises(UnsafeBlobName, match="prefix"):
        normalise_prefix("../raw")


def test_container_names():
    assert validate_container_name("simulation-data") == "simulation-data"
    for bad in ["ab", "Upper", "a--b", "-a-", "a_b", "x" * 64, "../x"]:
        with pytest.raises(SettingsError):
            validate_container_name(bad)
