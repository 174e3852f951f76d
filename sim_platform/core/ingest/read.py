"""Reading a day: each input file's rows of one UTC day, screened and deduplicated, and a day's
files cut into read tasks of about equal bytes.

A bad file is an `InputError` naming the file and the reason; it never stops the other files.
"""

from __future__ import annotations

from datetime import date

from sim_platform.core.config.catalog import Catalog, SeriesError
from sim_platform.core.config.grid import DAY_MS, day_start_ms
from sim_platform.core.exec import failpoints
from sim_platform.core.ingest.plan import InputFile
from sim_platform.core.ingest.rawdata import InputError, RawBatch, concat_batches
from sim_platform.core.ingest.screen import screen_file

#: Files of a day are read in tasks of at most about this many input bytes: big enough that per-task
#: costs (pickling, scheduling) vanish, small enough that a large day spreads over every worker.
READ_CHUNK_BYTES = 8 << 20


def read_file(f: InputFile, day: date, catalog: Catalog) -> RawBatch:
    """One file's distinct rows of one day; InputError names the file when it is bad."""
    from sim_platform.core.ingest.hdf5_runs import read_run_file
    from sim_platform.core.ingest.tabular import read_tabular
    from sim_platform.core.ingest.telemetry import read_telemetry

    failpoints.hit("read")
    start = day_start_ms(day)
    window = None if f.days == (day,) else (start, start + DAY_MS)
    if f.kind in ("csv", "json"):
        batch = read_tabular(f.path, f.source, catalog, window)
    else:
        batch = (read_telemetry if f.kind == "telemetry" else read_run_file)(f.path, catalog, window)
    try:
        for payload, tags in batch.series:  # placement problems belong to the file, too
            catalog.place(payload, tags)
    except SeriesError as exc:
        raise InputError(f.path, str(exc)) from exc
    return screen_file(batch, catalog, f.path)


def read_day(files: list[InputFile], day: date, catalog: Catalog) -> tuple[RawBatch, list[InputError]]:
    """Read every file's rows of one day; bad files are returned as errors, not raised."""
    batches, errors = [], []
    for f in files:
        try:
            batches.append(read_file(f, day, catalog))
        except InputError as exc:
            errors.append(exc)
    return concat_batches(batches), errors


def day_bytes(files: list[InputFile]) -> float:
    """A day's share of its files' bytes (a file spanning several days counts once in all)."""
    return sum(f.size / len(f.days) for f in files)


def read_chunks(files: list[InputFile], workers: int) -> list[list[InputFile]]:
    """A day's files cut into read tasks (the ETL's and bronze's): a multiple of `workers` tasks of
    about equal bytes, each at most about READ_CHUNK_BYTES, so every worker gets the same share and
    they finish the day's reading together (the sample's full day, 39 MB on 2 workers: 6 tasks of
    6.6 MB, not 5 of 8 MB with one worker reading the fifth alone)."""
    sizes = [f.size / len(f.days) for f in files]
    total = sum(sizes)
    rounds = max(1, -(-int(total) // (workers * READ_CHUNK_BYTES)))
    n = min(len(files), workers * rounds)
    chunks: list[list[InputFile]] = [[] for _ in range(n)]
    done = 0.0
    for f, size in zip(files, sizes):  # contiguous runs of files, cut at equal shares of the bytes
        chunks[min(n - 1, int(done * n / total) if total else 0)].append(f)
        done += size
    return [c for c in chunks if c]
