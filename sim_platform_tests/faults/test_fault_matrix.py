"""The fault matrix: crashes at every phase of a day, bad inputs, write errors and CLI misuse, each run
as a real `sim-platform` process. For every case:

- no unreadable hour file, and no day half old and half new (each day is exactly as it was before
  the run, or exactly as a clean run makes it), once the next writer has recovered;
- the next run gives output identical to a clean run, and leaves no temporary or bookkeeping file;
- wherever a day failed, its earlier output is intact.

docs/fault_matrix.md lists the same cases; `test_the_documented_matrix_is_the_tested_one` keeps the
two in step.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim_platform.core.store.publish import recover
from sim_platform_tests.conftest import REPO
from sim_platform_tests.core.telemetry_files import MASTER, epoch, module_tags, write_export
from sim_platform_tests.faults.conftest import record
from sim_platform_tests.faults.harness import day_digests, etl, hidden_leftovers, unreadable

DAYS = ("2024-07-01", "2024-07-02", "2024-07-03")
#: failpoints (see sim_platform/core/exec/failpoints.py) and how many times one run reaches each
PHASES = {"plan": 1, "read": 11, "resample": 3, "write": 80, "commit": 3, "swap": 30}
SEED = 20241124


def _rows(day: str, hour: int, scale: float) -> list:
    rows = []
    for s in range(0, 3600, 20):
        t = epoch(f"{day}T{hour:02d}:00:00") + s
        for m in (1, 2, 3, 4):
            rows.append((t, "module_voltage", f"{50 + scale * m + s / 1e4:.4f}", module_tags(1, m)))
            rows.append((t, "module_current", f"{scale * (s % 300) / 10:.2f}", module_tags(2, m)))
        rows.append((t, "system_state", "RUN" if s % 900 < 450 else "IDLE", [MASTER]))
    return rows


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Old input, new input (two days gain a file), and clean outputs of both."""
    root = tmp_path_factory.mktemp("faults")
    old, new = root / "old_in", root / "new_in"
    for i, day in enumerate(DAYS):
        for hour in (3, 9, 15):
            write_export(old / day.replace("-", "/") / f"export-{day}-{hour:02d}.parquet", _rows(day, hour, 1.0 + i) * 2)
    shutil.copytree(old, new)
    for day in (DAYS[0], DAYS[2]):  # a later export of two days: new series, new hours
        write_export(
            new / day.replace("-", "/") / f"export-{day}-late.parquet",
            [
                (t, "module_insulation_kohm", "910", module_tags(3, 1))
                for t in range(epoch(f"{day}T20:00:00"), epoch(f"{day}T20:30:00"), 7)
            ],
        )
    refs = {}
    for name, src in (("old", old), ("new", new)):
        out = root / f"{name}_ref"
        res = etl(src, out)
        assert res.returncode == 0, res.stderr
        refs[name] = day_digests(out)
    assert refs["old"][DAYS[1]] == refs["new"][DAYS[1]] and refs["old"][DAYS[0]] != refs["new"][DAYS[0]]
    return {"old": old, "new": new, "old_out": root / "old_ref", "refs": refs}


