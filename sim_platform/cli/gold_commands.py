"""`sim-platform gold`: module-day features and quarterly training sets from a silver folder.

The same calls as the Dagster assets `gold/module_day_features` and `gold/ml_training_set`
(`core.gold.files`, `core.gold.warehouse`); here the silver and gold stores are local folders.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path

from sim_platform.environment import PlatformEnv


def register(sub: argparse._SubParsersAction) -> None:
    gold = sub.add_parser("gold", help="module-day features and quarterly ML training sets from silver hour files")
    gold.add_argument("--silver", required=True, help="silver root (the ETL's --output)")
    gold.add_argument("--gold", required=True, help="gold folder: module_day_features/, ml_training_set/, warehouse.duckdb")
    gold.add_argument("--quarter", action="append", default=None, help="only this quarter, e.g. 2024Q3 (repeatable)")
    gold.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes, one day per task (default: cores)")
    gold.add_argument(
        "--warehouse-url-env",
        default="SIM_PLATFORM_WAREHOUSE_URL",
        help="environment variable holding a PostgreSQL URL (default %(default)s); unset: DuckDB in --gold",
    )
    gold.add_argument(
        "--config",
        default=PlatformEnv.read().pipelines,
        help="pipelines YAML whose catalog names the plant states (default: $SIM_PLATFORM_PIPELINES or the packaged one)",
    )
    gold.set_defaults(func=_gold)


def _gold(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim_platform.core.config.pipelines import ConfigError, load_pipelines
    from sim_platform.core.gold.features import feature_schema, quarter_of
    from sim_platform.core.gold.files import build_module_days_parallel, publish_quarter, stored_module_days
    from sim_platform.core.gold.warehouse import describe, open_warehouse
    from sim_platform.core.store.layout import LocalTarget

    try:
        catalog = load_pipelines(args.config).catalog  # once: the workers get the object
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not Path(args.silver).is_dir():
        print(f"error: silver folder {args.silver} does not exist", file=sys.stderr)
        return 2
    keys = [k for k in stored_module_days(args.silver) if not args.quarter or quarter_of(k[0]) in args.quarter]
    if not keys:
        print(
            f"error: no module hour files under {args.silver}" + (f" for {args.quarter}" if args.quarter else ""), file=sys.stderr
        )
        return 2
    gold = LocalTarget(args.gold)
    with tqdm(total=len({d for d, _ in keys}), unit="day", desc="features", file=sys.stderr) as bar:
        build_module_days_parallel(
            partial(LocalTarget, args.silver),
            partial(LocalTarget, args.gold),
            keys,
            args.workers,
            on_day=lambda _: bar.update(1),
            catalog=catalog,
        )
    modules = sorted({pm for _, pm in keys})
    url, duckdb_path = os.environ.get(args.warehouse_url_env) or None, Path(args.gold) / "warehouse.duckdb"
    print(f"warehouse: {describe(url, duckdb_path)}")
    with open_warehouse(url, duckdb_path, feature_schema(catalog)) as wh:
        for quarter in sorted({quarter_of(d) for d, _ in keys}):
            table, rel, report = publish_quarter(gold, wh, quarter, modules, catalog=catalog)
            print(
                f"{quarter}: {table.num_rows} module-days -> {rel}; "
                f"warehouse inserted {report.inserted}, updated {report.updated}, deleted {report.deleted}"
            )
    return 0
