"""Benchmark `sim-platform sync up` against the naive upload loop, on a real Azurite.

    .venv/bin/python bench/sync_bench.py [--runs 50] [--files-per-run 10] [--concurrency 8]
                                         [--latency-ms 20] [--source h5py|generator] [--strict]

What is measured, each on a freshly started Azurite (disk persistence, loopback) so that no step pays
for the metadata another one left behind:

* baseline: one `upload_blob(..., overwrite=True)` per file, sequentially (the naive loop);
* sync up: `sync_up(store, folder, concurrency=N)` into an empty container (first sync);
* no-op re-sync: the same `sync_up` again, with HTTP requests counted by a `raw_request_hook`;
* sync down, first and no-op, for reference.

Everything is run in two scenarios: over plain loopback, and through a proxy process that adds
`--latency-ms` of round-trip time per request, the situation of a real storage account reached over a
network. Each scenario is repeated `--repeat` times; the table shows the median. Wall time, the CPU
time of this process (the client) and of the Azurite process, and the HTTP requests counted by a
`raw_request_hook` are printed for every step.

On loopback there is no latency to hide: Azurite handles requests on one Node.js thread, so the
sync can never be faster than the CPU time Azurite spends on the 500 uploads. The table prints that
ceiling (baseline wall / Azurite CPU during the sync) next to the measured speed-up. With network
latency in the way, parallel transfers overlap the round trips, which is what the goal is about.

Files: `--source h5py` (default) writes `runs x files-per-run` small HDF5 files (chunked, gzip,
float32 signals, ~80-320 KB). `--source generator` uses `sim-platform generate --format hdf5`
(one realistic ~12 MB file per run-day: `--runs R --files-per-run D` gives R*D files).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from azure.storage.blob import BlobServiceClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sim_platform.storage.azure_store import AzureBlobStore  # noqa: E402
from sim_platform.storage.azurite import AZURITE_VERSION, AzuriteServer, find_azurite  # noqa: E402
from sim_platform.storage.settings import StorageSettings  # noqa: E402
from sim_platform.storage.sync import sync_down, sync_up  # noqa: E402

GOAL_SPEEDUP = 3.0
GOAL_NOOP_LIST_REQUESTS = 2  # strictly fewer
GOAL_NOOP_SECONDS = 1.0  # strictly less


# -- data ------------------------------------------------------------------------------------------


def write_h5py_runs(out: Path, runs: int, files_per_run: int, seed: int) -> None:
    """Small run files shaped like the simulation output: a time axis and a few float32 signals."""
    rng = np.random.default_rng(seed)
    signals = ["voltage", "current", "soc", "temperature", "cell_min", "cell_max"]
    for r in range(runs):
        for f in range(files_per_run):
            path = out / f"run_{r + 1:02d}" / f"sample_{f + 1:02d}.h5"
            path.parent.mkdir(parents=True, exist_ok=True)
            n = int(rng.uniform(4_000, 16_000))
            with h5py.File(path, "w") as h5:
                h5.attrs["run_id"] = path.parent.name
                h5.attrs["sample"] = f + 1
                group = h5.create_group("signals")
                group.create_dataset(
                    "time_ms",
                    data=1_720_000_000_000 + np.arange(n, dtype=np.int64) * 1000,
                    chunks=True,
                    compression="gzip",
                    compression_opts=4,
                )
                for name in signals:
                    walk = 50 + np.cumsum(rng.normal(0, 0.01, n))
                    group.create_dataset(
                        name, data=walk.astype(np.float32), chunks=True, compression="gzip", compression_opts=4, shuffle=True
                    )


def write_generator_runs(out: Path, runs: int, days: int, seed: int) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sim_platform",
            "generate",
            "--runs",
            str(runs),
            "--days",
            str(days),
            "--out",
            str(out),
            "--format",
            "hdf5",
            "--seed",
            str(seed),
        ],
        check=True,
        cwd=REPO,
    )


# -- a proxy adding round-trip latency (in its own process, so it does not share our GIL) ----------


def _latency_proxy(listener: socket.socket, upstream_port: int, one_way_s: float) -> None:
    def connection(client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
        last = {"direction": None}

        def pump(src: socket.socket, dst: socket.socket, direction: str) -> None:
            try:
                while data := src.recv(262144):
                    if last["direction"] != direction:  # a new request or response: one one-way delay
                        last["direction"] = direction
                        time.sleep(one_way_s)
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (src, dst):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(client, upstream, "up"), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, "down"), daemon=True).start()

    while True:
        client, _ = listener.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection(client)


class LatencyProxy:
    def __init__(self, upstream_port: int, rtt_ms: float) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        ctx = multiprocessing.get_context("fork")
        self.process = ctx.Process(target=_latency_proxy, args=(self.listener, upstream_port, rtt_ms / 2000), daemon=True)

    def __enter__(self) -> LatencyProxy:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)
        self.listener.close()


# -- measurements ----------------------------------------------------------------------------------


class Counter:
    """raw_request_hook counting HTTP requests by kind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kinds: dict[str, int] = {}

    def __call__(self, pipeline_request) -> None:
        request = pipeline_request.http_request
        kind = "list" if "comp=list" in request.url else request.method
        with self.lock:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def reset(self) -> None:
        with self.lock:
            self.kinds = {}


