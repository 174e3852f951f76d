"""The structural contract of an hour file, as a pandera schema: what blocks a (hierarchy, day).

One schema describes what every hour file promises: a tz-aware UTC `timestamp` on the exact
5-second grid (aligned to :00/:05, unique, increasing, 720 rows per hour), then the catalog's
columns (all present, in order, float64 or text) and nothing else. Its hour-level checks group by
hour, so the same schema validates a single hour file and the concatenation of a day's hour files of
one hierarchy; the ETL validates the latter before writing, which is the same rows and costs one
validation per (hierarchy, day) instead of 24.

The rules on timestamps are numpy functions (`on_grid`, `increasing`, `hours_complete`): the
pandera checks call them, and so does `validate_table`'s fast path, which checks a table straight
from the resampler on its Arrow columns (names, order, types, then those functions) in about a
millisecond, where converting to pandas and running pandera costs 5-10 ms per hierarchy-day. When
the fast path finds a break, pandera validates the table and its error is the one reported, so the
message is the schema's whatever path found it; a break that pandera would not report is still a
break (the fast path's own sentence is raised).

Values are NOT part of this contract: bounds, known text values, new payloads and tag keys are value
rules, counted in the day's quality report (`core.silver.quality`) and never a reason to lose a day.
A broken structure is reported in one short line (`StructuralError`), never with every failing value.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from sim_platform.core.config.catalog import Catalog, Signal
from sim_platform.core.config.grid import BIN_MS, BINS_PER_HOUR
from sim_platform.core.ingest.rawdata import numpy_view

if TYPE_CHECKING:  # pandas is imported by pandera, which runs only to describe a break
    import pandas as pd

_BIN_NS = BIN_MS * 1_000_000
_HOUR_NS = 3_600 * 1_000_000_000


# ------------------------------------------------------------------ the timestamp rules, once
def on_grid(ns: np.ndarray) -> bool:
    """Every timestamp (ns since the epoch) on the 5-second grid, aligned to :00/:05."""
    return bool((ns % _BIN_NS == 0).all())


def increasing(ns: np.ndarray) -> bool:
    """Strictly increasing (so also unique)."""
    return bool((np.diff(ns) > 0).all())


def hours_complete(ns: np.ndarray) -> bool:
    """Each hour present has 720 rows, 5 s apart."""
    if not len(ns):
        return True
    hours = ns // _HOUR_NS
    _, counts = np.unique(hours, return_counts=True)
    if not (counts == BINS_PER_HOUR).all():
        return False
    same_hour = hours[1:] == hours[:-1]
    return bool((np.diff(ns)[same_hour] == _BIN_NS).all())


def _ns(ts: pd.Series) -> np.ndarray:
    return ts.astype("int64").to_numpy()


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
                pdr.Check(lambda s: increasing(_ns(s)), error="timestamps must increase"),
                pdr.Check(lambda s: on_grid(_ns(s)), error="timestamps must lie on the 5-second grid"),
                pdr.Check(lambda s: hours_complete(_ns(s)), error="each hour must have 720 rows, 5 s apart"),
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
    columns = schema_columns(table, catalog, hierarchy)
    problem = arrow_problem(table, columns)
    if problem is None:
        return
    from pandera.errors import SchemaError

    try:
        hour_file_schema(columns).validate(table.to_pandas())
    except SchemaError as exc:
        raise StructuralError(f"{hierarchy}: {describe_schema_error(exc)}") from exc
    raise StructuralError(f"{hierarchy}: {problem}")


_TS_TYPE = pa.timestamp("ns", tz="UTC")


def arrow_problem(table: pa.Table, columns: dict[str, Signal]) -> str | None:
    """The schema's rules on the Arrow table itself: None when it holds, else what breaks."""
    names = table.schema.names
    expected = ["timestamp", *columns]
    if names != expected:
        missing = [c for c in expected if c not in names]
        extra = [c for c in names if c not in expected]
        return f"columns differ from the schema (missing {missing[:3]}, extra {extra[:3]}, or out of order)"
    ts = table.column("timestamp")
    if ts.type != _TS_TYPE or ts.null_count:
        return f"timestamp: {ts.type} with {ts.null_count} null(s), expected {_TS_TYPE} without nulls"
    for name, sig in columns.items():
        t = table.schema.field(name).type
        if sig.kind == "text" and not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
            return f"{name}: text values must be strings (the column is {t})"
        if sig.kind != "text" and t != pa.float64():
            return f"{name}: expected float64, got {t}"
    ns = numpy_view(ts)
    if not increasing(ns):
        return "timestamp: timestamps must increase"
    if not on_grid(ns):
        return "timestamp: timestamps must lie on the 5-second grid"
    if not hours_complete(ns):
        return "timestamp: each hour must have 720 rows, 5 s apart"
    return None


def describe_schema_error(exc) -> str:
    """`column: what: N failing value(s): a x3, b x1` from a pandera SchemaError, never every value."""
    from collections import Counter

    from sim_platform.core.silver.quality import examples
    from sim_platform.core.text import shorten

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
        return shorten(f"{head}: {len(cases)} failing value(s): {examples(found)}")
    return shorten(head)
