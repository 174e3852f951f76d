"""Instance-level pieces named in `dagster.yaml` files (not definitions: a code location never loads them).

`ModuleDayRunCoordinator` is Dagster's `QueuedRunCoordinator` (the run queue, unchanged) whose import
puts Dagster's partition key ranges of a (day x phase_module) selection into rectangles. A run over a
range of a `MultiPartitionsDefinition` covers the rectangle between its two keys
(`get_partition_keys_in_range` is the product of the two dimensions' ranges), but Dagster cuts a
selection into one range per key of its shorter dimension (`DefaultPartitionsSubset.get_partition_key_ranges`,
dagster-io/dagster#18852 and #23996): every module over 30 days becomes 28 runs, each reading every
bronze day again. `module_day_ranges` covers the same keys with rectangles instead: every module over
any days, one module over a range, one day over every module and any block of modules by days are
one range each, so one run under a single-run backfill policy; a scattered set costs one run per
block. The backfill daemon and the automation sensor compute these ranges in the daemon's process,
which loads the run coordinator when it starts; the same coordinator in the webserver keeps its
previews equal. Pinned by `sim_platform_tests/defs/test_run_counts.py`.

The automation sensor does not follow backfill policies at all: Dagster's automation makes one run
per partition key it requests, so a landing that updates a bronze day was 28 runs of silver, plot
and features. `automation_run_requests`, installed the same way, gives the assets of a
(day x phase_module) definition with a single-run policy the runs a backfill of them gets (pinned by
`sim_platform_tests/defs/test_sensors.py`; `bench/freshness_bench.py` measures a landing).

Loading the module also makes the daemon look every second (not every 5 s) for a sensor whose
interval has passed (`DAEMON_LOOP_S`), so a 5 s sensor ticks every 5 s, not every 5 or 10.

`ConnectionStringComputeLogManager` is dagster-azure's `AzureBlobComputeLogManager` -- step stdout and
stderr captured locally and uploaded to a blob container, shown in the UI -- for an account reached
by a connection string. The compose deployment's container is Azurite, at
`http://azurite:10000/devstoreaccount1`; the stock class always builds
`https://<account>.blob.<endpoint_suffix>/`, which cannot point there. Only the client is built
differently; uploading, reading back and the UI's links are the stock class's. The Kubernetes
deployment uses the stock class as it is (workload identity, `default_azure_credential`).

`BatchedSqliteEventLogStorage` is Dagster's SQLite event log (the same files under
`$DAGSTER_HOME/history/runs/`, the same schema, readable by the stock class) for runs over many
(day, phase_module) partitions, whose events the stock class writes one by one, each with a new
engine, a connection whose close checkpoints the write-ahead log, and a synced commit, to the run's
database and again to the index database. Here a batch (`DAGSTER_EVENT_BATCH_SIZE`: a ranged run's
planned events, the materialisations of one output over many partitions) is one transaction per
database, each event serialised once; an engine and a connection per database are kept; commits
are not synced one by one (`PRAGMA synchronous=NORMAL` under the write-ahead log the stock class
already sets: a power cut can lose the last events, never corrupt the database); and a run's
database file is touched after each write, since the UI follows a run's log by watching that file.
Only the embedded instance uses it; compose and Kubernetes keep their events in PostgreSQL.
"""

import os
from collections import OrderedDict
from contextlib import contextmanager, suppress
from itertools import groupby

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
from dagster import (
    AssetCheckKey,
    AssetKey,
    BackfillPolicy,
    Field,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    Noneable,
    PartitionKeyRange,
    StringSource,
)
from dagster._core.definitions import automation_tick_evaluation_context as _tick
from dagster._core.definitions.backfill_policy import BackfillPolicyType
from dagster._core.definitions.partitions.subset.default import DefaultPartitionsSubset
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._daemon import asset_daemon as _asset_daemon
from dagster._daemon import sensor as _sensor_daemon
from dagster_azure.blob import AzureBlobComputeLogManager
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from sim_platform.storage.settings import parse_connection_string


