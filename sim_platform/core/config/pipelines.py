"""`pipelines.yaml`: the one file that declares sources, the signal catalog and destinations.

Adding a source is a configuration change only: the CLI, the blob sensor and the bronze asset all
plan their inputs from `PipelineConfig.sources`. The file is validated when it is loaded (pydantic
for all of it, the catalog section included: `catalog.CatalogModel`), and every problem is reported
with the file and the path of the offending entry, e.g.
`pipelines.yaml: sources.scada.columns.timestamp: Field required`.

The packaged file is `sim_platform/config/pipelines.yaml`; `SIM_PLATFORM_PIPELINES` (Dagster) or
`--config` (CLI) points at another one. It is loaded once per run (`load_pipelines`) and the
loaded object is passed on. Relative `folder` locations resolve against the folder of
the configuration file, so a configuration means the same thing from any working directory.
Secrets never appear here: the warehouse names the environment variable that holds its URL.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim_platform.core.config.catalog import Catalog, CatalogModel, format_validation_error, parse_yaml
from sim_platform.core.config.sources import DEFAULT_PATTERNS, KINDS, ColumnMap, SourceFormat

PACKAGED = "sim_platform/config/pipelines.yaml"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """The pipelines file is malformed; the message names the file and every offending entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    """Exactly one of a local folder or a prefix in the blob container."""

    folder: str | None = None
    blob_prefix: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Location:
        if (self.folder is None) == (self.blob_prefix is None):
            raise ValueError("give exactly one of 'folder' or 'blob_prefix'")
        if self.blob_prefix is not None and (self.blob_prefix.startswith("/") or ".." in self.blob_prefix.split("/")):
            raise ValueError(f"blob_prefix {self.blob_prefix!r} must be a relative name without '..'")
        return self

    @property
    def prefix(self) -> str:
        """The blob prefix, always ending in '/'."""
        p = self.blob_prefix or ""
        return p if p.endswith("/") or not p else p + "/"


class Columns(_Strict):
    timestamp: str
    payload: str
    value: str
    tags: str | None = None
    tag_columns: dict[str, str] = Field(default_factory=dict)
    timestamp_format: Literal["iso8601", "epoch_s", "epoch_ms"] = "iso8601"
    tag_separator: str = ";"
    tag_assign: str = "="

    def to_map(self) -> ColumnMap:
        return ColumnMap(
            self.timestamp,
            self.payload,
            self.value,
            self.tags,
            tuple(self.tag_columns.items()),
            self.timestamp_format,
            self.tag_separator,
            self.tag_assign,
        )


class Source(_Strict):
    kind: Literal["telemetry_parquet", "hdf5_runs", "csv", "json"]
    location: Location
    pattern: list[str] | None = None  # file-name globs; default by kind
    columns: Columns | None = None

    @field_validator("pattern", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _columns_for_tabular(self) -> Source:
        tabular = self.kind in ("csv", "json")
        if tabular and self.columns is None:
            raise ValueError(f"a {self.kind} source needs 'columns' (timestamp, payload, value, tags)")
        if not tabular and self.columns is not None:
            raise ValueError(f"'columns' is only for csv and json sources, not {self.kind}")
        if self.columns is not None and not (self.columns.tags or self.columns.tag_columns):
            raise ValueError("'columns' needs 'tags' or 'tag_columns', or rows cannot be placed in a module")
        return self


class Warehouse(_Strict):
    """Where `ml_training_set` is loaded: PostgreSQL when the environment variable `url_env` holds a
    URL, else the embedded DuckDB file (relative paths under the platform home)."""

    url_env: str = "SIM_PLATFORM_WAREHOUSE_URL"
    duckdb_path: str = "gold/warehouse.duckdb"
    table: str = "ml_training_set"

    @field_validator("table")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"table {v!r} must be a plain identifier")
        return v

    def url(self, env: dict | None = None) -> str | None:
        return (os.environ if env is None else env).get(self.url_env) or None


class Destinations(_Strict):
    """Storage of each layer. bronze: local folder (per-day work files); silver: folder or container
    (the environment may still switch it, see the README); gold: feature files and training sets."""

    bronze: Location = Location(folder="bronze")
    silver: Location = Location(folder="silver")
    gold: Location = Location(blob_prefix="gold/")
    warehouse: Warehouse = Warehouse()

    @field_validator("bronze")
    @classmethod
    def _bronze_is_local(cls, v: Location) -> Location:
        if v.folder is None:
            raise ValueError("bronze is local work files: give a 'folder', not a 'blob_prefix'")
        return v


