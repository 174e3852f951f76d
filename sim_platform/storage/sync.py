"""Folder <-> container sync that moves only what changed.

Both directions follow the same plan:

1. one listing of each side: a walk of the local folder and one `list_blobs(prefix)` (a single
   request up to 5000 blobs on Azure), never one request per file;
2. a file is unchanged when the sizes match and the local MD5 equals the blob's recorded MD5
   (hashing only happens when sizes match; hashing runs in the worker threads);
3. missing or changed files are transferred by a thread pool (`concurrency`); transient network and
   server errors are retried per request by the Azure SDK's `ExponentialRetry` (the one retry layer
   for them), and a file whose bytes fail their MD5 check is transferred again, with backoff;
4. a failure is reported for that file and the rest of the batch carries on.

Downloads are written to a hidden temporary name in the destination folder, checked against the
listed size and MD5, and only then renamed: an interrupted or corrupt download never leaves a file
under the final name. Blob names are turned into paths by `resolve_inside` only, so a name that
would escape the target folder is refused and nothing is written for it.

Sync never deletes: a file removed locally stays in the container (and vice versa).
"""

from __future__ import annotations

import os
import random
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sim_platform.storage.blobstore import BlobInfo, BlobStore
from sim_platform.storage.checksums import HashingWriter, md5_b64, md5_file
from sim_platform.storage.errors import (
    BlobStoreError,
    ChecksumMismatchError,
    ContainerNotFoundError,
)
from sim_platform.storage.logs import redact, transfer_log
from sim_platform.storage.names import (
    is_temp_name,
    normalise_prefix,
    resolve_inside,
    safe_relative_path,
    temp_is_orphaned,
    temp_path_for,
)

DEFAULT_CONCURRENCY = 8
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 0.5
DEFAULT_LOG_DIR = Path("logs")

SENT, SKIPPED = "sent", "skipped"
T = TypeVar("T")


class SyncProgress(Protocol):
    """What the CLI's progress bar implements; called from the calling thread only."""

    def start(self, total: int) -> None: ...

    def done(self, name: str, outcome: str, nbytes: int) -> None: ...


@dataclass(frozen=True)
class TransferFailure:
    name: str
    error: str


@dataclass
class SyncReport:
    """What one sync run did. Counters come from the store's own request counters."""

    direction: str
    transferred: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[TransferFailure] = field(default_factory=list)
    bytes_transferred: int = 0
    seconds: float = 0.0
    list_requests: int = 0
    uploads: int = 0
    downloads: int = 0
    retries: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        verb = "sent" if self.direction == "up" else "downloaded"
        return (
            f"sync {self.direction}: {verb} {len(self.transferred)}, skipped {len(self.skipped)}, "
            f"failed {len(self.failed)}, {self.bytes_transferred} bytes "
            f"({self.bytes_transferred / 1e6:.1f} MB) in {self.seconds:.2f} s "
            f"[{self.list_requests} listing request(s), {self.retries} retry(ies)]"
        )


@dataclass(frozen=True)
class LocalFile:
    rel: str
    path: Path
    size: int


def scan_folder(root: Path) -> tuple[dict[str, LocalFile], list[Path]]:
    """Regular files under `root` keyed by `/`-separated relative path, plus leftover temp files."""
    files: dict[str, LocalFile] = {}
    leftovers: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if is_temp_name(filename):
                leftovers.append(path)
                continue
            try:
                st = path.stat()
            except OSError:
                continue  # dangling symlink or vanished file
            if stat.S_ISREG(st.st_mode):
                rel = path.relative_to(root).as_posix()
                files[rel] = LocalFile(rel, path, st.st_size)
    return files, leftovers


