"""The lock files of requirements/: compile them from pyproject.toml, or check that they still match it.

    python scripts/lock.py compile [--upgrade]   # what `bash scripts/lock.sh` runs (needs uv and PyPI)
    python scripts/lock.py check                 # offline: what scripts/setup.sh and the Dockerfile run

pyproject.toml keeps version ranges (the package is also a library); requirements/<shape>.lock.txt
pins every package of one install shape with the hashes of its PyPI files, for Python 3.11 on Linux
x86_64 (the image, CI and the venv of scripts/setup.sh). The shapes:

    base   the dependencies                 (Dockerfile default, scripts/setup.sh)
    test   the dependencies + extra `test`  (scripts/setup.sh --test, CI)
    k8s    the dependencies + extra `k8s`   (Dockerfile --build-arg EXTRAS=k8s)
    bench  the dependencies + extra `bench` (the benchmarks' peers: bench/etl_bench.py)
    build  [build-system] requires         (building the wheel or the editable install)

Each lock's header records a SHA-256 of the pyproject.toml lists it was compiled from. `check` fails
when that digest differs (a requirement was added, removed or changed) or when a requirement is not
met by a pin of the lock, and names the command that refreshes the locks. It needs no network and
only the standard library plus `packaging` (pip's vendored copy will do).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare interpreter (the image's build step): pip vendors packaging
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
REFRESH = "bash scripts/lock.sh"
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
# compiled in this order: `test` is the largest shape, and the others take its versions as constraints,
# so a package has one version in every lock
SHAPES: dict[str, tuple[str, ...]] = {"test": ("test",), "base": (), "k8s": ("k8s",), "bench": ("bench",), "build": ()}
DIGEST = re.compile(r"^# pyproject-sha256: ([0-9a-f]{64})\s*$", re.M)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", re.M)
# the environment the locks are resolved for (uv pip compile --python-version/--python-platform)
TARGET_ENV = {
    **default_environment(),
    "python_version": PYTHON_VERSION,
    "python_full_version": PYTHON_VERSION + ".11",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


class LockError(Exception):
    pass


def lock_path(lock_dir: Path, shape: str) -> Path:
    return lock_dir / f"{shape}.lock.txt"


def declared(pyproject: Path, shape: str) -> dict:
    """The pyproject.toml lists one shape is compiled from."""
    data = tomllib.loads(pyproject.read_text())
    if shape == "build":
        return {"build-system.requires": list(data["build-system"]["requires"])}
    project = data["project"]
    lists = {"requires-python": project.get("requires-python", ""), "dependencies": list(project["dependencies"])}
    for extra in SHAPES[shape]:
        lists[f"optional-dependencies.{extra}"] = list(project["optional-dependencies"][extra])
    return lists


def digest(lists: dict) -> str:
    return hashlib.sha256(json.dumps(lists, sort_keys=True).encode()).hexdigest()


def requirements_of(lists: dict) -> list[str]:
    return [r for key, values in lists.items() if key != "requires-python" for r in values]


def header(shape: str, lists: dict) -> str:
    what = {"base": "the dependencies of pyproject.toml", "build": "the [build-system] requires of pyproject.toml"}.get(
        shape, f'the dependencies of pyproject.toml and its extra "{shape}"'
    )
    install = (
        "pip install --require-hashes -r requirements/build.lock.txt"
        if shape == "build"
        else f"pip install --require-hashes -r requirements/{shape}.lock.txt && pip install --no-deps ."
    )
    return (
        f"# requirements/{shape}.lock.txt: {what}, every package pinned with the hashes of its files.\n"
        f"# Resolved by uv for Python {PYTHON_VERSION} on Linux x86_64. Do not edit: refresh with `{REFRESH}`.\n"
        f"# Install: {install}\n"
        f"# pyproject-sha256: {digest(lists)}\n"
    )


def pins(text: str) -> dict[str, str]:
    return {canonicalize_name(m.group(1)): m.group(3) for m in PIN.finditer(text)}


def check_lock(pyproject: Path, lock_dir: Path, shape: str) -> list[str]:
    """Every way one lock fails to match pyproject.toml (empty when it matches)."""
    path = lock_path(lock_dir, shape)
    if not path.is_file():
        return [f"{path} is missing"]
    text = path.read_text()
    lists = declared(pyproject, shape)
    problems = []
    found = DIGEST.search(text)
    if not found:
        problems.append(f"{path} has no '# pyproject-sha256:' line")
    elif found.group(1) != digest(lists):
        problems.append(f"{path} was compiled from other requirements than those {pyproject} declares now")
    pinned = pins(text)
    for line in requirements_of(lists):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(TARGET_ENV):
            continue
        version = pinned.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{path} has no pin for '{line}'")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{path} pins {req.name}=={version}, which does not meet '{line}'")
    unhashed = [
        name
        for name in pinned
        if not re.search(rf"^{re.escape(name)}(\[[^\]]*\])?==\S+ \\\n\s+--hash=sha256:", text, re.M | re.I)
    ]
    if unhashed:
        problems.append(f"{path} has pins without hashes: {', '.join(sorted(unhashed))}")
    return problems


def check(pyproject: Path, lock_dir: Path) -> list[str]:
    problems = [p for shape in SHAPES for p in check_lock(pyproject, lock_dir, shape)]
    versions: dict[str, dict[str, str]] = {}
    for shape in SHAPES:
        path = lock_path(lock_dir, shape)
        if path.is_file():
            for name, version in pins(path.read_text()).items():
                versions.setdefault(name, {})[shape] = version
    for name, by_shape in sorted(versions.items()):
        if len(set(by_shape.values())) > 1:
            problems.append(f"{name} has different versions in the locks: {by_shape}")
    return problems


def find_uv() -> str:
    for candidate in (os.environ.get("UV"), str(Path(sys.executable).parent / "uv"), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise LockError(f"uv not found: `{REFRESH}` installs it into .venv, or set UV=/path/to/uv")


def compile_locks(pyproject: Path, lock_dir: Path, upgrade: bool) -> None:
    """uv pip compile every shape; versions already in a lock are kept unless `upgrade`."""
    uv = find_uv()
    lock_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        for shape in SHAPES:
            lists = declared(pyproject, shape)
            out = lock_path(lock_dir, shape)
            cmd = [
                uv,
                "pip",
                "compile",
                "--quiet",
                "--generate-hashes",
                "--no-header",
                "--no-strip-extras",
                "--python-version",
                PYTHON_VERSION,
                "--python-platform",
                PLATFORM,
                "--output-file",
                str(out),
            ]
            if upgrade:
                cmd.append("--upgrade")
            if shape == "build":
                source = Path(tmp) / "build-requirements.in"
                source.write_text("\n".join(requirements_of(lists)) + "\n")
                cmd += ["--no-annotate", str(source)]
            else:
                cmd.append(os.path.relpath(pyproject))  # annotations then read "via sim-platform (pyproject.toml)"
                for extra in SHAPES[shape]:
                    cmd += ["--extra", extra]
            if shape != "test" and constraints.is_file():
                cmd += ["--constraint", str(constraints)]
            subprocess.run(cmd, check=True)
            body = out.read_text()
            # the temporary constraints file is no source worth naming in the annotations
            body = re.sub(rf"^\s+#\s+-c {re.escape(str(constraints))}\n", "", body, flags=re.M)
            body = re.sub(r"^(\s+# via)\n\s+#   (\S.*)\n(?!\s+#   )", r"\1 \2\n", body, flags=re.M)  # one source: one line
            out.write_text(header(shape, lists) + body)
            if shape == "test":
                constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins(body).items())))
            print(f"==> {out.relative_to(REPO) if out.is_relative_to(REPO) else out}: {len(pins(body))} packages")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["compile", "check"])
    parser.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml")
    parser.add_argument("--lock-dir", type=Path, default=REPO / "requirements")
    parser.add_argument("--upgrade", action="store_true", help="compile: move every pin to the newest allowed version")
    args = parser.parse_args(argv)
    try:
        if args.command == "compile":
            compile_locks(args.pyproject, args.lock_dir, args.upgrade)
        problems = check(args.pyproject, args.lock_dir)
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if problems:
        print("The lock files do not match pyproject.toml:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(f"Refresh them with: {REFRESH}   (then commit requirements/)", file=sys.stderr)
        return 1
    if args.command == "check":
        print(f"==> {args.lock_dir.name}/*.lock.txt match {args.pyproject.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
