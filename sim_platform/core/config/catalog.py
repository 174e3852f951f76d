"""The signal catalog: which hierarchy a raw series belongs to, what its output column is called,
and how it is aggregated, filled and bounded.

This is the one place where the naming rule lives. Everything else (readers, resampler, writer,
schemas, plots, the Dagster layer) asks the catalog instead of re-deriving names from tags.
The catalog itself is data: the `catalog` section of `sim_platform/config/pipelines.yaml`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

SYSTEM = "system"
#: Values of hierarchy tags become folder names, so they must be plain tokens.
_TOKEN = re.compile(r"^[A-Za-z0-9]+$")

Tags = tuple[tuple[str, str], ...]
#: What happens to a numeric sample outside its signal's bounds: kept in the 5 s mean, removed before
#: it (`null`, the default: a glitch must not move a mean, and the report still counts it), or the
#: day fails.
OutOfRange = Literal["keep", "null", "fail"]


class SeriesError(ValueError):
    """A raw series cannot be placed (for example a hierarchy tag that is not a plain token)."""


@dataclass(frozen=True)
class Signal:
    """How one payload type is resampled and checked."""

    payload_type: str
    level: str = SYSTEM
    unit: str = ""
    kind: str = "numeric"
    aggregation: str = "mean"
    fill_limit_s: float = 120.0
    bounds: tuple[float, float] | None = None
    out_of_range: str = "null"
    expand: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: text signals: the values the catalog knows; any other value is kept and reported as new
    known_values: tuple[str, ...] | None = None
    #: text signals: the known values that mean a fault (gold features mark the first one of a day)
    fault_values: tuple[str, ...] = ()
    known: bool = True


@dataclass(frozen=True)
class SeriesInfo:
    """Where one raw series (payload type + tags) lands in the output."""

    hierarchy: str
    column: str
    signal: Signal


@dataclass(frozen=True)
class Catalog:
    phases: tuple[str, ...]
    modules: tuple[str, ...]
    hierarchy_tags: tuple[str, ...]
    tag_order: tuple[str, ...]
    value_only_tags: frozenset[str]
    omit_tag_values: dict[str, str]
    default_fill_limit_s: float
    default_unit: str
    default_out_of_range: str
    valid_time_range_ms: tuple[int, int]
    signals: dict[str, Signal]
    source: str = "<builtin>"
    _column_cache: dict = field(default_factory=dict, compare=False, repr=False)

    # ---------------------------------------------------------------- naming rule
    def column_name(self, payload_type: str, identity_tags: Tags) -> str:
        """`payload` + `_{key}{value}` per identity tag (battery, cell, sensor, debug_value_key, others a-z)."""
        order = {k: i for i, k in enumerate(self.tag_order)}
        ranked = sorted(identity_tags, key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        parts = [payload_type]
        for key, value in ranked:
            if self.omit_tag_values.get(key) == value:
                continue
            parts.append(value if key in self.value_only_tags else f"{key}{value}")
        return "_".join(parts)

    def place(self, payload_type: str, tags: Tags) -> SeriesInfo:
        """Hierarchy, column name and signal of a raw series, from its payload type and tags alone."""
        key = (payload_type, tags)
        hit = self._column_cache.get(key)
        if hit is not None:
            return hit
        tag_map = dict(tags)
        if len(tag_map) != len(tags):
            raise SeriesError(f"{payload_type}: a tag key appears twice in {list(tags)}")
        phase = tag_map.get("phase")
        module = tag_map.get("module") if phase is not None else None
        for name, value in (("phase", phase), ("module", module)):
            if value is not None and not _TOKEN.match(value):
                raise SeriesError(f"{payload_type}: {name} tag {value!r} is not a plain token")
        if phase is not None and module is not None:
            hierarchy = f"phase{phase}_module{module}"
            consumed = {"phase", "module"}
        elif phase is not None:
            hierarchy = f"phase{phase}"
            consumed = {"phase"}
        else:
            hierarchy = SYSTEM
            consumed = set()
        identity = tuple((k, v) for k, v in tags if k not in consumed)
        info = SeriesInfo(hierarchy, self.column_name(payload_type, identity), self.signal(payload_type))
        self._column_cache[key] = info
        return info

    def signal(self, payload_type: str) -> Signal:
        sig = self.signals.get(payload_type)
        if sig is not None:
            return sig
        return Signal(
            payload_type,
            fill_limit_s=self.default_fill_limit_s,
            unit=self.default_unit,
            out_of_range=self.default_out_of_range,
            known=False,
        )

    def known_tag_keys(self) -> frozenset[str]:
        """Tag keys the catalog names somewhere; any other key is reported as new."""
        expand = {k for sig in self.signals.values() for k, _ in sig.expand}
        return frozenset({*self.hierarchy_tags, *self.tag_order, *self.omit_tag_values, *expand})

    # ---------------------------------------------------------------- declared columns
    def hierarchy_level(self, hierarchy: str) -> str:
        if hierarchy == SYSTEM:
            return SYSTEM
        return "module" if "_module" in hierarchy else "phase"

    def declared_columns(self, level: str) -> list[tuple[str, Signal]]:
        """Columns the catalog promises in every hour file of a level, in catalog order."""
        out: list[tuple[str, Signal]] = []
        for sig in self.signals.values():
            if sig.level != level:
                continue
            if not sig.expand:
                out.append((sig.payload_type, sig))
                continue
            keys = [k for k, _ in sig.expand]
            for combo in itertools.product(*(vals for _, vals in sig.expand)):
                out.append((self.column_name(sig.payload_type, tuple(zip(keys, combo))), sig))
        return out

    def plant_hierarchies(self) -> list[str]:
        """Every hierarchy of the configured plant: modules, phases, then the system."""
        mods = [f"phase{p}_module{m}" for p in self.phases for m in self.modules]
        return mods + [f"phase{p}" for p in self.phases] + [SYSTEM]


def _parse_time_ms(text: str) -> int:
    return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)


class CatalogError(ValueError):
    """The catalog file is malformed (raised at load time, naming the file and the entry)."""


def _text(value: Any) -> str:
    """Refuse anything but text where the catalog needs text: YAML 1.1 reads unquoted OFF/ON/YES/NO
    as booleans and 1 as a number, and `str(False)` would silently stand in for 'OFF'."""
    if not isinstance(value, str):
        raise ValueError(f'{value!r} ({type(value).__name__}) is not text: quote it in the YAML file (e.g. "OFF")')
    return value


Text = Annotated[str, BeforeValidator(_text)]
Token = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else _text(v))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalModel(_Model):
    """One `catalog.signals` entry, as written in the YAML file."""

    level: Literal["module", "phase", "system"] = SYSTEM
    unit: Text | None = None
    kind: Literal["numeric", "text"] = "numeric"
    aggregation: Literal["mean", "last"] | None = None
    fill_limit_s: float | None = Field(None, ge=0)
    bounds: tuple[float, float] | None = None
    out_of_range: OutOfRange | None = None
    expand: dict[Text, list[Token]] = Field(default_factory=dict)
    known_values: list[Text] | None = None
    fault_values: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SignalModel:
        if self.kind == "text" and self.aggregation == "mean":
            raise ValueError("aggregation 'mean' is not valid for text (text takes the last value)")
        if self.bounds is not None and self.bounds[0] > self.bounds[1]:
            raise ValueError(f"bounds must be [low, high], got {list(self.bounds)}")
        if self.kind != "text" and (self.known_values or self.fault_values):
            raise ValueError("known_values and fault_values are for text signals (kind: text)")
        unknown_faults = set(self.fault_values) - set(self.known_values or [])
        if unknown_faults:
            raise ValueError(f"fault_values {sorted(unknown_faults)} must also be in known_values")
        return self


class CatalogModel(_Model):
    """The `catalog` section of pipelines.yaml."""

    class Plant(_Model):
        phases: list[Token] = Field(default_factory=list)
        modules: list[Token] = Field(default_factory=list)

    class Naming(_Model):
        hierarchy_tags: list[Text] = Field(default_factory=lambda: ["phase", "module"])
        tag_order: list[Text] = Field(default_factory=list)
        value_only_tags: list[Text] = Field(default_factory=list)
        omit_tag_values: dict[Text, Text] = Field(default_factory=dict)

    class Defaults(_Model):
        fill_limit_s: float = Field(120.0, ge=0)
        unit: Text = ""
        out_of_range: OutOfRange = "null"

    plant: Plant = Plant()
    naming: Naming = Naming()
    defaults: Defaults = Defaults()
    valid_time_range: tuple[Text, Text] = ("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
    signals: dict[Text, SignalModel]

    @field_validator("valid_time_range")
    @classmethod
    def _times(cls, v: tuple[str, str]) -> tuple[str, str]:
        for t in v:
            _parse_time_ms(t)  # ValueError names the bad timestamp
        return v

    def build(self, source: str) -> Catalog:
        d = self.defaults
        signals = {}
        for name, e in self.signals.items():
            signals[name] = Signal(
                payload_type=name,
                level=e.level,
                unit=e.unit if e.unit is not None else d.unit,
                kind=e.kind,
                aggregation=e.aggregation or ("last" if e.kind == "text" else "mean"),
                fill_limit_s=float(e.fill_limit_s if e.fill_limit_s is not None else d.fill_limit_s),
                bounds=e.bounds,
                out_of_range=e.out_of_range or d.out_of_range,
                expand=tuple((k, tuple(vals)) for k, vals in e.expand.items()),
                known_values=tuple(e.known_values) if e.known_values is not None else None,
                fault_values=tuple(e.fault_values),
            )
        lo, hi = self.valid_time_range
        return Catalog(
            phases=tuple(self.plant.phases),
            modules=tuple(self.plant.modules),
            hierarchy_tags=tuple(self.naming.hierarchy_tags),
            tag_order=tuple(self.naming.tag_order),
            value_only_tags=frozenset(self.naming.value_only_tags),
            omit_tag_values=dict(self.naming.omit_tag_values),
            default_fill_limit_s=float(d.fill_limit_s),
            default_unit=d.unit,
            default_out_of_range=d.out_of_range,
            valid_time_range_ms=(_parse_time_ms(lo), _parse_time_ms(hi)),
            signals=signals,
            source=source,
        )


def format_validation_error(source: str, exc: ValidationError, prefix: tuple = ()) -> str:
    """One line per problem: `file: path.of.entry: message`."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in (*prefix, *err["loc"])) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {where}: {msg}")
    return "\n".join(lines)


def catalog_from_dict(raw: Any, source: str = "<dict>") -> Catalog:
    """Validate a catalog mapping (the pydantic `CatalogModel`) and build the `Catalog`."""
    if not isinstance(raw, dict) or "signals" not in raw:
        raise CatalogError(f"{source}: expected a mapping with a 'signals' section")
    try:
        return CatalogModel.model_validate(raw).build(source)
    except ValidationError as exc:
        raise CatalogError(format_validation_error(source, exc)) from None


def parse_yaml(text: str):
    """`yaml.safe_load`, by libyaml's parser where PyYAML was built with it: the same safe subset,
    ten times faster (1 ms against 12 ms for the packaged pipelines file, in every process)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