class _Run:
    """Shared machinery of one sync run: pool, retries, progress, counters, report."""

    def __init__(
        self,
        direction: str,
        store: BlobStore,
        log: Any,
        *,
        concurrency: int,
        attempts: int,
        backoff: float,
        progress: SyncProgress | None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.report = SyncReport(direction)
        self.store, self.log = store, log
        self.concurrency, self.attempts, self.backoff = concurrency, attempts, backoff
        self.progress = progress
        self._lock = threading.Lock()
        self._start = time.perf_counter()
        self._before = store.stats.snapshot()

    def with_retries(self, name: str, action: Callable[[], T]) -> T:
        """Run `action`, transferring again (with exponential backoff) when the bytes fail their MD5
        check. Transient errors are not retried here: the SDK's retry policy already has, per request."""
        for attempt in range(1, self.attempts + 1):
            try:
                return action()
            except ChecksumMismatchError as exc:
                if attempt == self.attempts:
                    raise
                delay = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random())
                with self._lock:
                    self.report.retries += 1
                self.log.warning("%s: attempt %d/%d failed (%s); retrying in %.2f s", name, attempt, self.attempts, exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def execute(self, items: Iterable[T], name_of: Callable[[T], str], task: Callable[[T], tuple[str, int]]) -> None:
        """Run `task` over `items` in the pool; a failing item is recorded, the others carry on."""
        items = list(items)
        if self.progress:
            self.progress.start(len(items))
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sync") as pool:
            futures = {pool.submit(task, item): name_of(item) for item in items}
            try:
                self._collect(futures)
            except BaseException:
                # Ctrl-C or a failing progress callback: do not start the queued transfers, only
                # let the running ones finish (their temporary files are removed by themselves)
                for future in futures:
                    future.cancel()
                raise

    def _collect(self, futures: dict[Future, str]) -> None:
        """Record each result as it completes (in the calling thread, so progress needs no lock)."""
        for future in as_completed(futures):
            name = futures[future]
            try:
                outcome, nbytes = future.result()
            except BlobStoreError as exc:
                outcome, nbytes = "failed", 0
                self.report.failed.append(TransferFailure(name, redact(str(exc))))
            except OSError as exc:
                outcome, nbytes = "failed", 0
                where = f" ({exc.filename})" if exc.filename else ""
                self.report.failed.append(TransferFailure(name, f"{name}: {exc.strerror or exc}{where}"))
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
                outcome, nbytes = "failed", 0
                self.report.failed.append(TransferFailure(name, redact(f"{name}: unexpected {type(exc).__name__}: {exc}")))
            if outcome == SENT:
                self.report.transferred.append(name)
                self.report.bytes_transferred += nbytes
            elif outcome == SKIPPED:
                self.report.skipped.append(name)
            if self.progress:
                self.progress.done(name, outcome, nbytes)

    def finish(self) -> SyncReport:
        report = self.report
        report.transferred.sort()
        report.skipped.sort()
        report.failed.sort(key=lambda f: f.name)
        delta = self.store.stats.snapshot() - self._before
        report.list_requests, report.uploads, report.downloads = (delta.list_requests, delta.uploads, delta.downloads)
        report.seconds = time.perf_counter() - self._start
        for failure in report.failed:
            self.log.error("FAILED %s", failure.error)
        self.log.info("%s", report.summary())
        return report


@contextmanager
def _fatal_errors_logged(log: Any, direction: str) -> Iterator[None]:
    """Errors that stop a whole run go to the run's log file too, not only to the caller."""
    try:
        yield
    except BlobStoreError as exc:
        log.error("sync %s stopped: %s", direction, exc)
        exc.logged = True  # type: ignore[attr-defined] - lets the CLI avoid printing it twice
        raise


def sync_up(
    store: BlobStore,
    source: Path | str,
    *,
    prefix: str = "",
    concurrency: int = DEFAULT_CONCURRENCY,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    log_dir: Path | str | None = DEFAULT_LOG_DIR,
    progress: SyncProgress | None = None,
) -> SyncReport:
    """Upload the files of `source` that are missing from the container or differ from their blob.

    Blob name = `prefix` + path relative to `source`, `/`-separated (`run_01/sample_01.h5`). Creates
    the container when it does not exist yet. Raises only for problems that stop the whole run
    (source missing, listing refused); per-file problems end up in `SyncReport.failed`.
    """
    source = Path(source)
    prefix = normalise_prefix(prefix)
    if not source.is_dir():
        raise BlobStoreError(f"sync up: source folder {source} does not exist or is not a folder")
    with transfer_log("up", log_dir) as log, _fatal_errors_logged(log, "up"):
        run = _Run("up", store, log, concurrency=concurrency, attempts=attempts, backoff=backoff, progress=progress)
        log.info("sync up: %s -> %r, prefix %r, concurrency %d", source, store, prefix, concurrency)
        local, leftovers = scan_folder(source)
        try:
            remote = {info.name[len(prefix) :]: info for info in store.list_blobs(prefix)}
            container_missing = False
        except ContainerNotFoundError:
            remote, container_missing = {}, True
        log.info("listed %d local file(s) and %d blob(s)", len(local), len(remote))
        if leftovers:
            log.info("ignoring %d temporary *.simtmp file(s) in %s", len(leftovers), source)
        if container_missing and local:
            store.create_container()
            log.info("created container %r", store.container)

        def upload_one(rel: str) -> tuple[str, int]:
            name = prefix + rel
            safe_relative_path(name)
            file = local[rel]
            blob = remote.get(rel)
            if blob is None:
                reason = "new"
            elif blob.size != file.size:
                reason = f"size differs (local {file.size}, blob {blob.size})"
            elif blob.content_md5 is None:
                reason = "the blob has no MD5 recorded"
            elif md5_file(file.path) == blob.content_md5:
                log.debug("unchanged %s", name)
                return SKIPPED, 0
            else:
                reason = "content differs (MD5)"
            info = run.with_retries(name, lambda: store.upload_file(name, file.path))
            log.debug("uploaded %s (%d bytes, md5 %s): %s", name, info.size, md5_b64(info.content_md5), reason)
            return SENT, info.size

        run.execute(sorted(local), lambda rel: prefix + rel, upload_one)
        return run.finish()


def _download_atomic(store: BlobStore, blob: BlobInfo, dest: Path) -> int:
    """Download into a temporary file beside `dest`, verify size and MD5, then rename into place."""
    what = f"download {blob.name!r}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BlobStoreError(f"{what}: cannot create folder {dest.parent}: a file is in the way") from None
    if dest.is_dir():
        raise BlobStoreError(f"{what}: {dest} is a folder, not a file")
    tmp: Path | None = temp_path_for(dest)
    try:
        with open(tmp, "wb") as fh:
            writer = HashingWriter(fh)
            store.download_into(blob.name, writer, etag=blob.etag)  # type: ignore[arg-type]
        if writer.size != blob.size:
            raise ChecksumMismatchError(
                f"{what}: received {writer.size} bytes, the listing said {blob.size}; the file was not kept"
            )
        if blob.content_md5 is not None and writer.digest() != blob.content_md5:
            raise ChecksumMismatchError(
                f"{what}: MD5 mismatch (expected {md5_b64(blob.content_md5)}, got {md5_b64(writer.digest())}); "
                "the file was not kept"
            )
        mtime = blob.last_modified.timestamp()
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, dest)
        tmp = None
        return writer.size
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def sync_down(
    store: BlobStore,
    target: Path | str,
    *,
    prefix: str = "",
    concurrency: int = DEFAULT_CONCURRENCY,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    log_dir: Path | str | None = DEFAULT_LOG_DIR,
    progress: SyncProgress | None = None,
    select: Callable[[BlobInfo], bool] | None = None,
) -> SyncReport:
    """Download the blobs under `prefix` that are missing from `target` or differ from the local file
    (with `select`, only the listed blobs it keeps are looked at; local files of the others stay).

    The local path is the blob name without `prefix`. Zero-length names ending in `/` (folder
    markers some tools create) are skipped. Raises only for problems that stop the whole run
    (container missing, listing refused); per-blob problems end up in `SyncReport.failed`.
    """
    target = Path(target)
    prefix = normalise_prefix(prefix)
    with transfer_log("down", log_dir) as log, _fatal_errors_logged(log, "down"):
        run = _Run("down", store, log, concurrency=concurrency, attempts=attempts, backoff=backoff, progress=progress)
        log.info("sync down: %r -> %s, prefix %r, concurrency %d", store, target, prefix, concurrency)
        blobs = list(store.list_blobs(prefix))
        listed = len(blobs)
        if select is not None:
            blobs = [b for b in blobs if select(b)]
        target.mkdir(parents=True, exist_ok=True)
        local, leftovers = scan_folder(target)
        log.info("listed %d blob(s), %d of them selected, and %d local file(s)", listed, len(blobs), len(local))
        orphans = [p for p in leftovers if temp_is_orphaned(p.name)]
        for path in orphans:  # partial downloads of runs that were killed: their blobs are fetched again
            path.unlink(missing_ok=True)
        if orphans:
            log.warning("removed %d temporary *.simtmp file(s) left in %s by an interrupted run", len(orphans), target)

        def download_one(blob: BlobInfo) -> tuple[str, int]:
            rel = blob.name[len(prefix) :]
            if rel == "" or (rel.endswith("/") and blob.size == 0):
                log.debug("skipping folder marker %s", blob.name)
                return SKIPPED, 0
            dest = resolve_inside(target, rel)
            file = local.get(rel)
            if file is not None and file.size == blob.size:
                if blob.content_md5 is None:
                    log.warning("%s has no MD5 recorded; same size as the local file, so it is kept", blob.name)
                    return SKIPPED, 0
                if md5_file(file.path) == blob.content_md5:
                    log.debug("unchanged %s", blob.name)
                    return SKIPPED, 0
            nbytes = run.with_retries(blob.name, lambda: _download_atomic(store, blob, dest))
            log.debug("downloaded %s -> %s (%d bytes, md5 %s)", blob.name, dest, nbytes, md5_b64(blob.content_md5))
            return SENT, nbytes

        run.execute(blobs, lambda blob: blob.name, download_one)
        return run.finish()