def _start_from_old_output(world, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(world["old_out"], out)
    return out


def _assert_each_day_old_or_new(world, out: Path) -> str:
    recover(out)  # what the next writer of this folder does first
    got = day_digests(out)
    states = []
    for day in DAYS:
        if got.get(day) == world["refs"]["new"][day]:
            states.append("new")
        elif got.get(day) == world["refs"]["old"][day]:
            states.append("old")
        else:
            pytest.fail(
                f"{day} is neither as it was nor as it is now: {sorted(set(got.get(day, {})) ^ set(world['refs']['new'][day]))[:5]}"
            )
    assert not unreadable(out)
    return "/".join(states)


def _assert_rerun_is_clean(world, out: Path) -> None:
    res = etl(world["new"], out)
    assert res.returncode == 0, res.stderr
    assert day_digests(out) == world["refs"]["new"]
    assert hidden_leftovers(out) == []


KILLS = [
    (phase, n)
    for phase, most in PHASES.items()
    for n in sorted(random.Random(f"{SEED}-{phase}").sample(range(1, most + 1), min(2, most)))
]


@pytest.mark.parametrize("phase, n", KILLS, ids=[f"kill-{p}-{n}" for p, n in KILLS])
def test_sigkill_at_every_phase(world, tmp_path, phase, n):
    out = _start_from_old_output(world, tmp_path)
    res = etl(world["new"], out, failpoints=f"{phase}:{n}")
    assert res.returncode == -signal.SIGKILL, (res.returncode, res.stderr[-500:])
    states = _assert_each_day_old_or_new(world, out)
    _assert_rerun_is_clean(world, out)
    record(f"SIGKILL at {phase} #{n}", "each day old or new; rerun = clean run", f"pass (days after the kill: {states})")


def test_killing_the_parent_takes_its_workers_with_it(sample_data, tmp_path):
    """SIGKILL of the etl parent alone (not its group): its workers must not live on."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim_platform",
            "etl",
            "--input",
            str(sample_data),
            "--output",
            str(tmp_path / "out"),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.01)
    assert len(workers) >= 2, "the workers never started"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "workers outlived their parent"
    record("SIGKILL of the parent only", "workers die with it", "pass")


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


# ------------------------------------------------------------------------------------ bad input
def _truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _no_tags(p: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(p).drop_columns(["tags"]), p)


def _wrong_types(p: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pq.read_table(p)
    pq.write_table(t.set_column(t.schema.get_field_index("payload_type"), "payload_type", pa.array([1] * len(t))), p)


def _out_of_range_time(p: Path) -> None:
    write_export(p, [(epoch("2024-07-02T10:00:00") * 1_000_000_000, "module_voltage", "1", module_tags(1, 1))])


BAD = {
    "truncated footer": _truncate,
    "no tags column": _no_tags,
    "wrong column types": _wrong_types,
    "timestamps out of range": _out_of_range_time,
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_refused_file_keeps_its_days_previous_output(world, tmp_path, case):
    """Run, spoil one export of 07-02, run again: 07-02 keeps every hour file it had."""
    src = tmp_path / "in"
    shutil.copytree(world["new"], src)
    out = tmp_path / "out"
    assert etl(src, out).returncode == 0
    before = day_digests(out)
    victim = src / "2024/07/02/export-2024-07-02-09.parquet"
    BAD[case](victim)
    res = etl(src, out)
    assert res.returncode == 1
    assert any(line.startswith(f"  {victim}: ") and len(line) <= 300 for line in res.stdout.splitlines()), res.stdout
    # the other days' inputs did not change: they are skipped, untouched
    assert "day 2024-07-02: not written" in res.stdout and "days: 3 (0 written, 2 unchanged)" in res.stdout
    assert day_digests(out) == before  # nothing of 07-02 lost, the other days as before
    assert hidden_leftovers(out) == []
    with_skip = etl(src, out, "--skip-bad-files")
    assert with_skip.returncode == 1 and "days: 3 (1 written, 2 unchanged)" in with_skip.stdout
    assert not any(k.startswith("phase1_module1/2024/07/02/09") for k in day_digests(out)["2024-07-02"])
    record(f"bad input: {case}", "day kept; --skip-bad-files builds it", "pass")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_write_error_fails_its_day_alone_and_the_summary_is_printed(world, tmp_path, workers):
    """With 2 workers the last day (07-03) is resampled and staged by both workers, a share of its
    hierarchies each, and published by the parent: the same all-or-nothing day."""
    out = _start_from_old_output(world, tmp_path)
    before = day_digests(out)
    blocker = out / "system/2024/07/03"
    subprocess.run(["chattr", "+i", str(blocker)], check=True)  # immutable: even root cannot move it
    try:
        res = etl(world["new"], out, workers=workers)
    finally:
        subprocess.run(["chattr", "-i", str(blocker)], check=True)
    assert res.returncode == 1
    lines = [ln for ln in res.stdout.splitlines() if "2024-07-03" in ln and "not written" in ln]
    assert lines and "system/2024/07/03" in lines[0] and len(lines[0]) <= 300, res.stdout
    assert "days: 3 (2 written)" in res.stdout
    after = day_digests(out)
    assert after[DAYS[2]] == before[DAYS[2]]  # not one hierarchy of 07-03 replaced: no piecemeal day
    assert after[DAYS[0]] == world["refs"]["new"][DAYS[0]]
    assert hidden_leftovers(out) == []
    name = "write error in one day" + ("" if workers == 1 else ", 2 workers")
    record(name, "that day fails whole, others written", "pass")


# ------------------------------------------------------------------------------------ misuse
def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim_platform", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


MISUSE = {
    "--workers 0": (["etl", "--input", "{in}", "--output", "{out}", "--workers", "0"], "--workers: must be at least 1"),
    "--workers -1": (["etl", "--input", "{in}", "--output", "{out}", "--workers", "-1"], "--workers: must be at least 1"),
    "--input is a file": (["etl", "--input", "{file}", "--output", "{out}"], "is a file; give the folder"),
    "--output is a file": (["etl", "--input", "{in}", "--output", "{file}"], "--output {file} is a file"),
    "generate --runs 0": (["generate", "--runs", "0", "--out", "{out}"], "--runs: must be at least 1"),
    "generate --out a file": (["generate", "--out", "{file}"], "--out {file} is a file"),
    "unknown option": (["etl", "--input", "{in}", "--output", "{out}", "--colour"], "unrecognized arguments: --colour"),
}


@pytest.mark.parametrize("case", list(MISUSE))
def test_misuse_is_one_line_and_exit_2_before_any_work(world, tmp_path, case):
    args, message = MISUSE[case]
    afile = tmp_path / "afile"
    afile.write_text("x")
    subst = {"{in}": str(world["new"]), "{out}": str(tmp_path / "out"), "{file}": str(afile)}
    res = _cli(*[subst.get(a, a) for a in args])
    for k, v in subst.items():
        message = message.replace(k, v)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and len(lines[0]) <= 300, res.stderr
    assert res.stdout == "" and not (tmp_path / "out").exists()
    record(f"misuse: {case}", "exit 2, one line, nothing done", "pass")


def test_too_many_workers_are_capped(world, tmp_path):
    res = _cli("etl", "--input", str(world["new"]), "--output", str(tmp_path / "out"), "--workers", "1000")
    assert res.returncode == 0
    assert f"note: --workers 1000 capped at {os.cpu_count()}" in res.stderr
    record("misuse: --workers 1000", "capped at the core count", "pass")


def test_an_output_inside_the_input_is_left_out_of_it(world, tmp_path):
    src = tmp_path / "in"
    shutil.copytree(world["new"], src)
    for _ in range(2):  # the second run must not read the first run's hour files as input
        res = _cli("etl", "--input", str(src), "--output", str(src / "out"), "--workers", "1")
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"note: {src / 'out'} is inside the input" in res.stderr or _ == 0
    assert day_digests(src / "out") == world["refs"]["new"]
    record("misuse: output inside the input", "output left out of the input", "pass")


# ------------------------------------------------------------------------------------ the doc
def test_the_documented_matrix_is_the_tested_one():
    doc = (REPO / "docs/fault_matrix.md").read_text()
    names = [f"SIGKILL at {p} #{n}" for p, n in KILLS] + [
        "SIGKILL of the parent only",
        "write error in one day",
        "write error in one day, 2 workers",
        "misuse: --workers 1000",
        "misuse: output inside the input",
    ]
    names += [f"bad input: {c}" for c in BAD] + [f"misuse: {c}" for c in MISUSE]
    missing = [n for n in names if f"| {n} |" not in doc]
    assert not missing, f"docs/fault_matrix.md lacks rows for {missing}"
