"""What the peers share: which files make which day, and the README's naming rule as data.

The peers take the exporter's day folders (`.../YYYY/MM/DD/*.parquet`; the exports never cross
midnight, see ../shared/data/README.md) instead of planning days from every file's footer as the
ETL does: planning is part of the ETL's measured time, not of theirs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from pathlib import Path

COLUMNS = ["timestamp", "payload_type", "value", "tags"]
#: payload types whose values are text (the catalog's `kind: text`): last value of the bin, not the mean
TEXT_PAYLOADS = ("system_state",)
BIN_S = 5
#: the naming rule (pipelines.yaml `naming`): identity tags in this order, then the others a-z
TAG_ORDER = ("battery", "cell", "sensor", "debug_value_key")
VALUE_ONLY = ("debug_value_key",)
OMIT = {"message_source": "master"}

_DAY = re.compile(r"(?<!\d)(\d{4})/(\d{2})/(\d{2})$")


def files_by_day(root: str | Path) -> dict[date, list[str]]:
    """Every `*.parquet` under root, grouped by the `YYYY/MM/DD` folder it sits in."""
    root = Path(root)
    days: dict[date, list[str]] = defaultdict(list)
    for p in sorted(root.rglob("*.parquet")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        m = _DAY.search(p.parent.as_posix())
        if not m:
            raise SystemExit(f"{p}: not in a YYYY/MM/DD folder")
        days[date(int(m[1]), int(m[2]), int(m[3]))].append(str(p))
    return dict(sorted(days.items()))
