"""The silver IO manager: hour files of many (day, phase_module) partitions in, lazily out.

Unlike Dagster's stock UPathIOManager it handles a run that covers many partitions (a single-run
backfill): `handle_output` receives a `SilverBatch` for all of the run's partitions and executes it
into the configured target (a local folder or the blob container), one worker per day;
`load_input` returns a read-on-access mapping `{partition: (table, column facts)}`, so a
downstream asset over 30 days x 28 modules never holds them all in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pyarrow as pa
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext

from sim_platform.defs.partitions import split_key
from sim_platform.defs.resources import SilverStore, TargetSpec
from sim_platform.defs.silver_batch import SilverBatch, read_partition


class SilverPartitions(Mapping):
    """`{partition key string: (table or None, column facts)}`, each read when first asked for."""

    def __init__(self, spec: TargetSpec, keys: list[str]):
        self.spec = spec
        self.keys_ = list(keys)

    def __getitem__(self, key: str) -> tuple[pa.Table | None, dict]:
        if key not in self.keys_:
            raise KeyError(key)
        day, pm = split_key(key)
        return read_partition(self.spec, pm, day)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)


def _output_keys(context: OutputContext) -> list[str]:
    return [str(k) for k in context.asset_partition_keys] if context.has_asset_partitions else []


class SilverIOManager(ConfigurableIOManager):
    store: SilverStore

    def handle_output(self, context: OutputContext, obj: SilverBatch) -> None:
        if not isinstance(obj, SilverBatch):
            raise TypeError(f"the silver IO manager stores SilverBatch objects, not {type(obj).__name__}")
        wanted = {split_key(k) for k in _output_keys(context)}
        planned = {(d, pm) for d, pms in obj.days.items() for pm in pms}
        if wanted and wanted != planned:
            raise ValueError(f"batch covers {len(planned)} partitions but the run asks for {len(wanted)}")
        spec = self.store.spec()
        results = obj.write(spec)
        files = sum(len(s.files) for s in results.values())
        rows = sum(s.rows for s in results.values())
        meta: dict = {"partitions": len(results), "rows": rows, "files": files, "target": spec.root}
        if len(results) == 1:
            (s,) = results.values()
            meta.update(
                {
                    "null_share": MetadataValue.json(s.null_share),
                    "completeness": s.completeness,
                    "preview": MetadataValue.md(s.preview or "(no rows)"),
                    "first_file": s.files[0] if s.files else "",
                }
            )
        else:
            # one small dict for all partitions: this metadata is copied into EVERY partition's
            # materialisation event, so anything per partition here would grow with N squared
            meta["min_completeness"] = min((s.completeness for s in results.values()), default=0.0)
            meta["empty_partitions"] = sum(1 for s in results.values() if not s.rows)
            worst = {}
            for s in results.values():
                for c, v in s.null_share.items():
                    worst[c] = max(worst.get(c, 0.0), v)
            meta["null_share_max"] = MetadataValue.json(worst)
        context.add_output_metadata(meta)

    def load_input(self, context: InputContext):
        spec = self.store.spec()
        keys = [str(k) for k in context.asset_partition_keys] if context.has_asset_partitions else []
        if not keys:
            raise ValueError("resampled_5s is partitioned: load it for one or more partitions")
        return SilverPartitions(spec, keys)
