"""What a configured source is, once validated: its format and which files it claims.

A source says how to read its files (`kind`, and for CSV/JSON the column mapping) and which files
are its own (file-name `patterns`). Several sources may share one folder or blob prefix: a file
belongs to the FIRST source, in configuration order, whose patterns match its name, so the order
of `pipelines.yaml` is also its precedence. These objects are plain frozen dataclasses, so they
travel to worker processes with the files they describe; `config.pipelines` builds them from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch

#: reader kinds (what `InputFile.kind` holds) and the configuration names for them
KINDS = {"telemetry_parquet": "telemetry", "hdf5_runs": "hdf5", "csv": "csv", "json": "json"}
DEFAULT_PATTERNS = {
    "telemetry": ("*.parquet",),
    "hdf5": ("*.h5", "*.hdf5"),
    "csv": ("*.csv",),
    "json": ("*.json", "*.jsonl", "*.ndjson"),
}


@dataclass(frozen=True)
class ColumnMap:
    """Where a CSV/JSON source keeps the four canonical fields.

    `tags` names one column holding the tag set: in CSV a string `phase=1;module=3` (separators
    `tag_separator` and `tag_assign`), in JSON an object `{"phase": "1"}` or a list of `[key, value]`
    pairs. `tag_columns` maps further columns to tag keys (`{"ph": "phase"}`): a row's non-empty
    value in such a column becomes that tag. Either or both may be used.
    """

    timestamp: str
    payload: str
    value: str
    tags: str | None = None
    tag_columns: tuple[tuple[str, str], ...] = ()
    timestamp_format: str = "iso8601"  # iso8601 | epoch_s | epoch_ms
    tag_separator: str = ";"
    tag_assign: str = "="

    @property
    def source_columns(self) -> list[str]:
        cols = [self.timestamp, self.payload, self.value] + ([self.tags] if self.tags else [])
        return cols + [c for c, _ in self.tag_columns]


@dataclass(frozen=True)
class SourceFormat:
    name: str
    kind: str  # telemetry | hdf5 | csv | json
    patterns: tuple[str, ...]
    columns: ColumnMap | None = None

    def claims(self, file_name: str) -> bool:
        return any(fnmatch(file_name, p) for p in self.patterns)


def default_sources() -> tuple[SourceFormat, ...]:
    """Telemetry exports and HDF5 runs by file suffix: what `--input` means without a config."""
    return (
        SourceFormat("telemetry_exports", "telemetry", DEFAULT_PATTERNS["telemetry"]),
        SourceFormat("simulation_runs", "hdf5", DEFAULT_PATTERNS["hdf5"]),
    )


def claim(file_name: str, sources: tuple[SourceFormat, ...] | list[SourceFormat]) -> SourceFormat | None:
    """The first source whose patterns match `file_name` (a base name), or None."""
    for src in sources:
        if src.claims(file_name):
            return src
    return None
