"""The Polars reference for bench/etl_bench.py: the ETL's work in Polars, as far as it goes without Python loops over rows.

    python bench/peers/polars_ref.py --input DIR --output OUT

Per UTC day (the exporter's day folders, see common.py), on Polars' thread pool:
1. distinct rows: `scan_parquet(...).unique()` over the four export columns (lazy, collected once);
2. tags -> hierarchy and column name by the README's naming rule, once per distinct
   (payload_type, tags) series (a few hundred: plain Python), joined back to the rows on
   (payload_type, tags);
3. 5-second bins: numeric value = mean of the distinct samples, text (`system_state`) = the last
   sample (equal timestamps: the greatest value);
4. per hierarchy, `pivot` to one column per series (sorted by name), joined onto the full 5-second
   grid of every hour with at least one sample (720 rows), written as one parquet file per
   hierarchy-hour (`OUT/{hierarchy}/YYYY/MM/DD/HH.parquet`).

What it leaves out, against `sim-platform etl`: the same as bench/peers/duckdb_ref.py (fill-forward,
catalog columns and order, bounds policy, quality report, validation, metadata, atomic publication,
fsync).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN_S, COLUMNS, OMIT, TAG_ORDER, TEXT_PAYLOADS, VALUE_ONLY, files_by_day  # noqa: E402


def place(payload: str, tags: list) -> tuple[str, str]:
    """(hierarchy, column) of one series by the naming rule."""
    kv = {k: v for k, v in tags}
    phase = kv.get("phase")
    module = kv.get("module") if phase is not None else None
    if phase is not None and module is not None:
        hierarchy, used = f"phase{phase}_module{module}", {"phase", "module"}
    elif phase is not None:
        hierarchy, used = f"phase{phase}", {"phase"}
    else:
        hierarchy, used = "system", set()
    order = {k: i for i, k in enumerate(TAG_ORDER)}
    parts = [payload]
    for k, v in sorted(((k, v) for k, v in tags if k not in used), key=lambda kv: (order.get(kv[0], len(order)), kv[0])):
        if OMIT.get(k) == v:
            continue
        parts.append(v if k in VALUE_ONLY else f"{k}{v}")
    return hierarchy, "_".join(parts)


def process_day(files: list[str], day, out: Path) -> tuple[int, int, int]:
    raw_rows = pl.scan_parquet(files).select(pl.len()).collect().item()
    rows = pl.scan_parquet(files).select(COLUMNS).unique().collect()
    series = rows.select("payload_type", "tags").unique()
    placed = [place(p, t) for p, t in series.iter_rows()]
    series = series.with_columns(
        hierarchy=pl.Series([h for h, _ in placed], dtype=pl.String),
        col=pl.Series([c for _, c in placed], dtype=pl.String),
        is_text=pl.col("payload_type").is_in(list(TEXT_PAYLOADS)),
    )
    lf = rows.lazy().join(series.lazy(), on=["payload_type", "tags"]).with_columns(bin=pl.col("timestamp") // BIN_S * BIN_S)
    num = lf.filter(~pl.col("is_text")).group_by("hierarchy", "col", "bin").agg(pl.col("value").cast(pl.Float64).mean())
    txt = lf.filter(pl.col("is_text")).sort("timestamp", "value").group_by("hierarchy", "col", "bin").agg(pl.col("value").last())
    num, txt = pl.collect_all([num, txt])
    day_s = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    files_written = 0
    for (h,), part in num.partition_by("hierarchy", as_dict=True, include_key=False).items():
        wide = part.pivot(on="col", index="bin", values="value")
        t = txt.filter(pl.col("hierarchy") == h)
        if len(t):
            wide = wide.join(t.pivot(on="col", index="bin", values="value"), on="bin", how="full", coalesce=True)
        wide = wide.select("bin", *sorted(c for c in wide.columns if c != "bin"))
        hours = wide.select(((pl.col("bin") - day_s) // 3600).unique().sort()).to_series().to_list()
        grid = pl.DataFrame({"bin": [day_s + hh * 3600 + i for hh in hours for i in range(0, 3600, BIN_S)]})
        full = (
            grid.join(wide, on="bin", how="left")
            .sort("bin")
            .with_columns(
                hh=(pl.col("bin") - day_s) // 3600,
                timestamp=pl.from_epoch("bin", time_unit="s").dt.replace_time_zone("UTC"),
            )
        )
        folder = out / h / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        for (hh,), hour in full.partition_by("hh", as_dict=True, include_key=False).items():
            hour.select("timestamp", pl.exclude("timestamp", "bin")).write_parquet(folder / f"{hh:02d}.parquet")
            files_written += 1
    return raw_rows, len(rows), files_written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.output)
    totals = [0, 0, 0]
    for day, files in files_by_day(args.input).items():
        for i, n in enumerate(process_day(files, day, out)):
            totals[i] += n
    print(
        f"polars {pl.__version__}: raw rows: {totals[0]} distinct rows: {totals[1]} files written: {totals[2]} "
        f"seconds: {time.perf_counter() - t0:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
