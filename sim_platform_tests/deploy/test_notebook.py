"""The walkthrough notebook runs top to bottom against the current library, so it cannot rot."""

from __future__ import annotations

import shutil

import nbformat
from nbclient import NotebookClient

from sim_platform_tests.conftest import REPO


def test_walkthrough_executes(tmp_path, sample_data, monkeypatch):
    monkeypatch.setenv("SIM_PLATFORM_SAMPLE_DATA", str(sample_data))
    shutil.copy(REPO / "notebooks" / "walkthrough.ipynb", tmp_path / "walkthrough.ipynb")
    nb = nbformat.read(tmp_path / "walkthrough.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors and len(images) >= 5


def test_notebook_matches_its_source():
    """notebooks/build_walkthrough.py is the source; the committed .ipynb must carry the same cells."""
    import runpy

    built = runpy.run_path(str(REPO / "notebooks" / "build_walkthrough.py"))["build"]()
    committed = nbformat.read(REPO / "notebooks" / "walkthrough.ipynb", as_version=4)
    assert [c.source for c in built.cells] == [c.source for c in committed.cells]
