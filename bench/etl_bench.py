"""ETL benchmark: `sim-platform etl` against the streaming read floor and DuckDB and Polars references.

    python bench/etl_bench.py                                  # day, sample and gen60; 3 rounds each
    python bench/etl_bench.py --datasets day,sample --repeat 5
    python bench/etl_bench.py --datasets gen60 --tools floor,etl --no-rerun
    python bench/etl_bench.py --datasets day,sample --tools etl --baseline HEAD~1 --no-rerun

Datasets: `day` (the sample's 2024-07-05 alone: 92 files, the full day of the newer exporter),
`sample` (../shared/data/telemetry, 4 days, 605 files), `gen60` (60 generated days at the real
exporter's density, `generate(..., exporter="real")`, cached in bench/data/gen60), and `gen30`
(the 30-day set of the backfill and gold benches).

Tools, interleaved round by round (floor, etl, duckdb, polars; floor, etl, ...), each a fresh
process under /usr/bin/time -v with its whole process tree's memory sampled (bench/measure.py):
- floor:  bench/read_floor.py, pyarrow.dataset streaming the four export columns of every file
          once, in parallel, keeping nothing;
- etl:    `sim-platform etl --input IN --output OUT` into an empty OUT;
- duckdb: bench/peers/duckdb_ref.py, polars: bench/peers/polars_ref.py (same work as far as they
          go; what they leave out is in their docstrings);
- pandas: bench/baseline_pandas.py, the plain pandas version (only when named in --tools: it
          takes minutes per day).
Then, for the etl only, reruns over the output of its last round (`--no-rerun` skips them):
- rerun:     the same input again, nothing changed;
- new file:  one more export file (a copy of an existing one under a new name, as a late
             re-export) in the middle day, then a rerun over everything; against
- day alone: the etl of that day's folder alone (with the new file) into an empty output.
`--baseline REV` adds the tool `base`: the same `sim-platform etl` from a git worktree of REV (the
package imported from there, same interpreter and locks), interleaved with the rest, so a change is
measured against the commit before it in one run (`etl / base`).
Input is read through a folder of symbolic links (the same for every tool), so the new file never
touches the cached data.

Medians of the rounds are reported, with every ratio; the density of each dataset (raw rows,
copies per distinct sample, files and MB per day) is compared with the sample's 2024-07-05; on
`day` the peers' 5-second means of phase1_module1 are checked against the etl's (1e-9). Results go
to bench/results/etl_bench_<dataset>.json and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from measure import measure  # noqa: E402

PY = sys.executable
SAMPLE = REPO.parent / "shared" / "data" / "telemetry"
#: the generated sets: generate(**args), cached under bench/data/<name>
GENERATED = {
    "gen30": dict(runs=3, days=10, seed=42, fmt="telemetry"),
    "gen60": dict(runs=2, days=30, seed=60, fmt="telemetry", exporter="real"),
}
#: the sample's full day of the newer exporter, the density the generated set must have
REFERENCE_DAY = {"day": "2024-07-05", "raw": 5_525_912, "distinct": 1_249_196, "files": 92}
TOOLS = ("floor", "etl", "duckdb", "polars")
#: on request only (--tools ...,pandas): the plain pandas baseline, minutes per day
EXTRA_TOOLS = ("pandas",)
#: digest of the etl's hour files of the sample (bench/sample_hour_files.json): today's output, which
#: every change must reproduce byte for byte
SAMPLE_DIGEST = HERE / "sample_hour_files.json"
CHECK_HIERARCHY = "phase1_module1"


def dataset(name: str) -> Path:
    """The input folder of a dataset (generated or copied into bench/data the first time)."""
    if name == "sample":
        return SAMPLE
    if name == "day":
        path = HERE / "data" / "day"
        if not (path / ".complete").exists():
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(SAMPLE / "2024" / "07" / "05", path / "2024" / "07" / "05")
            (path / ".complete").write_text("the sample's 2024-07-05\n")
        return path
    if name in GENERATED:
        path = HERE / "data" / name
        args = GENERATED[name]
        stamp = json.dumps(args, sort_keys=True) + "\n"
        if not (path / ".complete").exists() or (path / ".complete").read_text() not in (stamp, "ok"):
            shutil.rmtree(path, ignore_errors=True)
            print(f"generating {name}: {args} (minutes) ...", flush=True)
            from sim_platform.core.synth.generate import generate

            generate(path, **args)
            (path / ".complete").write_text(stamp)
        return path
    raise SystemExit(f"unknown dataset {name}")


def mirror(src: Path, dst: Path) -> list[Path]:
    """A tree of real folders and symbolic links to src's parquet files; returns the links."""
    links = []
    for p in sorted(src.rglob("*.parquet")):
        rel = p.relative_to(src)
        if any(part.startswith(".") for part in rel.parts):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).symlink_to(p.resolve())
        links.append(dst / rel)
    return links


