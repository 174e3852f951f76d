"""Replacing a day's output whole or not at all, in a local output folder.

A day's output spans many folders: `{hierarchy}/YYYY/MM/DD/` for every hierarchy, plus the day's
quality report. Writing them in place would leave a day half old, half new after a crash or a write
error. So a day is published in four steps:

1. **stage**: every file of the day is written under `OUTPUT/.staging/<id>/` and fsynced;
2. **commit**: a journal `OUTPUT/.journal/<id>.json` lists the swaps (old day folder -> trash,
   staged folder -> its place) and is fsynced: this is the commit point;
3. **swap**: the renames are applied and the parent folders fsynced;
4. **clean**: trash, staging folder and journal are removed.

A crash before step 2 leaves the day as it was (the next writer removes the orphaned staging
folder); a crash after it is rolled forward by the next writer of that output (`recover`), before
it does anything else. A failure during the swap (a path that cannot be written) is rolled back,
and the day keeps its previous output. `<id>` holds the writing process's pid, so a writer never
touches the staging folder or journal of a live concurrent one; the swap and its recovery hold a
lock on the output folder.

Durability: files are fsynced before the journal commits, and folders after renames, so a machine
crash cannot leave an empty or short file where a complete one was promised (the cost is measured
in `bench/fsync_bench.py`). `SIM_PLATFORM_FSYNC=0` turns it off for throwaway output.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sim_platform.core.exec import failpoints
from sim_platform.storage.names import process_alive

STAGING, JOURNAL, TRASH = ".staging", ".journal", ".trash"
#: the hierarchy folders of an output root (anything else there is not a day's output)
HIERARCHY = re.compile(r"^(phase[A-Za-z0-9]+(_module[A-Za-z0-9]+)?|system)$")
DURABLE = os.environ.get("SIM_PLATFORM_FSYNC", "1") != "0"
_ID = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})\.(?P<pid>\d+)\.[0-9a-f]{32}(\.json)?$")


class PublishError(OSError):
    """A day could not be published; its previous output is intact. The message names the path."""


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (no-op when durability is turned off)."""
    if not DURABLE:
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes, durable: bool = True) -> None:
    """Write a new file (in a private staging folder); fsynced unless `durable=False` (the caller
    then fsyncs it later, as `DayPublisher.commit` does for a whole day at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        if DURABLE and durable:
            fh.flush()
            os.fsync(fh.fileno())


@contextmanager
def day_lock(root: Path, day: date):
    """Serialise the swaps of concurrent writers of one output folder (a lock on the folder itself:
    no lock file to leave behind; held only for the renames, so writers of other days barely wait)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def stage_file(stage: Path, relpath: str, data: bytes) -> None:
    failpoints.hit("write")
    write_file(stage / relpath, data, durable=False)  # fsynced together: in commit, or by Stage.sync


def fsync_all(paths: list[Path]) -> None:
    """fsync files, then the folders holding them; many at once (threads) cost a fraction of one
    after another."""
    if not DURABLE or not paths:
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(fsync_path, paths))
        list(pool.map(fsync_path, {p.parent for p in paths}))


