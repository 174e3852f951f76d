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
from pathlib import Path
from typing import Any

import yaml

SYSTEM = "system"
#: Values of hierarchy tags become folder names, so they must be plain tokens.
_TOKEN = re.compile(r"^[A-Za-z0-9]+$")

Tags = tuple[tuple[str, str], ...]


class CatalogError(ValueError):
    """The catalog file is malformed (raised at load time, naming the file and the entry)."""


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
    expand: tuple[tuple[str, tuple[str, ...]], ...] = ()
    allowed: tuple[str, ...] | None = None
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
        return Signal(payload_type, fill_limit_s=self.default_fill_limit_s, unit=self.default_unit, known=False)

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


def _signal_from_yaml(name: str, entry: dict[str, Any], defaults: dict[str, Any], source: str) -> Signal:
    allowed_keys = {"level", "unit", "kind", "aggregation", "fill_limit_s", "bounds", "expand", "allowed"}
    unknown = set(entry) - allowed_keys
    if unknown:
        raise CatalogError(f"{source}: signal {name!r} has unknown fields {sorted(unknown)}")
    level = entry.get("level", SYSTEM)
    if level not in ("module", "phase", SYSTEM):
        raise CatalogError(f"{source}: signal {name!r} level must be module, phase or system, not {level!r}")
    kind = entry.get("kind", "numeric")
    if kind not in ("numeric", "text"):
        raise CatalogError(f"{source}: signal {name!r} kind must be numeric or text, not {kind!r}")
    aggregation = entry.get("aggregation", "last" if kind == "text" else "mean")
    if aggregation not in ("mean", "last") or (kind == "text" and aggregation != "last"):
        raise CatalogError(f"{source}: signal {name!r} aggregation {aggregation!r} is not valid for {kind}")
    fill = entry.get("fill_limit_s", defaults.get("fill_limit_s", 120))
    if not isinstance(fill, (int, float)) or fill < 0:
        raise CatalogError(f"{source}: signal {name!r} fill_limit_s must be a number >= 0")
    bounds = entry.get("bounds")
    if bounds is not None:
        if len(bounds) != 2 or float(bounds[0]) > float(bounds[1]):
            raise CatalogError(f"{source}: signal {name!r} bounds must be [low, high]")
        bounds = (float(bounds[0]), float(bounds[1]))
    expand = tuple((str(k), tuple(str(v) for v in vals)) for k, vals in (entry.get("expand") or {}).items())
    allowed = entry.get("allowed")
    return Signal(
        payload_type=name,
        level=level,
        unit=str(entry.get("unit", defaults.get("unit", ""))),
        kind=kind,
        aggregation=aggregation,
        fill_limit_s=float(fill),
        bounds=bounds,
        expand=expand,
        allowed=tuple(str(a) for a in allowed) if allowed else None,
    )


def catalog_from_dict(raw: dict[str, Any], source: str = "<dict>") -> Catalog:
    if not isinstance(raw, dict) or "signals" not in raw:
        raise CatalogError(f"{source}: expected a mapping with a 'signals' section")
    naming = raw.get("naming", {})
    defaults = raw.get("defaults", {})
    plant = raw.get("plant", {})
    lo, hi = raw.get("valid_time_range", ["2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"])
    signals = {str(n): _signal_from_yaml(str(n), e or {}, defaults, source) for n, e in raw["signals"].items()}
    return Catalog(
        phases=tuple(str(p) for p in plant.get("phases", [])),
        modules=tuple(str(m) for m in plant.get("modules", [])),
        hierarchy_tags=tuple(naming.get("hierarchy_tags", ["phase", "module"])),
        tag_order=tuple(naming.get("tag_order", [])),
        value_only_tags=frozenset(naming.get("value_only_tags", [])),
        omit_tag_values={str(k): str(v) for k, v in (naming.get("omit_tag_values") or {}).items()},
        default_fill_limit_s=float(defaults.get("fill_limit_s", 120)),
        default_unit=str(defaults.get("unit", "")),
        valid_time_range_ms=(_parse_time_ms(lo), _parse_time_ms(hi)),
        signals=signals,
        source=source,
    )


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog of a pipelines file (its `catalog` section), or of a bare catalog YAML
    (a mapping with `signals`); with no path, the packaged `config/pipelines.yaml`."""
    if path is None:
        return default_catalog()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot read catalog: {exc}") from exc
    if isinstance(raw, dict) and "catalog" in raw:
        from sim_platform.core.pipeline_config import pipelines_from_dict

        return pipelines_from_dict(raw, str(path), path.resolve().parent).catalog
    return catalog_from_dict(raw, str(path))


def default_catalog() -> Catalog:
    from sim_platform.core.pipeline_config import packaged_pipelines

    return packaged_pipelines().catalog
