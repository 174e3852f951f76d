"""Stopping the server processes a test started (Dagster services, code servers)."""

from __future__ import annotations

import subprocess


def stop_processes(procs: list[subprocess.Popen]) -> None:
    """Terminate all, then wait for each; kill what does not exit in time."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