class ConnectionStringComputeLogManager(AzureBlobComputeLogManager):
    def __init__(
        self,
        connection_string: str,
        container: str,
        local_dir: str | None = None,
        inst_data=None,
        prefix: str = "dagster",
        upload_interval: int | None = None,
        show_url_only: bool = False,
    ):
        parts = parse_connection_string(connection_string)
        super().__init__(
            storage_account=parts.get("accountname", "devstoreaccount1"),
            container=container,
            local_dir=local_dir,
            inst_data=inst_data,
            prefix=prefix,
            upload_interval=upload_interval,
            access_key_or_sas_token=parts.get("accountkey") or parts.get("sharedaccesssignature") or "unused",
            show_url_only=show_url_only,
        )
        self._blob_client = BlobServiceClient.from_connection_string(connection_string)
        self._container_client = self._blob_client.get_container_client(container)
        try:
            self._container_client.create_container()
        except ResourceExistsError:
            pass

    @classmethod
    def config_type(cls):
        return {
            "connection_string": StringSource,
            "container": StringSource,
            "local_dir": Field(Noneable(StringSource), is_required=False, default_value=None),
            "prefix": Field(StringSource, is_required=False, default_value="dagster"),
            "upload_interval": Field(Noneable(int), is_required=False, default_value=None),
            "show_url_only": Field(bool, is_required=False, default_value=False),
        }


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as contiguous (first, last) runs."""
    out = []
    for _, group in groupby(enumerate(sorted(indices)), key=lambda t: t[1] - t[0]):
        run = [i for _, i in group]
        out.append((run[0], run[-1]))
    return out


def _rectangles(keys: list[tuple[str, str]], a_order: list[str], b_order: list[str]) -> list[tuple[int, int, int, int]]:
    """Cover (a, b) pairs with blocks: the a's sharing the same set of b's, in contiguous runs of
    each dimension's order; (a first, a last, b first, b last) as indices."""
    a_index, b_index = {k: i for i, k in enumerate(a_order)}, {k: i for i, k in enumerate(b_order)}
    by_a: dict[str, set[str]] = {}
    for a, b in keys:
        by_a.setdefault(a, set()).add(b)
    groups: dict[frozenset, list[int]] = {}
    for a, bs in by_a.items():
        groups.setdefault(frozenset(bs), []).append(a_index[a])
    return [
        (a0, a1, b0, b1) for bs, a_idx in groups.items() for a0, a1 in _runs(a_idx) for b0, b1 in _runs([b_index[b] for b in bs])
    ]


def module_day_ranges(keys, partitions_def: MultiPartitionsDefinition) -> list[PartitionKeyRange] | None:
    """The fewest-blocks cover of a two-dimensional selection as partition key ranges, each range
    the rectangle between its keys; None when a key is not in the definition (Dagster's own ranges then)."""
    first, second = partitions_def.partitions_defs
    orders = [first.partitions_def.get_partition_keys(), second.partitions_def.get_partition_keys()]
    pairs = []
    for key in keys:
        by_dim = partitions_def.get_partition_key_from_str(key).keys_by_dimension
        pairs.append((by_dim[first.name], by_dim[second.name]))
    known = [set(orders[0]), set(orders[1])]
    if any(a not in known[0] or b not in known[1] for a, b in pairs):
        return None
    by_first = _rectangles(pairs, orders[0], orders[1])
    by_second = [(a0, a1, b0, b1) for b0, b1, a0, a1 in _rectangles([(b, a) for a, b in pairs], orders[1], orders[0])]
    best = min(by_first, by_second, key=len)

    def key(a: int, b: int) -> str:
        return MultiPartitionKey({first.name: orders[0][a], second.name: orders[1][b]})

    return [PartitionKeyRange(key(a0, b0), key(a1, b1)) for a0, a1, b0, b1 in sorted(best)]


_dagster_ranges = DefaultPartitionsSubset.get_partition_key_ranges


def _ranges(self, partitions_def):
    if isinstance(partitions_def, MultiPartitionsDefinition) and self.subset:
        ranges = module_day_ranges(self.subset, partitions_def)
        if ranges is not None:
            return ranges
    return _dagster_ranges(self, partitions_def)


DefaultPartitionsSubset.get_partition_key_ranges = _ranges

_dagster_run_requests = _tick.build_run_requests


def automation_run_requests(entity_subsets, asset_graph, run_tags, emit_backfills):
    """The automation sensor's runs: Dagster's, except for the assets partitioned by (day,
    phase_module) with a single-run policy. Dagster's automation (`emit_backfills=False`) makes one
    run per partition key, whatever the backfill policy: a landing that updates a bronze day would
    be 28 runs of silver, plot and features, each reading the bronze day again (measured: 28 runs,
    183 s until the last module's hour files, instead of one run). Those assets, when they are
    requested for the same partitions, get the runs a backfill of them gets: one per rectangle of
    `module_day_ranges`, the checks of the assets riding along as in Dagster's runs."""
    if emit_backfills:
        return _dagster_run_requests(entity_subsets, asset_graph, run_tags, emit_backfills)
    ranged: dict = {}
    rest = []
    for subset in entity_subsets:
        node = asset_graph.get(subset.key) if isinstance(subset.key, AssetKey) else None
        policy = node.backfill_policy if node is not None else None
        if (
            node is not None
            and isinstance(node.partitions_def, MultiPartitionsDefinition)
            and policy is not None
            and policy.policy_type == BackfillPolicyType.SINGLE_RUN
        ):
            ranged.setdefault(node.partitions_def, []).append(subset)
        else:
            rest.append(subset)
    requests = []
    for partitions_def, subsets in ranged.items():
        keys = {frozenset(s.expensively_compute_partition_keys()) for s in subsets}
        if len(keys) != 1:  # the same assets for different partitions: Dagster's own runs, which keep them apart
            rest += subsets
            continue
        asset_keys = [s.key for s in subsets]
        checks = list(asset_graph.get_check_keys_for_assets(set(asset_keys)))
        requests += _tick._build_run_requests_with_backfill_policy(  # noqa: SLF001
            asset_keys,
            checks,
            BackfillPolicy.single_run(),
            next(iter(keys)),
            partitions_def,
            tags=dict(run_tags or {}),
            dynamic_partitions_store=None,
        )
    checked = {k for r in requests for k in r.asset_selection or []}
    rest = [s for s in rest if not (isinstance(s.key, AssetCheckKey) and s.key.asset_key in checked)]
    return [*_dagster_run_requests(rest, asset_graph, run_tags, emit_backfills), *requests]


