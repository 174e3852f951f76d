"""`sim-platform sync up|down` end to end through `main()`, on both backends, configured by environment."""

from __future__ import annotations

import os

import pytest

from sim_platform.cli import main
from sim_platform_tests.storage.helpers import expected_md5, make_runs, tree_md5


@pytest.fixture
def cli_env(backend, monkeypatch, tmp_path):
    """Point the CLI's settings at the backend under test, from a clean environment and cwd."""
    for name in [n for n in os.environ if n.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_STORAGE_CONTAINER_NAME", backend.store.container)
    if backend.kind == "local":
        monkeypatch.setenv("SIM_PLATFORM_LOCAL_BLOB_ROOT", str(backend.store.root))
    else:
        azurite = backend.store.endpoint
        key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
        monkeypatch.setenv(
            "AZURE_STORAGE_CONNECTION_STRING",
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint={azurite};",
        )
    monkeypatch.chdir(tmp_path)
    return backend


def test_up_then_down_then_noop(cli_env, tmp_path, capsys):
    content = make_runs(tmp_path / "mock_hdf5_runs")
    assert main(["sync", "up", "--from", "mock_hdf5_runs", "--prefix", "raw/", "--concurrency", "4"]) == 0
    out, err = capsys.readouterr()
    assert f"sync up: sent {len(content)}, skipped 0, failed 0" in out
    assert "sync up" in err  # the progress bar
    assert main(["sync", "up", "--from", "mock_hdf5_runs", "--prefix", "raw/", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert f"sync up: sent 0, skipped {len(content)}, failed 0" in out and "[1 listing request(s)" in out
    assert err == ""

    assert main(["sync", "down", "--to", "downloaded_runs", "--prefix", "raw", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert f"sync down: downloaded {len(content)}, skipped 0, failed 0" in out
    assert tree_md5(tmp_path / "downloaded_runs") == expected_md5(content)
    assert (tmp_path / "logs" / "upload.log").is_file() and (tmp_path / "logs" / "download.log").is_file()


def test_any_failed_file_makes_exit_code_1_and_is_listed(cli_env, tmp_path, capsys):
    make_runs(tmp_path / "src", runs=1, files=2)
    assert main(["sync", "up", "--from", "src", "--no-progress"]) == 0
    cli_env.plant("C:evil.h5", b"never written")
    code = main(["sync", "down", "--to", "dst", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "downloaded 2, skipped 0, failed 1" in out
    assert "FAILED refusing blob name 'C:evil.h5': it contains a drive letter" in err
    assert sorted(tree_md5(tmp_path / "dst")) == ["run_00/sample_00.h5", "run_00/sample_01.h5"]


def test_fatal_problems_exit_2_with_a_clear_message(cli_env, tmp_path, capsys):
    assert main(["sync", "up", "--from", "no_such_folder"]) == 2
    assert "source folder no_such_folder does not exist" in capsys.readouterr().err
    assert main(["sync", "down", "--to", "dst", "--container", "missing-container"]) == 2
    assert "container 'missing-container' does not exist" in capsys.readouterr().err
    assert main(["sync", "up", "--from", ".", "--container", "Not_Valid"]) == 2
    assert "invalid container name" in capsys.readouterr().err


def test_bad_arguments_are_rejected_by_the_parser(cli_env, capsys):
    with pytest.raises(SystemExit) as info:
        main(["sync", "up", "--from", "x", "--concurrency", "0"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["sync", "sideways"])
