"""The structural contract of an hour file, as a pandera schema: what blocks a (hierarchy, day).

One schema describes what every hour file promises: a tz-aware UTC `timestamp` on the exact
5-second grid (aligned to :00/:05, unique, increasing, 720 rows per hour), then the catalog's
columns (all present, in order, float64 or text) and nothing else. Its hour-level checks group by
hour, so the same schema validates a single hour file and the concatenation of a day's hour files of
one hierarchy; the ETL validates the latter before writing, which is the same rows and costs one
validation per (hierarchy, day) instead of 24.

Values are NOT part of this contract: bounds, known text values, new payloads and tag keys are value
rules, counted in the day's quality report (`core.quality`) and never a reason to lose a day.
A broken structure is reported in one short line (`StructuralError`), never with every failing value.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pyarrow as pa

from sim_platform.core.catalog import Catalog, Signal
from sim_platform.core.resample import BIN_MS, BINS_PER_HOUR

_STEP = pd.Timedelta(milliseconds=BIN_MS)


def _on_grid(ts: pd.Series) -> bool:
    ns = ts.astype("int64")
    return bool((ns % (BIN_MS * 1_000_000) == 0).all())


def _hours_complete(ts: pd.Series) -> bool:
    hours = ts.dt.floor("h")
    counts = hours.value_counts()
    if not (counts == BINS_PER_HOUR).all():
        return False
    steps = ts.diff()[hours.eq(hours.shift())]
    return bool((steps == _STEP).all())


def _text_values_are_strings(s: pd.Series) -> bool:
    return bool(s.dropna().map(type).eq(str).all())


def hour_file_schema(columns: dict[str, Signal]):
    """Schema for an hour file (or a day of them) with exactly these value columns, in this order."""
    return _cached_schema(tuple(columns.items()))


@lru_cache(maxsize=64)
def _cached_schema(columns: tuple[tuple[str, Signal], ...]):
    import pandera.pandas as pdr

    spec = {
        "timestamp": pdr.Column(
            "datetime64[ns, UTC]",
            nullable=False,
            unique=True,
            checks=[
                pdr.Check(lambda s: s.is_monotonic_increasing, error="timestamps must increase"),
                pdr.Check(_on_grid, error="timestamps must lie on the 5-second grid"),
                pdr.Check(_hours_complete, error="each hour must have 720 rows, 5 s apart"),
            ],
        )
    }
    for name, sig in columns:
        if sig.kind == "text":
            checks = [pdr.Check(_text_values_are_strings, error="text values must be strings")]
            spec[name] = pdr.Column(None, nullable=True, checks=checks)
        else:
            spec[name] = pdr.Column("float64", nullable=True)
    return pdr.DataFrameSchema(spec, strict=True, ordered=True, name="hour_file")


def schema_columns(table: pa.Table, catalog: Catalog, hierarchy: str) -> dict[str, Signal]:
    """The value columns an hour file of `hierarchy` must have: the catalog's, then the table's extras."""
    declared = dict(catalog.declared_columns(catalog.hierarchy_level(hierarchy)))
    extras = {}
    for f in table.schema:
        if f.name == "timestamp" or f.name in declared:
            continue
        kind = "text" if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) else "numeric"
        extras[f.name] = Signal(f.name, kind=kind, aggregation="last" if kind == "text" else "mean", known=False)
    return {**declared, **extras}


class StructuralError(ValueError):
    """An hour table breaks the structural contract; the message is one short line."""


def validate_table(table: pa.Table, catalog: Catalog, hierarchy: str) -> None:
    """Raise `StructuralError` (one short line) when the table breaks the hour-file contract."""
    from pandera.errors import SchemaError

    try:
        hour_file_schema(schema_columns(table, catalog, hierarchy)).validate(table.to_pandas())
    except SchemaError as exc:
        raise StructuralError(f"{hierarchy}: {describe_schema_error(exc)}") from exc


def describe_schema_error(exc) -> str:
    """`column: what: N failing value(s): a x3, b x1` from a pandera SchemaError, never every value."""
    from collections import Counter

    from sim_platform.core.quality import examples
    from sim_platform.core.rawdata import clip

    schema = getattr(exc, "schema", None)
    column = getattr(schema, "name", None) if schema is not None and not hasattr(schema, "columns") else None
    check = getattr(exc, "check", None)
    what = getattr(check, "error", None) if check is not None else None
    if not what:  # pandera's own sentence, without the list of every column it goes on to give
        what = (str(exc).splitlines() or [type(exc).__name__])[0].split(". Columns in dataframe")[0]
    cases = getattr(exc, "failure_cases", None)
    head = f"{column}: {what}" if column else what
    if check is not None and cases is not None and hasattr(cases, "columns") and "failure_case" in cases.columns and len(cases):
        found = Counter(str(v) for v in cases["failure_case"].tolist())
        return clip(f"{head}: {len(cases)} failing value(s): {examples(found)}")
    return clip(head)
