"""The floor for bench/etl_bench.py: pyarrow streaming every input file once, in parallel, keeping nothing.

    python bench/read_floor.py INPUT_DIR

`pyarrow.dataset` over every `*.parquet` under INPUT_DIR, only the four export columns (`timestamp`,
`payload_type`, `value`, `tags`; not the pandas index column some exports carry), `to_batches`
with Arrow's thread pools (use_threads) and read-ahead of several files and batches at once. Each
batch is counted and dropped. No program that must look at every value of these columns can take
less time than this on the same machine; `sim-platform etl` is measured against it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow.dataset as ds

COLUMNS = ["timestamp", "payload_type", "value", "tags"]


def stream(root: Path) -> tuple[int, int]:
    files = sorted(str(p) for p in root.rglob("*.parquet") if not any(part.startswith(".") for part in p.relative_to(root).parts))
    dataset = ds.dataset(files, format="parquet")
    rows = batches = 0
    for batch in dataset.to_batches(columns=COLUMNS, use_threads=True, batch_readahead=16, fragment_readahead=8):
        rows += batch.num_rows
        batches += 1
    return rows, len(files)


def main() -> int:
    t0 = time.perf_counter()
    rows, files = stream(Path(sys.argv[1]))
    print(f"rows read: {rows} files: {files} seconds: {time.perf_counter() - t0:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