class Stage:
    """Writes files into the staging folder of a `DayPublisher` that lives in another process (a
    worker staging part of a day's hierarchies); that publisher adopts the paths and commits."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.files: list[str] = []

    def put(self, relpath: str, data: bytes) -> None:
        stage_file(self.folder, relpath, data)
        self.files.append(relpath)

    def sync(self) -> None:
        """Make this worker's files durable here, in parallel with the other workers, so the
        publisher's commit (one process, the day's serial end) has only its own files to fsync."""
        fsync_all([self.folder / rel for rel in self.files])


class DayPublisher:
    """Collects a day's files in a staging folder, then swaps them in as one unit.

    `hierarchies=None` replaces the whole day: every hierarchy folder of that day that the new
    output does not have is removed. With a list, only those hierarchies (and the extra files put)
    are replaced, which is what a run covering some partitions of a day needs.
    """

    def __init__(self, root: str | Path, day: date, hierarchies: list[str] | None = None):
        self.root = Path(root)
        self.day = day
        self.scope = None if hierarchies is None else set(hierarchies)
        recover(self.root, day)
        self.id = f"{day.isoformat()}.{os.getpid()}.{uuid.uuid4().hex}"
        self.stage = self.root / STAGING / self.id
        self.stage.mkdir(parents=True)
        self.files: list[str] = []
        self.synced: set[str] = set()  # adopted files their writer made durable already

    def put(self, relpath: str, data: bytes) -> None:
        stage_file(self.stage, relpath, data)
        self.files.append(relpath)

    def adopt(self, relpaths: list[str], synced: bool = False) -> None:
        """Files other processes staged into this publisher's folder (`Stage`), now part of the day
        (`synced`: their writer fsynced them, `Stage.sync`)."""
        self.files += relpaths
        if synced:
            self.synced.update(relpaths)

    # ------------------------------------------------------------------ commit
    def _moves(self) -> list[list[str | None]]:
        """[staged, destination] pairs: day folders per hierarchy, single files otherwise
        (staged None: remove the destination)."""
        prefix = f"{self.day:%Y/%m/%d}"
        staged_dirs, singles = set(), []
        for rel in self.files:
            top = rel.split("/", 1)[0]
            if HIERARCHY.match(top) and rel.startswith(f"{top}/{prefix}/"):
                staged_dirs.add(f"{top}/{prefix}")
            else:
                singles.append(rel)
        moves = [[d, d] for d in sorted(staged_dirs)] + [[f, f] for f in sorted(singles)]
        if self.root.is_dir():
            for child in sorted(self.root.iterdir()):
                day_dir = f"{child.name}/{prefix}"
                in_scope = self.scope is None or child.name in self.scope
                if HIERARCHY.match(child.name) and in_scope and day_dir not in staged_dirs and (self.root / day_dir).exists():
                    moves.append([None, day_dir])
        return moves

    def commit(self) -> None:
        # every staged file and folder durable before the journal commits
        fsync_all([self.stage / rel for rel in self.files if rel not in self.synced])
        fsync_path(self.stage)
        journal = {
            "day": self.day.isoformat(),
            "stage": str(self.stage.relative_to(self.root)),
            "moves": [[src, dst, f"{TRASH}/{self.id}/{i}"] for i, (src, dst) in enumerate(self._moves())],
        }
        with day_lock(self.root, self.day):
            jdir = self.root / JOURNAL
            jdir.mkdir(exist_ok=True)
            jpath = jdir / f"{self.id}.json"
            tmp = jdir / f".{self.id}.tmp"
            write_file(tmp, json.dumps(journal).encode())
            failpoints.hit("commit")
            os.replace(tmp, jpath)
            fsync_path(jdir)
            try:
                _apply(self.root, journal)
            except OSError as exc:
                _roll_back(self.root, journal)
                jpath.unlink(missing_ok=True)
                shutil.rmtree(self.stage, ignore_errors=True)
                try:
                    (self.root / TRASH / self.id).rmdir()  # empty once rolled back (else kept for a person to see)
                except OSError:
                    pass
                where = exc.filename or exc.filename2 or self.root
                raise PublishError(
                    f"{where}: cannot publish day {self.day}: {exc.strerror or exc}; its previous output is intact"
                ) from exc
            _clean(self.root, journal, jpath)

    def abort(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)


def _apply(root: Path, journal: dict) -> None:
    """Roll a committed journal forward (idempotent: safe to run again after a crash)."""
    stage = root / journal["stage"]
    parents = set()
    for src, dst, trash in journal["moves"]:
        failpoints.hit("swap")
        target, old = root / dst, root / trash
        staged = stage / src if src else None
        if staged is not None and not staged.exists():
            continue  # moved in an earlier attempt
        if target.exists() and not old.exists():
            old.parent.mkdir(parents=True, exist_ok=True)
            os.rename(target, old)
        elif target.exists():  # moved to trash before, then something took its place: ours wins
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        if staged is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, target)
        parents.add(target.parent)
    for p in parents:
        fsync_path(p)


def _roll_back(root: Path, journal: dict) -> None:
    """Undo the renames of a journal that failed part-way (the day keeps its previous output)."""
    stage = root / journal["stage"]
    for src, dst, trash in reversed(journal["moves"]):
        target, old = root / dst, root / trash
        try:
            if src and not (stage / src).exists() and target.exists():  # this one was swapped in: take it out
                os.rename(target, stage / src)
            if old.exists() and not target.exists():
                os.rename(old, target)
        except OSError:
            continue


def _clean(root: Path, journal: dict, jpath: Path) -> None:
    jid = jpath.name.removesuffix(".json")
    shutil.rmtree(root / TRASH / jid, ignore_errors=True)
    shutil.rmtree(root / journal["stage"], ignore_errors=True)
    jpath.unlink(missing_ok=True)


def recover(root: str | Path, day: date | None = None) -> dict[str, int]:
    """Finish what crashed writers left (all days, or one): roll committed journals forward, remove
    orphaned staging and trash folders and temporary files of dead writers. Returns counts."""
    root = Path(root)
    done = {"rolled_forward": 0, "staging_removed": 0}
    jdir = root / JOURNAL
    for jpath in sorted(jdir.glob("*.json")) if jdir.is_dir() else []:
        m = _ID.match(jpath.name)
        if not m or process_alive(int(m["pid"])) or (day and m["day"] != day.isoformat()):
            continue
        with day_lock(root, date.fromisoformat(m["day"])):
            if not jpath.exists():
                continue  # another writer recovered it meanwhile
            journal = json.loads(jpath.read_text())
            _apply(root, journal)
            _clean(root, journal, jpath)
            done["rolled_forward"] += 1
    for folder in (root / STAGING, root / TRASH, jdir):
        for p in sorted(folder.iterdir()) if folder.is_dir() else []:
            m = _ID.match(p.name.lstrip(".").removesuffix(".tmp"))
            if m and not process_alive(int(m["pid"])) and (not day or m["day"] == day.isoformat()):
                if (jdir / f"{p.name}.json").exists():
                    continue  # a committed journal still needs it
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                done["staging_removed"] += folder.name == STAGING
    return done


def has_output(root: str | Path, day: date) -> bool:
    """Whether an output folder holds anything of `day` (an hour folder or its report)."""
    root = Path(root)
    if not root.is_dir():
        return False
    prefix = f"{day:%Y/%m/%d}"
    if (root / "_quality" / f"{prefix}.json").exists():
        return True
    return any(HIERARCHY.match(c.name) and (c / prefix).is_dir() for c in root.iterdir())


def tidy(root: str | Path) -> None:
    """Remove the bookkeeping folders when they are empty (a concurrent writer's are not)."""
    for name in (STAGING, JOURNAL, TRASH):
        try:
            (Path(root) / name).rmdir()
        except OSError:
            pass


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that `path` is either absent, the old file, or the complete new one
    (fsynced before the rename, and the folder after it; see `publish.DURABLE`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        write_file(tmp, data)
        os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
