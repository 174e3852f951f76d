"""How many runs each natural selection of (day, phase_module) partitions becomes, against a real
instance, webserver and daemon.

Backfills are launched as the UI's Materialize dialog launches them (GraphQL
`launchPartitionBackfill` with the asset selection and the partition keys), on an instance made from
the packaged `dagster.yaml` (the project's run coordinator), and the real backfill daemon turns
each into runs. The run queue is closed (`max_concurrent_runs: 0`), so the runs are only counted and
read, never executed: what is pinned is the runs and the partitions they carry.

For every shape the runs together must cover exactly the selected partitions, each once
(dagster-io/dagster#28861: a wrong partition set reaching a run), and their number is asserted:
every module over a range of days, one module over a range, one day over every module and a block
of modules by days are one run each; a scattered set is one run per partition. Dagster's own ranges
(`dagster_instance._dagster_ranges`, without the project's rectangles) are computed beside them:
the same selections would be 28, 1, 1, 3 and 3 runs (dagster-io/dagster#18852, #23996).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from dagster import MultiPartitionKey, PartitionKeyRange, instance_for_test
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.partitions.subset.default import DefaultPartitionsSubset
from dagster._core.storage.dagster_run import RunsFilter

from sim_platform import dagster_instance
from sim_platform.cli.ui_commands import packaged_instance
from sim_platform.storage.azurite import free_port
from sim_platform_tests.conftest import REPO
from sim_platform_tests.defs.helpers import open_instance
from sim_platform_tests.processes import stop_processes

BIN = Path(sys.executable).parent
FIRST, LAST = "2024-07-01", "2024-07-31"
MODULES = [f"phase{p}_module{m}" for p in (1, 2, 3) for m in range(1, 9)] + ["phase1", "phase2", "phase3", "system"]
DAYS = [f"2024-07-{d:02d}" for d in range(1, 31)]
SILVER, PLOT, FEATURES = ["silver", "resampled_5s"], ["gold", "module_day_plot"], ["gold", "module_day_features"]

#: name -> (assets, partition keys, runs expected)
SHAPES = {
    "every module x 30 days": ([SILVER], [(d, m) for d in DAYS for m in MODULES], 1),
    "one module x 30 days": ([SILVER], [(d, "phase2_module5") for d in DAYS], 1),
    "one day x every module": ([SILVER], [("2024-07-03", m) for m in MODULES], 1),
    "phase 1's modules x 10 days": ([SILVER], [(d, m) for d in DAYS[:10] for m in MODULES[:8]], 1),
    "scattered": ([SILVER], [("2024-07-02", "phase1_module1"), ("2024-07-09", "phase3_module4"), ("2024-07-20", "system")], 3),
    "silver, plot and features x every module x 10 days": (
        [SILVER, PLOT, FEATURES],
        [(d, m) for d in DAYS[:10] for m in MODULES],
        1,
    ),
}


def _key(day: str, pm: str) -> str:
    return str(MultiPartitionKey({"day": day, "phase_module": pm}))


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A webserver and a daemon over a fresh instance from the packaged dagster.yaml, queue closed."""
    work = tmp_path_factory.mktemp("run_counts")
    home = work / "dagster_home"
    home.mkdir()
    config = yaml.safe_load(packaged_instance())
    config["run_coordinator"]["config"]["max_concurrent_runs"] = 0  # count the runs, run none
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    (work / "workspace.yaml").write_text(
        yaml.safe_dump(
            {"load_from": [{"python_module": {"module_name": "sim_platform.definitions", "working_directory": str(REPO)}}]}
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_", "DAGSTER_"))},
        "DAGSTER_HOME": str(home),
        "SIM_PLATFORM_HOME": str(work / "platform"),
        "SIM_PLATFORM_START_DATE": FIRST,
        "SIM_PLATFORM_END_DATE": "2024-08-01",
    }
    with open_instance(home) as instance:
        instance.add_dynamic_partitions("phase_module", MODULES)  # what bronze registers from the data
    port = free_port()
    procs = [
        subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=work,
            env=env,
            stdout=open(work / "webserver.log", "wb"),
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=work,
            env=env,
            stdout=open(work / "daemon.log", "wb"),
            stderr=subprocess.STDOUT,
        ),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert all(p.poll() is None for p in procs), (work / "webserver.log").read_text()[-3000:]
            try:
                if _graphql(url, "{ version }").get("data"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the webserver did not answer"
            time.sleep(1)
        yield url, home, procs, work
    finally:
        stop_processes(procs)


def _runs_of_backfills(home: Path, ids: dict[str, str], procs, work: Path, timeout: float = 300) -> dict[str, list]:
    """The runs of each backfill, once the daemon has requested every partition of each."""
    deadline = time.monotonic() + timeout
    with open_instance(home) as instance:
        while True:
            assert all(p.poll() is None for p in procs), (work / "daemon.log").read_text()[-3000:]
            done = {}
            for name, backfill_id in ids.items():
                backfill = instance.get_backfill(backfill_id)
                data = backfill.asset_backfill_data
                if data is not None and data.requested_subset == data.target_subset:
                    done[name] = instance.get_runs(filters=RunsFilter(tags={"dagster/backfill": backfill_id}))
            if len(done) == len(ids):
                return done
            assert time.monotonic() < deadline, f"backfills not fully requested: {set(ids) - set(done)}"
            time.sleep(2)


def _keys_of_run(run, partitions_def) -> list[str]:
    start, end = run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]
    with _registry():
        return [str(k) for k in partitions_def.get_partition_keys_in_range(PartitionKeyRange(start, end))]


@contextmanager
def _registry():
    """The test's phase_module registry, for resolving ranges in this process."""
    with instance_for_test() as inst:
        inst.add_dynamic_partitions("phase_module", MODULES)
        with partition_loading_context(dynamic_partitions_store=inst):
            yield inst


def test_each_selection_shape_becomes_few_runs_with_exactly_its_partitions(stack):
    url, home, procs, work = stack
    from sim_platform.defs.partitions import module_day_partitions

    ids = {}
    for name, (assets, pairs, _) in SHAPES.items():
        params = {
            "assetSelection": [{"path": a} for a in assets],
            "partitionNames": [_key(d, m) for d, m in pairs],
            "fromFailure": False,
            "tags": [],
        }
        answer = _graphql(url, LAUNCH, {"params": params})["data"]["launchPartitionBackfill"]
        assert answer["__typename"] == "LaunchBackfillSuccess", answer
        ids[name] = answer["backfillId"]
    runs = _runs_of_backfills(home, ids, procs, work)
    counts = {}
    for name, (assets, pairs, _) in SHAPES.items():
        got = runs[name]
        counts[name] = len(got)
        covered = [k for r in got for k in _keys_of_run(r, module_day_partitions)]
        assert sorted(covered) == sorted(_key(d, m) for d, m in pairs), name  # exactly the selection, each once
        for r in got:
            assert {tuple(k.path) for k in r.asset_selection} == {tuple(a) for a in assets}, name
        with _registry():
            dagster_own = _dagster_instance_ranges([_key(d, m) for d, m in pairs], module_day_partitions)
        print(f"\n{name}: {len(got)} run(s) (Dagster's own ranges: {dagster_own})")
    assert counts == {name: shape[2] for name, shape in SHAPES.items()}


def _dagster_instance_ranges(keys: list[str], partitions_def) -> int:
    return len(dagster_instance._dagster_ranges(DefaultPartitionsSubset(set(keys)), partitions_def))


def test_dagster_alone_cuts_every_module_over_days_into_a_run_per_module():
    """What the coordinator works around: Dagster's own ranges of the same selections."""
    from sim_platform.defs.partitions import module_day_partitions

    with _registry():
        assert _dagster_instance_ranges([_key(d, m) for d in DAYS for m in MODULES], module_day_partitions) == 28
        assert _dagster_instance_ranges([_key(d, m) for d in DAYS[:10] for m in MODULES], module_day_partitions) == 10
        rect = dagster_instance.module_day_ranges(
            DefaultPartitionsSubset({_key(d, m) for d in DAYS for m in MODULES}).subset, module_day_partitions
        )
        assert [(r.start, r.end) for r in rect] == [(f"{DAYS[0]}|{MODULES[0]}", f"{DAYS[-1]}|{MODULES[-1]}")]
