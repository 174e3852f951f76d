"""The package's shape, read from its source: no import circle, arrows point down, and
docs/architecture.md names every module and nothing that is not there.

Imports are read with `ast`, function-local ones included, so a circle hidden inside a function
body counts as much as one at the top of a file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sim_platform"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the package (and every outside top-level package) that `path` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.add(origin)
            # `from pkg import submodule` is an arrow to the submodule
            found.update(f"{origin}.{a.name}" for a in node.names if f"{origin}.{a.name}" in known)
    inside = {m for m in found if m in known}
    outside = {m.split(".")[0] for m in found if not m.startswith("sim_platform")}
    return inside | outside


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) - {name} for name, path in modules.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_there_is_no_import_circle():
    graph = _graph()
    # the parent package is not an arrow: importing a submodule runs `__init__` first, but a
    # package's __init__ that re-exports its children is the normal shape, not a circle
    graph = {m: {d for d in deps if not _is_under(m, d)} for m, deps in graph.items()}
    assert _circles(graph) == []


def test_a_real_circle_is_found():
    """The checker itself can fail: two modules that import each other are one circle."""
    assert _circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_arrows_point_down():
    graph = _graph()
    wrong = []
    for module, deps in graph.items():
        if _is_under(module, "sim_platform.core") or _is_under(module, "sim_platform.storage"):
            wrong += [(module, d) for d in deps if d == "dagster" or d.startswith("dagster_")]
            wrong += [
                (module, d)
                for d in deps
                if _is_under(d, "sim_platform.defs")
                or _is_under(d, "sim_platform.cli")
                or _is_under(d, "sim_platform.definitions")
            ]
        if _is_under(module, "sim_platform.storage"):
            wrong += [(module, d) for d in deps if _is_under(d, "sim_platform.core")]
        if _is_under(module, "sim_platform.cli"):
            wrong += [(module, d) for d in deps if _is_under(d, "sim_platform.defs")]
        if _is_under(module, "sim_platform.defs"):
            wrong += [(module, d) for d in deps if _is_under(d, "sim_platform.cli")]
    assert wrong == []


def test_dagster_layers_name_upstreams_by_key():
    """A Dagster layer never imports another layer's assets module."""
    graph = _graph()
    layers = ("landing", "bronze", "silver", "gold")
    wrong = []
    for layer in layers:
        for module, deps in graph.items():
            if not _is_under(module, f"sim_platform.defs.{layer}"):
                continue
            for other in layers:
                if other != layer and f"sim_platform.defs.{other}.assets" in deps:
                    wrong.append((module, other))
    assert wrong == []


def _tree() -> dict[str, str]:
    """Path -> its description, from the code block of docs/architecture.md."""
    text = ARCHITECTURE.read_text()
    block = re.search(r"```\n(.*?)```", text, re.S).group(1)
    entries: dict[str, str] = {}
    parents: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        depth, odd = divmod(indent, 2)
        if odd or depth > len(parents):
            continue  # a description continued on the next line
        name, _, description = line.strip().partition(" ")
        parents = parents[:depth]
        path = "/".join([p.rstrip("/") for p in parents] + [name])
        entries[path] = description
        if name.endswith("/"):
            parents.append(name)
    return entries


def test_architecture_names_every_module():
    tree = _tree()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py" and path.parent.name != "cli":
            continue  # a folder's docstring, the folder is the entry
        folder = rel.rpartition("/")[0] + "/"
        if rel in tree:
            continue
        if folder in tree and re.search(rf"\b{re.escape(path.name)}\b", tree[folder]):
            continue  # a small folder lists its files on its own line
        missing.append(rel)
    assert missing == [], f"docs/architecture.md does not name {missing}"


def test_architecture_names_nothing_that_is_not_there():
    ghosts = [p for p in _tree() if not (ROOT / p.rstrip("/")).exists()]
    assert ghosts == [], f"docs/architecture.md names {ghosts}, which do not exist"
    folders = [p for p in _tree() if p.endswith("/") and p.startswith("sim_platform/")]
    named = [folder + name for folder in folders for name in re.findall(r"\b(\w+\.py)\b", _tree()[folder])]
    # a folder listed with its own files on one line names only files that exist
    assert [p for p in named if not (ROOT / p).exists()] == []


def test_core_modules_stay_small():
    """No module of core/ over about 400 lines, unless it holds one thing (the generator)."""
    one_thing = {"sim_platform/core/synth/generate.py"}
    large = [
        (p.relative_to(ROOT).as_posix(), n)
        for p in (PACKAGE / "core").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 420 and p.relative_to(ROOT).as_posix() not in one_thing
    ]
    assert large == []
