"""Helpers shared by the storage tests (data trees and checksums)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path


def make_runs(root: Path, runs: int = 3, files: int = 3, seed: int = 0, size: int = 40_000) -> dict[str, bytes]:
    """Run folders of pseudo-random files (`run_00/sample_00.h5`, ...); returns name -> content."""
    rng = random.Random(seed)
    content: dict[str, bytes] = {}
    for r in range(runs):
        for f in range(files):
            name = f"run_{r:02d}/sample_{f:02d}.h5"
            data = rng.randbytes(size + 997 * (r * files + f))
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            content[name] = data
    return content


def tree_md5(root: Path) -> dict[str, str]:
    """name -> md5 hex of every regular file under `root` (temporary files included, on purpose)."""
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()
    }


def expected_md5(content: dict[str, bytes], prefix: str = "") -> dict[str, str]:
    return {prefix + name: hashlib.md5(data).hexdigest() for name, data in content.items()}
