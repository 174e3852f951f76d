"""What durability costs: `sim-platform etl` with fsync (the default) against SIM_PLATFORM_FSYNC=0,
on the same input, interleaved in one run, into a fresh output and over an existing one (a rerun
replaces every day: staging, journal, swap).

    python bench/fsync_bench.py                 # the shared sample, 3 rounds
    python bench/fsync_bench.py --input DIR --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import measure  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(HERE.parent.parent / "shared" / "data" / "telemetry"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for fsync in ("1", "0"):
                out = Path(tmp) / f"out{fsync}"
                shutil.rmtree(out, ignore_errors=True)
                env = {**os.environ, "SIM_PLATFORM_FSYNC": fsync, "PYTHONWARNINGS": "ignore"}
                cmd = [sys.executable, "-m", "sim_platform", "etl", "--input", args.input, "--output", str(out)]
                for kind, extra in (("fresh", []), ("rerun", ["--force"])):  # --force: the rerun replaces every day
                    times.setdefault((fsync, kind), []).append(measure(cmd + extra, env=env)["seconds"])
    print("| output | with fsync (default) | SIM_PLATFORM_FSYNC=0 | cost |")
    print("|---|---|---|---|")
    for kind in ("fresh", "rerun"):
        on, off = statistics.median(times[("1", kind)]), statistics.median(times[("0", kind)])
        print(f"| {kind} | {on:.2f} s | {off:.2f} s | {on / off:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
