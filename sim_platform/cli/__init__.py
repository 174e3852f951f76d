"""The `sim-platform` command: argument parsing and progress display only.

Each subcommand module registers its parser and calls one function of `sim_platform.core` or
`sim_platform.storage`; no rule (naming, cadence, fill, what to sync) lives in this package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sim_platform.cli import demo_commands, etl_commands, gold_commands, sync_commands, ui_commands


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line (`sim-platform etl: error: ...`) and exit 2, before any work."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sim-platform",
        description="Battery-storage telemetry platform: generate, ETL, gold features, plot, sync and the Dagster UI.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo_commands.register(sub)
    etl_commands.register(sub)
    gold_commands.register(sub)
    sync_commands.register(sub)
    ui_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passes_unknown", False):  # `ui` hands the options it does not know to `dg dev`
        return int(args.func(args, extra) or 0)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
