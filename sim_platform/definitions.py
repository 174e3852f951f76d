"""The one `Definitions` object of sim_platform (`workspace.yaml`, `dg dev`, `dg check defs`).

Everything is found in `sim_platform/defs/` by Dagster's `load_from_defs_folder`: one package per
layer (`landing/`, `bronze/`, `silver/`, `gold/`, each with its assets, checks, sensors and
schedules) plus what they share (partitions, automation, policies, asset keys), and
`defs/deployment.py`, where the environment picks the resources and the executor. Nothing is listed
by hand here.
"""

from __future__ import annotations

from pathlib import Path

from dagster import load_from_defs_folder

from sim_platform.defs.deployment import build_executor, build_resources  # noqa: F401 (the deployment's API)

defs = load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)
