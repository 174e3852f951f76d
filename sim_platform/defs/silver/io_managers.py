"""The silver IO manager: stores and loads the parquet hierarchy, nothing else.

`handle_output` receives what `resampled_5s` computed -- `core.silver.days.SilverDays`, the
encoded hour files of the run's partitions, staged per day on local disk -- and publishes them into
the target (`{phase_module}/YYYY/MM/DD/HH.parquet` in a folder or the container, each day as one
unit with its quality report, through `layout.publishing`, as the ETL does), days in parallel
processes. `load_input` returns a read-on-access mapping `{"day|phase_module": StoredDay}` over the requested
(day, phase_module) partitions that are stored, so a downstream asset over 30 days x 28 modules
never holds them all in memory.
"""

from collections.abc import Iterator, Mapping
from datetime import date

from dagster import ConfigurableIOManager, InputContext, OutputContext

from sim_platform.core.silver.days import SilverDays
from sim_platform.core.silver.store import store_silver
from sim_platform.core.store.read import StoredDay, read_stored_day, stored_hierarchies
from sim_platform.core.store.targets import TargetSpec
from sim_platform.defs.partitions import by_day
from sim_platform.defs.resources import PlatformPaths, SilverStore


class SilverPartitions(Mapping):
    """`{"day|phase_module": StoredDay or None}`, each read when first asked for (`store.read`)."""

    def __init__(self, spec: TargetSpec, keys: list[str]):
        self.spec = spec
        self.keys_ = list(keys)

    def __getitem__(self, key: str) -> StoredDay | None:
        if key not in self.keys_:
            raise KeyError(key)
        day, pm = key.split("|")
        return read_stored_day(self.spec.open(), pm, date.fromisoformat(day))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)


class SilverIOManager(ConfigurableIOManager):
    store: SilverStore
    paths: PlatformPaths

    def write(self, hours: SilverDays) -> dict[str, int]:
        """Store the built days of `hours`; hour files written per day."""
        try:
            return store_silver(self.store.spec(), hours, self.paths.worker_count())
        finally:
            hours.discard()

    def handle_output(self, context: OutputContext, obj: SilverDays) -> None:
        if not isinstance(obj, SilverDays):
            raise TypeError(f"the silver IO manager stores SilverDays, not {type(obj).__name__}")
        written = self.write(obj)
        context.add_output_metadata(
            {
                "target": self.store.spec().root,
                "days_written": len(written),
                "partitions_written": len(obj.partitions),
                "files_written": sum(written.values()),
            }
        )

    def load_input(self, context: InputContext):
        wanted = by_day(context.asset_partition_keys) if context.has_asset_partitions else {}
        if not wanted:
            raise ValueError("resampled_5s is partitioned by (day, phase_module): load it for one or more partitions")
        spec = self.store.spec()
        target = spec.open()
        keys = []
        for day, pms in wanted.items():
            stored = set(stored_hierarchies(target, date.fromisoformat(day)))
            keys += [f"{day}|{pm}" for pm in pms if pm in stored]
        return SilverPartitions(spec, keys)
