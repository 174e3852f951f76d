"""The one day scheduler: many UTC days over one process pool, the ETL's and bronze's.

The largest days go first, so the last tasks of a run are small ones and the cores finish
together. While at least as many days are left as there are workers, a day is one task (its rows
never cross a process boundary, and memory does not grow with the days). The last days, fewer than
the workers, are split: their files are read in chunks by every worker, then the caller's `merged`
turns the chunks into follow-up tasks (bronze: one write; the ETL: one share of the hierarchies per
worker), and `finished` completes the day from their results. At most `workers + 1` tasks are in
flight. A worker that dies (the OOM killer, a signal) breaks the pool: every day not yet completed
is handed to `lost`, so no day is half-written and none is forgotten.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol

Task = tuple[Callable, tuple]  # a picklable function and its arguments


class DayJob(Protocol):
    """What a caller of `run_days` says about its days."""

    def whole(self, day: Hashable) -> Task:
        """The task that does a day alone; its result goes to `done`."""

    def chunks(self, day: Hashable) -> list[Task]:
        """The read tasks of a day that is split over every worker."""

    def merged(self, day: Hashable, parts: list[Any]) -> list[Task]:
        """All read tasks of a split day are in (in their order): the follow-up tasks, or none when
        the day is complete already (the caller has called `done` itself)."""

    def finished(self, day: Hashable, results: list[Any]) -> None:
        """All follow-up tasks of a split day are in (in their order): complete the day."""

    def done(self, result: Any) -> None:
        """A whole-day task's result."""

    def lost(self, days: list[Hashable], exc: BaseException) -> None:
        """The pool broke: these days were not completed."""


def largest_first(sizes: dict[Hashable, float]) -> list:
    """Days (the keys) by their input bytes, largest first (ties by day)."""
    return sorted(sizes, key=lambda d: (-sizes[d], d))


@dataclass
class _Stage:
    phase: str  # "read" or "follow"
    results: list = field(default_factory=list)
    left: int = 0


def run_days(pool: Executor, order: list, workers: int, job: DayJob) -> None:
    """Run every day of `order` (largest first) through `job` on `pool` (see the module's text)."""
    waiting = deque(order)
    stages: dict[Hashable, _Stage] = {}
    running: dict = {}

    def start(day, phase: str, tasks: list[Task]) -> None:
        stages[day] = _Stage(phase, [None] * len(tasks), len(tasks))
        for i, (fn, args) in enumerate(tasks):
            running[pool.submit(fn, *args)] = (phase, day, i)

    while waiting or running:
        while waiting and len(running) < workers + 1:
            day = waiting.popleft()
            if len(waiting) + 1 >= workers:
                fn, args = job.whole(day)
                running[pool.submit(fn, *args)] = ("whole", day, 0)
            else:
                start(day, "read", job.chunks(day))
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        try:
            for fut in finished:
                phase, day, i = running.pop(fut)
                if phase == "whole":
                    job.done(fut.result())
                    continue
                stage = stages[day]
                stage.results[i] = fut.result()  # kept in task order: the day is the same whatever finished first
                stage.left -= 1
                if stage.left:
                    continue
                del stages[day]
                if phase == "read":
                    follow = job.merged(day, stage.results)
                    if follow:
                        start(day, "follow", follow)
                else:
                    job.finished(day, stage.results)
        except BrokenProcessPool as exc:
            lost = {d for _, d, _ in running.values()} | set(stages) | set(waiting)
            job.lost(sorted(lost), exc)
            return