def process_cpu_seconds(pid: int | None = None) -> float:
    """User+system CPU of a process (this one by default), from /proc; NaN where unavailable."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


@dataclass
class Measure:
    """One timed step: wall seconds, CPU of client and server, HTTP requests by kind."""

    seconds: float
    client_cpu: float
    server_cpu: float
    requests: dict[str, int]
    note: str = ""


class Timer:
    def __init__(self, server_pid: int, counter: Counter) -> None:
        self.server_pid, self.counter = server_pid, counter

    def __enter__(self) -> Timer:
        self.counter.reset()
        self._cpu = (process_cpu_seconds(), process_cpu_seconds(self.server_pid))
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.client_cpu = process_cpu_seconds() - self._cpu[0]
        self.server_cpu = process_cpu_seconds(self.server_pid) - self._cpu[1]

    def measure(self, note: str = "") -> Measure:
        return Measure(self.seconds, self.client_cpu, self.server_cpu, dict(self.counter.kinds), note)


STEPS = [
    "baseline: sequential upload_blob(overwrite=True)",
    "sync up, first",
    "sync up, no-op re-sync",
    "sync down, first",
    "sync down, no-op re-sync",
]


def with_azurite(workspace: Path, rtt_ms: float, action):
    """Run `action(connection_string, server_pid)` on a fresh Azurite, behind the latency proxy if rtt_ms > 0."""
    shutil.rmtree(workspace, ignore_errors=True)
    with AzuriteServer(workspace) as server:
        pid = server._process.pid if server._process else 0
        if rtt_ms > 0:
            with LatencyProxy(server.port, rtt_ms) as proxy:
                endpoint = f"http://127.0.0.1:{proxy.port}/devstoreaccount1"
                return action(server.connection_string(endpoint=endpoint), pid)
        return action(server.connection_string(), pid)


def measure_once(rtt_ms: float, src: Path, work: Path, concurrency: int) -> dict[str, Measure]:
    """All steps once; baseline and sync each on their own fresh Azurite."""
    files = sorted(p for p in src.rglob("*") if p.is_file())
    results: dict[str, Measure] = {}

    def baseline(connection_string: str, pid: int) -> None:
        counter = Counter()
        service = BlobServiceClient.from_connection_string(connection_string, raw_request_hook=counter)
        container = service.get_container_client("baseline")
        container.create_container()
        with Timer(pid, counter) as timer:
            for path in files:
                with open(path, "rb") as fh:
                    container.upload_blob(path.relative_to(src).as_posix(), fh, overwrite=True)
        results[STEPS[0]] = timer.measure()
        service.close()

    def sync(connection_string: str, pid: int) -> None:
        counter = Counter()
        settings = StorageSettings(container="synced", connection_string=connection_string)
        dst = work / "downloaded_runs"
        shutil.rmtree(dst, ignore_errors=True)
        with AzureBlobStore.from_settings(settings, request_hook=counter) as store:
            store.create_container()
            with Timer(pid, counter) as timer:
                report = sync_up(store, src, concurrency=concurrency, log_dir=work / "logs")
            assert report.ok and len(report.transferred) == len(files), report.summary()
            results[STEPS[1]] = timer.measure(f"sent {len(report.transferred)}")
            with Timer(pid, counter) as timer:
                report = sync_up(store, src, concurrency=concurrency, log_dir=work / "logs")
            assert report.ok and report.transferred == [], report.summary()
            results[STEPS[2]] = timer.measure(
                f"skipped {len(report.skipped)}; report: uploads {report.uploads}, list_requests {report.list_requests}"
            )
            with Timer(pid, counter) as timer:
                report = sync_down(store, dst, concurrency=concurrency, log_dir=work / "logs")
            assert report.ok and len(report.transferred) == len(files), report.summary()
            results[STEPS[3]] = timer.measure(f"downloaded {len(report.transferred)}, MD5-verified")
            with Timer(pid, counter) as timer:
                report = sync_down(store, dst, concurrency=concurrency, log_dir=work / "logs")
            assert report.ok and report.transferred == [], report.summary()
            results[STEPS[4]] = timer.measure(
                f"skipped {len(report.skipped)}; report: downloads {report.downloads}, list_requests {report.list_requests}"
            )

    with_azurite(work / "azurite-baseline", rtt_ms, baseline)
    with_azurite(work / "azurite-sync", rtt_ms, sync)
    return results


def median_measures(runs: list[dict[str, Measure]]) -> dict[str, Measure]:
    """Per step, the repetition with the median wall time (its CPU and requests come with it)."""
    merged: dict[str, Measure] = {}
    for step in STEPS:
        ordered = sorted((run[step] for run in runs), key=lambda m: m.seconds)
        merged[step] = ordered[len(ordered) // 2]
    return merged


def describe_requests(kinds: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--files-per-run", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="round-trip time added by the proxy in the second scenario (0 = skip it)"
    )
    parser.add_argument("--source", choices=["h5py", "generator"], default="h5py")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per scenario; the median is shown")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()

    find_azurite(REPO)  # fail now, loudly, if Azurite is not installed
    work = Path(tempfile.mkdtemp(prefix="sync_bench_"))
    try:
        src = work / "mock_hdf5_runs"
        start = time.perf_counter()
        if args.source == "h5py":
            write_h5py_runs(src, args.runs, args.files_per_run, args.seed)
        else:
            write_generator_runs(src, args.runs, args.files_per_run, args.seed)
        gen_s = time.perf_counter() - start
        sizes = [p.stat().st_size for p in src.rglob("*") if p.is_file()]

        scenarios: list[tuple[str, dict[str, Measure]]] = []
        for label, rtt in [("loopback", 0.0), (f"+{args.latency_ms:g} ms RTT", args.latency_ms)]:
            if label != "loopback" and rtt <= 0:
                continue
            runs = [measure_once(rtt, src, work, args.concurrency) for _ in range(args.repeat)]
            scenarios.append((label, median_measures(runs)))

        print(
            f"data: {len(sizes)} HDF5 files ({args.source}) in {args.runs} run folders, "
            f"{sum(sizes) / 1e6:.1f} MB, {min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} KB each "
            f"(generated in {gen_s:.1f} s)"
        )
        print(
            f"server: Azurite {AZURITE_VERSION} on 127.0.0.1, disk persistence, a fresh instance for the "
            f"baseline and for the sync steps; machine: {os.cpu_count()} CPU cores, load average "
            f"{os.getloadavg()[0]:.1f} at the end; sync concurrency {args.concurrency}; "
            f"median of {args.repeat} repetition(s)"
        )
        print()
        print("| scenario | step | wall s | CPU s client / Azurite | HTTP requests | notes |")
        print("|---|---|---:|---:|---|---|")
        for label, steps in scenarios:
            for step in STEPS:
                m = steps[step]
                print(
                    f"| {label} | {step} | {m.seconds:.2f} | {m.client_cpu:.2f} / {m.server_cpu:.2f} | "
                    f"{describe_requests(m.requests)} | {m.note} |"
                )
            speedup = steps[STEPS[0]].seconds / steps[STEPS[1]].seconds
            print(f"| {label} | **speed-up, first sync vs baseline** | **{speedup:.2f}x** | | | |")
            ceiling = steps[STEPS[0]].seconds / steps[STEPS[1]].server_cpu
            print(
                f"| {label} | ceiling for any client: baseline wall / Azurite CPU during the sync | "
                f"{ceiling:.2f}x | | | Azurite serves requests on one Node.js thread |"
            )
        print()
        ok = True
        for label, steps in scenarios:
            speedup = steps[STEPS[0]].seconds / steps[STEPS[1]].seconds
            noop = steps[STEPS[2]]
            listing = noop.requests.get("list", 0)
            checks = [
                (f"first sync >= {GOAL_SPEEDUP:g}x faster than baseline", speedup >= GOAL_SPEEDUP, f"{speedup:.2f}x"),
                (
                    f"no-op re-sync < {GOAL_NOOP_LIST_REQUESTS} listing requests",
                    listing < GOAL_NOOP_LIST_REQUESTS,
                    f"{listing} listing, {sum(noop.requests.values())} HTTP requests in all",
                ),
                (f"no-op re-sync < {GOAL_NOOP_SECONDS:g} s", noop.seconds < GOAL_NOOP_SECONDS, f"{noop.seconds:.2f} s"),
            ]
            for goal, passed, value in checks:
                ok &= passed
                print(f"[{label}] {goal}: {'PASS' if passed else 'MISS'} ({value})")
        return 0 if ok or not args.strict else 1
    finally:
        if args.keep:
            print(f"workspace kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
