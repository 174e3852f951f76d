"""ETL benchmark: (a) the pyarrow read floor, (b) the plain pandas baseline, (c) `sim-platform etl`.

Same input, same run, same machine; prints wall time, CPU time, peak RSS (largest process, from
/usr/bin/time -v, and the whole process tree, sampled) and the ratios c/a and b/c.

    python bench/etl_bench.py                       # the shared sample and a generated 30-day set
    python bench/etl_bench.py --datasets sample --repeat 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from measure import measure  # noqa: E402

PY = sys.executable


def dataset(name: str) -> Path:
    if name == "sample":
        return REPO.parent / "shared" / "data" / "telemetry"
    if name == "gen30":
        path = HERE / "data" / "gen30"
        if not (path / ".complete").exists():
            shutil.rmtree(path, ignore_errors=True)
            print("generating 30 days of telemetry exports (3 runs x 10 days, seed 42) ...", flush=True)
            from sim_platform.core.generate import generate

            generate(path, runs=3, days=10, seed=42, fmt="telemetry")
            (path / ".complete").write_text("ok")
        return path
    raise SystemExit(f"unknown dataset {name}")


def run(name: str, repeat: int, baseline: bool, workers: int | None) -> dict:
    src = dataset(name)
    nfiles = len(list(src.rglob("*.parquet")))
    size_mb = sum(p.stat().st_size for p in src.rglob("*.parquet")) / 2**20
    res = {"dataset": name, "files": nfiles, "input_mb": round(size_mb, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        floor = [measure([PY, str(HERE / "read_floor.py"), str(src)]) for _ in range(repeat)]
        etl_cmd = [PY, "-m", "sim_platform", "etl", "--input", str(src), "--output", f"{tmp}/c"]
        if workers:
            etl_cmd += ["--workers", str(workers)]
        etl = []
        for i in range(repeat):
            shutil.rmtree(f"{tmp}/c", ignore_errors=True)
            etl.append(measure(etl_cmd))
        res["a_floor"] = _median(floor)
        res["c_etl"] = _median(etl)
        res["c_etl"]["summary"] = etl[-1]["stdout"].strip().splitlines()[0]
        if baseline:
            res["b_baseline"] = measure([PY, str(HERE / "baseline_pandas.py"), "--input", str(src), "--output", f"{tmp}/b"])
    for r in ("a_floor", "b_baseline", "c_etl"):
        res.get(r, {}).pop("stdout", None)
    res["c_over_a"] = res["c_etl"]["seconds"] / res["a_floor"]["seconds"]
    if baseline:
        res["b_over_c"] = res["b_baseline"]["seconds"] / res["c_etl"]["seconds"]
    return res


def _median(runs: list[dict]) -> dict:
    best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**best, "all_seconds": [round(r["seconds"], 2) for r in runs], "median_seconds": statistics.median(r["seconds"] for r in runs)}


def table(results: list[dict]) -> str:
    lines = [
        "| dataset | input | (a) pyarrow read | (b) pandas baseline | (c) sim-platform etl | c / a | b / c | peak memory (c): largest process RSS / whole tree |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        b = r.get("b_baseline")
        lines.append(
            f"| {r['dataset']} | {r['files']} files, {r['input_mb']:.0f} MB | {r['a_floor']['seconds']:.2f} s | "
            + (f"{b['seconds']:.1f} s ({b['max_rss_mb']:.0f} MB) | " if b else "not run | ")
            + f"{r['c_etl']['seconds']:.2f} s | {r['c_over_a']:.2f}x | "
            + (f"{r['b_over_c']:.0f}x | " if b else "- | ")
            + f"{r['c_etl']['max_rss_mb']:.0f} MB / {r['c_etl']['tree_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="sample,gen30")
    ap.add_argument("--repeat", type=int, default=3, help="runs of (a) and (c); the median is reported")
    ap.add_argument("--no-baseline", action="store_true", help="skip (b), which takes minutes")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    results = []
    for name in args.datasets.split(","):
        results.append(run(name, args.repeat, not args.no_baseline, args.workers))
        print(json.dumps(results[-1], indent=1), flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    for r in results:
        (out / f"etl_bench_{r['dataset']}.json").write_text(json.dumps(r, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