class Partitions(_Strict):
    """The UTC days the Dagster layer is partitioned by: `start`, the plant's first day of data, to
    `end` (exclusive; none for a live plant: up to the last complete day)."""

    start: date = date(2024, 6, 1)
    end: date | None = None

    @model_validator(mode="after")
    def _order(self) -> Partitions:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class PipelineConfig(_Strict):
    version: Literal[1]
    catalog: CatalogModel
    sources: dict[str, Source]
    destinations: Destinations = Destinations()
    partitions: Partitions = Partitions()

    @field_validator("sources")
    @classmethod
    def _names(cls, v: dict[str, Source]) -> dict[str, Source]:
        if not v:
            raise ValueError("at least one source is needed")
        bad = [n for n in v if not _NAME.match(n)]
        if bad:
            raise ValueError(f"source names must be identifiers (letters, digits, _): {bad}")
        return v


class Pipelines:
    """A loaded, validated configuration: the catalog object, the source formats, the locations."""

    def __init__(self, model: PipelineConfig, catalog: Catalog, path: str, base: Path, digest: str):
        self.model = model
        self.digest = digest  # the configuration's bytes and the code version (`_digest`)
        self.catalog = catalog
        self.path = path  # the file, or PACKAGED
        self.base = base  # folder that relative `folder` locations resolve against
        self._formats = tuple(
            SourceFormat(
                name,
                KINDS[src.kind],
                tuple(src.pattern) if src.pattern else DEFAULT_PATTERNS[KINDS[src.kind]],
                src.columns.to_map() if src.columns else None,
            )
            for name, src in model.sources.items()
        )

    @property
    def destinations(self) -> Destinations:
        return self.model.destinations

    @property
    def partitions(self) -> Partitions:
        return self.model.partitions

    def source_formats(self, names: list[str] | None = None) -> tuple[SourceFormat, ...]:
        """Formats of all sources (or of `names`), in configuration order."""
        unknown = sorted(set(names or []) - set(self.model.sources))
        if unknown:
            raise ConfigError(f"{self.path}: no source named {unknown} (known: {sorted(self.model.sources)})")
        return tuple(f for f in self._formats if not names or f.name in names)

    def location(self, name: str) -> Location:
        return self.model.sources[name].location

    def folder(self, location: Location) -> Path:
        return (self.base / location.folder).resolve()


def pipelines_from_dict(raw: Any, path: str, base: Path, data: bytes | None = None) -> Pipelines:
    """Validate a parsed pipelines mapping; `data`, the file's bytes, gives the digest (none: the
    digest of the mapping's canonical YAML)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, found {type(raw).__name__}")
    try:
        model = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None
    if data is None:
        data = yaml.safe_dump(raw, sort_keys=True).encode()
    return Pipelines(model, model.catalog.build(f"{path}: catalog"), path, base, _digest(data))


def load_pipelines(path: str | Path | None = None) -> Pipelines:
    """Load and validate a pipelines file; with no path, the packaged one. This is the one loader:
    a run calls it once where it starts (a CLI command, the Dagster resource) and passes the object
    on; worker processes inherit it or receive it with their tasks."""
    if not path:
        return packaged_pipelines()
    path = Path(path)
    try:
        data = path.read_bytes()
        raw = parse_yaml(data.decode())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the pipelines file: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return pipelines_from_dict(raw, str(path), path.resolve().parent, data)


def cached_pipelines(path: str | Path | None = None) -> Pipelines:
    """`load_pipelines`, once per process for a file that has not changed since (its size and
    modification time): what a long-lived process (the Dagster code server, a resource asked
    many times in one run) uses instead of parsing the file at every call."""
    if not path:
        return packaged_pipelines()
    try:
        st = os.stat(path)
    except OSError:
        return load_pipelines(path)  # reports the problem
    return _cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _cached(path: str, size: int, mtime_ns: int) -> Pipelines:
    return load_pipelines(path)


@lru_cache(maxsize=1)
def packaged_pipelines() -> Pipelines:
    data = resources.files("sim_platform.config").joinpath("pipelines.yaml").read_bytes()
    return pipelines_from_dict(parse_yaml(data.decode()), PACKAGED, Path.cwd(), data)


def default_catalog() -> Catalog:
    """The packaged catalog (tests, the generator's defaults, notebooks)."""
    return packaged_pipelines().catalog


def _digest(data: bytes) -> str:
    """What besides the inputs decides a day's output: the configuration's bytes and the code
    version (recorded in each day's input manifest, so another configuration rebuilds every day)."""
    try:
        version = metadata.version("sim_platform")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return hashlib.sha256(data + b"\0" + version.encode()).hexdigest()
