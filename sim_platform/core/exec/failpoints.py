"""Named points at which a crash test can kill the running ETL, to prove what survives a crash.

`SIM_PLATFORM_FAILPOINTS="swap:3"` makes the process group die by SIGKILL the third time any of its
processes reaches the point `swap` (counts are per process; several points: `read:2,write:40`).
The points mark the phases of a day: `plan`, `read`, `resample`, `write`, `commit` (the journal
about to be committed) and `swap`. Unset (always, outside the fault-matrix tests), `hit` is one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_SPEC = {
    name: int(n)
    for name, n in (item.split(":") for item in os.environ.get("SIM_PLATFORM_FAILPOINTS", "").split(",") if ":" in item)
}
_COUNTS: dict[str, int] = {}


def hit(name: str) -> None:
    if name not in _SPEC:
        return
    _COUNTS[name] = _COUNTS.get(name, 0) + 1
    if _COUNTS[name] == _SPEC[name]:
        os.killpg(os.getpgid(0), signal.SIGKILL)
