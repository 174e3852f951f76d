"""Run a command under /usr/bin/time -v and sample its whole process tree's RSS.

GNU time reports the largest single process; with worker processes the sum matters too, so a thread
samples the tree's proportional set size (PSS: shared pages split between the processes that share
them, so forked workers are not counted twice) every 20 ms with psutil (a dagster dependency).
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
                peak["tree"] = max(peak["tree"], sum(p.memory_full_info().pss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    done.set()
    t.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    maxrss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    user = float(re.search(r"User time \(seconds\): (\S+)", err).group(1))
    system = float(re.search(r"System time \(seconds\): (\S+)", err).group(1))
    return {"seconds": seconds, "cpu_seconds": user + system, "max_rss_mb": maxrss_kb / 1024, "tree_pss_mb": peak["tree"] / 2**20, "stdout": out}
