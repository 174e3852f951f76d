"""Run a command under /usr/bin/time -v and sample its whole process tree's memory.

GNU time reports the largest single process; with worker processes the tree matters too. A thread
reads each process's statm every 100 ms (cheap, so the sampler does not steal the CPU it measures)
and estimates the tree's footprint as the sum of private pages plus the largest shared set:
forked workers share the parent's libraries, which a plain RSS sum would count once per process.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time

import psutil


def measure(cmd: list[str], env=None) -> dict:
    peak = {"tree": 0}
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    done = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                mems = [p.memory_info() for p in procs if p.is_running()]
                footprint = sum(m.rss - m.shared for m in mems) + max((m.shared for m in mems), default=0)
                peak["tree"] = max(peak["tree"], footprint)
            except psutil.Error:
                pass
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    done.set()
    t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    maxrss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    user = float(re.search(r"User time \(seconds\): (\S+)", err).group(1))
    system = float(re.search(r"System time \(seconds\): (\S+)", err).group(1))
    return {
        "seconds": seconds,
        "cpu_seconds": user + system,
        "max_rss_mb": maxrss_kb / 1024,
        "tree_mb": peak["tree"] / 2**20,
        "stdout": out,
    }
