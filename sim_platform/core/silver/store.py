"""Storing computed silver days (what the silver IO manager calls): each built day published as one
unit into a target (folder or container, `store.layout.publishing`, as the ETL does): its staged
hour files, the removal of the old files of requested modules without samples that day, and the
day's quality report merged into the stored one (`quality.merge_reports`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sim_platform.core.exec.pool import map_in_pool
from sim_platform.core.silver import quality
from sim_platform.core.silver.build import WRITER_THREADS
from sim_platform.core.silver.days import BUILT, SilverDay, SilverDays
from sim_platform.core.store.layout import publishing
from sim_platform.core.store.read import stored_report
from sim_platform.core.store.targets import TargetSpec
from sim_platform.storage.sync import DEFAULT_CONCURRENCY


def store_silver(spec: TargetSpec, hours: SilverDays, workers: int) -> dict[str, int]:
    """Publish every built day of `hours` into the target, days in parallel processes, each day as
    one unit (its hour files and its merged quality report); returns the hour files written per
    day. The files are encoded already: storing them is I/O only."""
    days = [d for d in hours.days if d.status == BUILT and d.hierarchies]  # (every module of a day refused: nothing to store)
    written = map_in_pool(store_day, [(spec, d) for d in days], workers)
    hours.discard()
    return {d.day: n for d, n in zip(days, written)}


def store_day(spec: TargetSpec, day: SilverDay) -> int:
    """One computed day: its requested modules are replaced (a module without samples that day
    loses its old files) and its report merged into the stored one, as one unit. The files are put
    by threads (a folder: as the ETL writes; a container: as many uploads at once as a sync makes)."""
    target = spec.open()
    d = date.fromisoformat(day.day)
    staged = day.files()
    report = quality.merge_reports(stored_report(target, d), day.report, rebuilt=day.hierarchies)
    threads = WRITER_THREADS if spec.kind == "local" else DEFAULT_CONCURRENCY
    with publishing(target, d, day.hierarchies) as pub, ThreadPoolExecutor(threads) as writers:
        list(writers.map(lambda f: pub.put(*f), staged))
        pub.put(quality.report_relpath(d), quality.report_bytes(report))
    return len(staged)