_tick.build_run_requests = automation_run_requests

#: seconds between the daemon's looks at whether a sensor is due (Dagster's: 5, a module constant of
#: the sensor daemon and of the automation daemon). At 5, a sensor whose interval is 5 s is found
#: 4.99 s after its last tick every other time and ticks after 10 s instead. The looks themselves
#: read the sensors' states only; the intervals stay the sensors' own.
DAEMON_LOOP_S = 1
_sensor_daemon.MIN_INTERVAL_LOOP_TIME = _asset_daemon.MIN_INTERVAL_LOOP_SECONDS = DAEMON_LOOP_S


class ModuleDayRunCoordinator(QueuedRunCoordinator):
    """The run queue as it is; loading it installs `module_day_ranges` in the process (module docstring)."""


#: engines kept, the most recently used shards' (a run's database and the index are the busy ones)
_ENGINES_KEPT = 8


def _unsynced_commits(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, a batch written in one transaction per database (module docstring)."""

    def __init__(self, dagster_home: str | None = None, inst_data=None):
        home = dagster_home or os.environ.get("DAGSTER_HOME") or ""
        if not home:
            raise ValueError("BatchedSqliteEventLogStorage: DAGSTER_HOME is not set and no dagster_home is configured")
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # the last shards' engines (the stock: one per statement)
        self._tables: set[str] = set()
        super().__init__(os.path.join(home, "history", "runs", ""), inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"dagster_home": Field(Noneable(StringSource), is_required=False, default_value=None)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            # one connection kept open per database: closing the last connection to a database in
            # write-ahead-log mode checkpoints the log into it, a synced write for every statement
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=4,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _unsynced_commits)
            while len(self._engines) >= _ENGINES_KEPT:
                self._engines.popitem(last=False)[1].dispose()
        self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str):
        # the stock `_connect`, with its engine and connection kept and commits unsynced
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                before = conn.connection.dbapi_connection.total_changes
                with conn.begin():
                    yield conn
                wrote = conn.connection.dbapi_connection.total_changes != before
            if wrote and shard != INDEX_SHARD_NAME:
                # The UI follows a run's log by watching its database file change (the stock class's
                # close checkpoints the log into it each time); the log grows in the -wal file here,
                # so the file is touched instead, after the commit
                with suppress(FileNotFoundError):  # wiped meanwhile: nothing to follow
                    os.utime(self.path_for_shard(shard))

    def has_table(self, table_name: str) -> bool:
        # asked for at every asset event; a table, once there, stays
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def wipe(self) -> None:
        super().wipe()
        self._tables.clear()

    def dispose(self) -> None:
        super().dispose()
        while self._engines:
            self._engines.popitem()[1].dispose()

    def store_event_batch(self, events) -> None:
        """What `store_event` does for each event, in one transaction on the run's database and one
        on the index database for each run's events."""
        for run_id, group in groupby(events, key=lambda e: e.run_id):
            group = list(group)
            rows = [self._event_to_row(e) for e in group]  # each event serialised once, for both databases
            with self.run_connection(run_id) as conn:
                conn.execute(SqlEventLogStorageTable.insert(), rows)
            assets = [
                (e, row)
                for e, row in zip(group, rows)
                if e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS and e.dagster_event.asset_key
            ]
            if assets:
                with self.index_transaction() as conn:
                    ids = []
                    for _, row in assets:
                        with db_result(conn, SqlEventLogStorageTable.insert().values(**row)) as result:
                            ids.append(result.inserted_primary_key[0])
                    self._store_asset_event_tags(conn, [e for e, _ in assets], ids)
                    # an asset's row holds the last event of each kind: the last of each (key, kind),
                    # applied in the order they came, leaves the row as applying every event would
                    last = {(e.dagster_event.asset_key, e.dagster_event_type): (e, i) for (e, _), i in zip(assets, ids)}
                    for e, i in sorted(last.values(), key=lambda t: t[1]):
                        self._store_asset_event(conn, e, i)
            for e, row in zip(group, rows):
                if not e.is_dagster_event:
                    continue
                if e.dagster_event_type in ASSET_CHECK_EVENTS:
                    with (
                        self.index_connection() as conn,
                        db_result(conn, SqlEventLogStorageTable.insert().values(**row)) as result,
                    ):
                        event_id = result.inserted_primary_key[0]
                    self.store_asset_check_event(e, event_id)
                elif e.dagster_event_type in EVENT_TYPE_TO_PIPELINE_RUN_STATUS:
                    with self.index_connection() as conn:
                        conn.execute(SqlEventLogStorageTable.insert().values(**row))
