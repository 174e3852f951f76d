"""The baseline for bench/etl_bench.py: the ETL written the way most people would write it in pandas.

Read every export of a day with `pd.read_parquet`, concatenate, drop duplicates, parse the tags with
`apply`, name columns with `apply`, `pivot_table` per module on 5-second floored timestamps, reindex
to the day's grid, forward-fill with a limit, and write each hour with `to_parquet`. One process,
one day at a time (so it does not run out of memory on 30 days). It is not part of the package.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

FILL_BINS = {
    "module_temperature": 180,
    "battery_sensor_temperature": 180,
    "cell_voltage": 360,
    "debug_value": 180,
    "phase_module_count": 4320,
    "phase_count": 4320,
}


def parse_tags(tags) -> dict:
    return {k: v for k, v in tags}


def column_name(row) -> str:
    name = row["payload_type"]
    for key in ("battery", "cell", "sensor"):
        if isinstance(row.get(key), str):
            name += f"_{key}{row[key]}"
    if isinstance(row.get("debug_value_key"), str):
        name += "_" + row["debug_value_key"]
    return name


def hierarchy(row) -> str:
    if isinstance(row.get("phase"), str) and isinstance(row.get("module"), str):
        return f"phase{row['phase']}_module{row['module']}"
    if isinstance(row.get("phase"), str):
        return f"phase{row['phase']}"
    return "system"


def process_day(files: list[Path], out: Path) -> int:
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    df = df.drop(columns=[c for c in df.columns if c.startswith("__")])
    df["tags_key"] = df["tags"].apply(lambda t: str([list(p) for p in t]))
    df = df.drop_duplicates(subset=["timestamp", "payload_type", "value", "tags_key"])
    tags = pd.DataFrame(df["tags"].apply(parse_tags).tolist(), index=df.index)
    df = pd.concat([df.drop(columns=["tags", "tags_key"]), tags], axis=1)
    df["column"] = df.apply(column_name, axis=1)
    df["hierarchy"] = df.apply(hierarchy, axis=1)
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="s", utc=True)
    df["bin"] = df["timestamp"].dt.floor("5s")
    day = df["bin"].min().floor("D")
    grid = pd.date_range(day, periods=17280, freq="5s")
    written = 0
    for h, part in df.groupby("hierarchy"):
        numeric = part[part["payload_type"] != "system_state"].copy()
        numeric["value"] = pd.to_numeric(numeric["value"])
        wide = numeric.pivot_table(index="bin", columns="column", values="value", aggfunc="mean")
        text = part[part["payload_type"] == "system_state"]
        if len(text):
            wide = wide.join(text.sort_values("timestamp").groupby("bin")["value"].last().rename("system_state"), how="outer")
        wide = wide.reindex(grid)
        for col in wide.columns:
            limit = next((v for k, v in FILL_BINS.items() if col.startswith(k)), 24)
            wide[col] = wide[col].ffill(limit=limit)
        hours = part["bin"].dt.floor("h").unique()
        for hour in hours:
            chunk = wide.loc[hour : hour + pd.Timedelta("59min55s")].reset_index(names="timestamp")
            path = out / h / f"{hour:%Y/%m/%d}" / f"{hour:%H}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            chunk.to_parquet(path)
            written += 1
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)
    by_day = defaultdict(list)
    for f in sorted(Path(args.input).rglob("*.parquet")):
        ts = pq.read_table(f, columns=["timestamp"]).column("timestamp")
        by_day[pd.to_datetime(ts[0].as_py(), unit="s").date()].append(f)
    total = 0
    for day in sorted(by_day):
        total += process_day(by_day[day], Path(args.output))
        print(f"{day}: done", file=sys.stderr, flush=True)
    print(f"files written: {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
