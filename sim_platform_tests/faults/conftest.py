"""The fault matrix: every case runs `sim-platform` as a real process; each row is recorded here
and the whole matrix is printed at the end of the test session (and kept in docs/fault_matrix.md)."""

from __future__ import annotations

import pytest

MATRIX: list[tuple[str, str, str]] = []  # (case, expected, result)


def record(case: str, expected: str, result: str) -> None:
    MATRIX.append((case, expected, result))


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    if not MATRIX:
        return
    terminalreporter.section("fault matrix")
    width = max(len(c) for c, _, _ in MATRIX)
    for case, expected, result in sorted(MATRIX):
        terminalreporter.write_line(f"{case:<{width}}  {expected:<44}  {result}")