def input_stats(files: list[Path]) -> dict:
    days = {f.parent.relative_to(f.parents[3]).as_posix() for f in files}
    return {"files": len(files), "days": len(days), "input_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1)}


#: the worktree of --baseline, when given
BASELINE: dict[str, Path] = {}


def baseline_worktree(rev: str) -> Path:
    """A detached git worktree of `rev` under bench/data/.baseline (made once per commit)."""
    import subprocess

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", rev], check=True, capture_output=True, text=True).stdout.strip()
    tree = HERE / "data" / ".baseline" / commit[:12]
    if not (tree / "sim_platform").is_dir():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--force", str(tree), commit], check=True)
    return tree


def command(tool: str, src: Path, out: Path) -> list[str]:
    if tool == "base":
        return [PY, "-c", _FROM_BASELINE, str(BASELINE["tree"]), "etl", "--input", str(src), "--output", str(out)]
    if tool == "floor":
        return [PY, str(HERE / "read_floor.py"), str(src)]
    if tool == "etl":
        return [PY, "-m", "sim_platform", "etl", "--input", str(src), "--output", str(out)]
    if tool == "pandas":
        return [PY, str(HERE / "baseline_pandas.py"), "--input", str(src), "--output", str(out)]
    return [PY, str(HERE / "peers" / f"{tool}_ref.py"), "--input", str(src), "--output", str(out)]


#: run the baseline's CLI: its package first on sys.path, then `python -m sim_platform` as usual
_FROM_BASELINE = (
    "import runpy, sys; tree = sys.argv.pop(1); sys.path.insert(0, tree); "
    "import sim_platform; assert sim_platform.__file__.startswith(tree), sim_platform.__file__; "
    "sys.argv[0] = 'sim_platform'; runpy.run_module('sim_platform', run_name='__main__', alter_sys=True)"
)

_COUNTS = re.compile(r"raw rows: ([\d,]+)\s+distinct rows: ([\d,]+)\s+files written: ([\d,]+)")


def counts(stdout: str) -> dict:
    m = _COUNTS.search(stdout)
    return (
        {} if not m else {k: int(v.replace(",", "")) for k, v in zip(("raw_rows", "distinct_rows", "files_written"), m.groups())}
    )


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time, with every run's wall time and the medians of the rest."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    mid = dict(ordered[len(ordered) // 2])
    mid.pop("stdout", None)
    mid["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    for k in ("seconds", "cpu_seconds", "max_rss_mb", "tree_mb"):
        mid[k] = statistics.median(r[k] for r in runs)
    return mid


def timed(tool: str, src: Path, out: Path, label: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    res = measure(command(tool, src, out), env={**os.environ, "PYTHONWARNINGS": "ignore"})
    res.update(counts(res["stdout"]))
    print(
        f"  {label:<10} {tool:<7} {res['seconds']:7.2f} s  cpu {res['cpu_seconds']:7.1f} s  "
        f"rss {res['max_rss_mb']:5.0f} MB  tree {res['tree_mb']:5.0f} MB",
        flush=True,
    )
    return res


def check_peer(etl_out: Path, peer_out: Path, day: date, tool: str) -> dict:
    """The peer's 5-second means of one module against the etl's: equal within 1e-9 wherever the peer
    has a value, and the peer has a value exactly in the bins the etl marks as real (`real_bins`)."""
    import numpy as np
    import pyarrow.parquet as pq

    folder = etl_out / CHECK_HIERARCHY / f"{day:%Y/%m/%d}"
    peer_folder = peer_out / CHECK_HIERARCHY / f"{day:%Y/%m/%d}"
    worst, compared, bins_ok, columns = 0.0, 0, True, set()
    for f in sorted(folder.glob("*.parquet")):
        hour = int(f.stem)
        theirs = peer_folder / f"{hour:02d}.parquet"
        if not theirs.exists():
            theirs = peer_folder / f"hh={hour}" / "data_0.parquet"
        ours_t = pq.read_table(f)
        meta = json.loads(pq.read_metadata(f).metadata[b"sim_platform"])
        peer_t = pq.read_table(theirs).sort_by("timestamp")
        for name in peer_t.column_names:
            if name in ("timestamp", "hh"):
                continue
            columns.add(name)
            p = peer_t[name].to_numpy(zero_copy_only=False).astype(float)
            o = ours_t[name].to_numpy(zero_copy_only=False).astype(float)
            has = ~np.isnan(p)
            compared += int(has.sum())
            if has.any():
                worst = max(worst, float(np.nanmax(np.abs(p[has] - o[has]))))
            bins_ok &= int(has.sum()) == int(meta["real_bins"][name])
    ok = compared > 0 and worst <= 1e-9 and bins_ok
    return {
        "tool": tool,
        "hierarchy": CHECK_HIERARCHY,
        "day": str(day),
        "columns": len(columns),
        "bins_compared": compared,
        "max_abs_diff": worst,
        "real_bins_match": bins_ok,
        "ok": ok,
    }


def hour_files_digest(root: Path) -> dict:
    """SHA-256 over every hour file's relative path and bytes (quality reports and manifests left out)."""
    import hashlib

    total, n = hashlib.sha256(), 0
    for p in sorted(root.rglob("*.parquet")):
        rel = p.relative_to(root)
        if any(part.startswith((".", "_")) for part in rel.parts):
            continue
        total.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
        n += 1
    return {"files": n, "sha256": total.hexdigest()}


def new_export(day_folder: Path, n: int) -> Path:
    """One more export in a day folder: a copy of its first file under a new name (a late re-export)."""
    first = sorted(p for p in day_folder.glob("*.parquet") if p.is_symlink())[0]  # an original, not an earlier copy
    name = re.sub(r"-[0-9a-f-]{36}\.parquet$", f"-{n:08x}-0000-4000-8000-{n:012x}.parquet", first.name)
    assert name != first.name, first.name
    target = day_folder / name
    shutil.copyfile(first.resolve(), target)
    return target


def run(name: str, repeat: int, tools: list[str], reruns: bool) -> dict:
    src = dataset(name)
    res: dict = {"dataset": name, "when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "repeat": repeat}
    with tempfile.TemporaryDirectory(prefix="etl_bench_") as tmp:
        tmp = Path(tmp)
        links = mirror(src, tmp / "in")
        res.update(input_stats(links))
        print(f"{name}: {res['files']} files, {res['days']} days, {res['input_mb']} MB", flush=True)
        runs: dict[str, list[dict]] = {t: [] for t in tools}
        for i in range(repeat):
            for tool in tools:
                runs[tool].append(timed(tool, tmp / "in", tmp / f"out_{tool}", f"round {i + 1}"))
        for tool in tools:
            res[tool] = median_run(runs[tool])
        if "etl" in tools and name == "day":
            day = date.fromisoformat(REFERENCE_DAY["day"])
            res["checks"] = [check_peer(tmp / "out_etl", tmp / f"out_{t}", day, t) for t in tools if t in ("duckdb", "polars")]
            for c in res["checks"]:
                print(f"  check {c}", flush=True)
        if "etl" in tools and name == "sample" and SAMPLE_DIGEST.exists():
            want = json.loads(SAMPLE_DIGEST.read_text())
            got = hour_files_digest(tmp / "out_etl")
            res["identical_output"] = {
                "reference": want.get("source", ""),
                "files": got["files"],
                "ok": got["sha256"] == want["sha256"] and got["files"] == want["files"],
            }
            print(
                f"  hour files identical to the reference ({want.get('source', '')}): {res['identical_output']['ok']}", flush=True
            )
        if "etl" in tools and "base" in tools:
            mine, theirs = hour_files_digest(tmp / "out_etl"), hour_files_digest(tmp / "out_base")
            res["same_as_baseline"] = {"files": mine["files"], "ok": mine == theirs}
            print(f"  hour files identical to the baseline's: {res['same_as_baseline']['ok']}", flush=True)
        if "etl" in tools and reruns:
            res.update(rerun_scenarios(tmp, repeat))
    return res


def rerun_scenarios(tmp: Path, repeat: int) -> dict:
    """Reruns over the etl's last output: nothing changed; one new file in the middle day; that day alone."""
    day_folders = sorted({p.parent for p in (tmp / "in").rglob("*.parquet")})
    middle = day_folders[len(day_folders) // 2]
    alone = tmp / "alone"
    out = {"rerun": [], "new_file": [], "day_alone": [], "new_file_day": middle.relative_to(tmp / "in").as_posix()}
    for i in range(repeat):
        out["rerun"].append(_rerun(tmp, f"rerun {i + 1}"))
        new_export(middle, i + 1)
        out["new_file"].append(_rerun(tmp, f"newfile {i + 1}"))
        shutil.rmtree(alone, ignore_errors=True)
        mirror(middle, alone / middle.relative_to(tmp / "in"))
        out["day_alone"].append(timed("etl", alone, tmp / "out_alone", f"alone {i + 1}"))
    return {k: median_run(v) if isinstance(v, list) else v for k, v in out.items()}


def _rerun(tmp: Path, label: str) -> dict:
    res = measure(command("etl", tmp / "in", tmp / "out_etl"), env={**os.environ, "PYTHONWARNINGS": "ignore"})
    res.update(counts(res["stdout"]))
    print(
        f"  {label:<10} etl     {res['seconds']:7.2f} s  cpu {res['cpu_seconds']:7.1f} s  "
        f"({res.get('files_written', '?')} files written)",
        flush=True,
    )
    return res


def density(r: dict) -> dict | None:
    etl = r.get("etl")
    if not etl or "raw_rows" not in etl:
        return None
    days = r["days"]
    return {
        "raw_per_day": etl["raw_rows"] / days,
        "distinct_per_day": etl["distinct_rows"] / days,
        "copies": etl["raw_rows"] / max(etl["distinct_rows"], 1),
        "files_per_day": r["files"] / days,
        "mb_per_day": r["input_mb"] / days,
    }


def tables(results: list[dict]) -> str:
    ref = REFERENCE_DAY
    lines = [
        "| dataset | input | floor | etl | duckdb | polars | etl / floor | etl / duckdb | etl / polars | duckdb / floor | polars / floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def sec(r, t):
        return f"{r[t]['seconds']:.2f} s" if t in r else "-"

    def ratio(r, a, b):
        return f"{r[a]['seconds'] / r[b]['seconds']:.2f}x" if a in r and b in r else "-"

    for r in results:
        lines.append(
            f"| {r['dataset']} | {r['files']:,} files, {r['days']} days, {r['input_mb']:,.0f} MB | "
            + " | ".join(sec(r, t) for t in TOOLS)
            + " | "
            + " | ".join(
                ratio(r, a, b)
                for a, b in (("etl", "floor"), ("etl", "duckdb"), ("etl", "polars"), ("duckdb", "floor"), ("polars", "floor"))
            )
            + " |"
        )
    with_base = [r for r in results if "base" in r and "etl" in r]
    if with_base:
        lines += [
            "",
            "| dataset | etl | base (" + with_base[0].get("baseline", "") + ") | etl / base | CPU etl / base | same hour files |",
            "|---|---|---|---|---|---|",
        ]
        for r in with_base:
            lines.append(
                f"| {r['dataset']} | {r['etl']['seconds']:.2f} s | {r['base']['seconds']:.2f} s | {ratio(r, 'etl', 'base')} | "
                f"{r['etl']['cpu_seconds'] / r['base']['cpu_seconds']:.2f}x | {r.get('same_as_baseline', {}).get('ok', '-')} |"
            )
    lines += [
        "",
        "| dataset | tool | wall (median) | all rounds | CPU | peak RSS, largest process | peak, whole tree |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for t in (*TOOLS, *EXTRA_TOOLS, "base", "rerun", "new_file", "day_alone"):
            if t in r:
                m = r[t]
                lines.append(
                    f"| {r['dataset']} | {t} | {m['seconds']:.2f} s | {', '.join(f'{s:.2f}' for s in m['all_seconds'])} | "
                    f"{m['cpu_seconds']:.1f} s | {m['max_rss_mb']:.0f} MB | {m['tree_mb']:.0f} MB |"
                )
    reruns = [r for r in results if "rerun" in r]
    if reruns:
        lines += [
            "",
            "| dataset | first run (etl) | rerun, nothing changed | rerun / first | one new file in "
            "one day | that day alone | new file / day alone |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in reruns:
            lines.append(
                f"| {r['dataset']} | {r['etl']['seconds']:.2f} s | {r['rerun']['seconds']:.2f} s | "
                f"{r['rerun']['seconds'] / r['etl']['seconds']:.1%} | {r['new_file']['seconds']:.2f} s ({r['new_file_day']}) | "
                f"{r['day_alone']['seconds']:.2f} s | {r['new_file']['seconds'] / r['day_alone']['seconds']:.2f}x |"
            )
    lines += [
        "",
        "| dataset | raw rows / day | distinct rows / day | copies per distinct sample | files / day | MB / day |",
        "|---|---|---|---|---|---|",
        f"| sample's {ref['day']} (reference) | {ref['raw']:,} | {ref['distinct']:,} | {ref['raw'] / ref['distinct']:.2f} | {ref['files']} | 39.9 |",
    ]
    for r in results:
        d = density(r)
        if d:
            lines.append(
                f"| {r['dataset']} | {d['raw_per_day']:,.0f} ({d['raw_per_day'] / ref['raw']:.2f}x) | "
                f"{d['distinct_per_day']:,.0f} ({d['distinct_per_day'] / ref['distinct']:.2f}x) | {d['copies']:.2f} | "
                f"{d['files_per_day']:.1f} | {d['mb_per_day']:.1f} |"
            )
    for r in results:
        if "identical_output" in r:
            i = r["identical_output"]
            lines += [
                "",
                f"{r['dataset']}: the etl's {i['files']:,} hour files are byte-identical to the reference "
                f"({i['reference']}): {i['ok']}",
            ]
    checks = [c for r in results for c in r.get("checks", [])]
    if checks:
        lines += [
            "",
            "| check (day) | columns | bins compared | max abs diff | peer's bins = etl's real_bins | ok |",
            "|---|---|---|---|---|---|",
        ]
        for c in checks:
            lines.append(
                f"| {c['tool']} vs etl, {c['hierarchy']} {c['day']} | {c['columns']} | {c['bins_compared']:,} | "
                f"{c['max_abs_diff']:.1e} | {c['real_bins_match']} | {c['ok']} |"
            )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="day,sample,gen60")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of every tool, interleaved; medians are reported")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--no-rerun", action="store_true", help="skip the rerun scenarios")
    ap.add_argument("--baseline", metavar="REV", help="also run the etl of this git revision (tool `base`), interleaved")
    ap.add_argument("--table-only", action="store_true", help="print the table of the saved results and stop")
    args = ap.parse_args()
    out = HERE / "results"
    names = args.datasets.split(",")
    if args.table_only:
        print(tables([json.loads((out / f"etl_bench_{n}.json").read_text()) for n in names]))
        return 0
    results = []
    out.mkdir(exist_ok=True)
    tools = args.tools.split(",")
    if args.baseline:
        BASELINE["tree"] = baseline_worktree(args.baseline)
        tools.append("base")
    for name in names:
        r = run(name, args.repeat, tools, not args.no_rerun)
        if args.baseline:
            r["baseline"] = args.baseline
        (out / f"etl_bench_{name}.json").write_text(json.dumps(r, indent=1, default=str))
        results.append(r)
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (shared with other work)\n")
    print(tables(results))
    bad = [c for r in results for c in r.get("checks", []) if not c["ok"]]
    bad += [r for r in results if not r.get("identical_output", {"ok": True})["ok"]]
    bad += [r for r in results if not r.get("same_as_baseline", {"ok": True})["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
