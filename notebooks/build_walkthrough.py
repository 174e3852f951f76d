"""Writes notebooks/walkthrough.ipynb from the cells below (edit here, then run this script).

Keeping the notebook's source as plain Python makes its diffs readable; the .ipynb is what people open.
"""

from pathlib import Path

import nbformat as nbf

CELLS = [
    (
        "md",
        """# sim_platform walkthrough

From raw telemetry exports to the exact 5-second grid, with the library the CLI and Dagster use:
ingestion of the real sample, the ETL, raw versus 5-second data, and day plots. Nothing here
re-implements a rule; every step is one call into `sim_platform.core`.""",
    ),
    (
        "code",
        """import os
from datetime import date
from pathlib import Path
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import matplotlib.pyplot as plt

from sim_platform.core.config.pipelines import default_catalog
from sim_platform.core.etl import run_etl
from sim_platform.core.ingest.plan import plan_inputs
from sim_platform.core.ingest.read import read_day
from sim_platform.core.store.layout import LocalTarget
from sim_platform.core.store.read import read_stored_day
from sim_platform.core.gold.plots import draw_day

def find_sample() -> Path:
    # the real sample: $SIM_PLATFORM_SAMPLE_DATA, or shared/data/telemetry beside an enclosing folder
    if "SIM_PLATFORM_SAMPLE_DATA" in os.environ:
        return Path(os.environ["SIM_PLATFORM_SAMPLE_DATA"])
    for folder in [Path.cwd(), *Path.cwd().resolve().parents]:
        if (folder / "shared" / "data" / "telemetry").is_dir():
            return folder / "shared" / "data" / "telemetry"
    raise FileNotFoundError("shared/data/telemetry not found: set SIM_PLATFORM_SAMPLE_DATA")


SAMPLE = find_sample()
OUTPUT = Path(tempfile.mkdtemp(prefix="walkthrough_"))
catalog = default_catalog()
print("sample:", SAMPLE, "| output:", OUTPUT)""",
    ),
    (
        "md",
        """## 1. Ingestion: what is in the sample

The planner finds every export at any depth and reads only parquet footers to learn which UTC day
each file covers.""",
    ),
    (
        "code",
        """plan = plan_inputs(SAMPLE, catalog)
by_day = plan.by_day()
pd.DataFrame([{"day": d, "files": len(fs), "MB": round(sum(f.size for f in fs) / 2**20, 1)} for d, fs in by_day.items()])""",
    ),
    (
        "code",
        """first = sorted(by_day[date(2024, 7, 5)], key=lambda f: f.path)[0].path
raw = pq.read_table(first).to_pandas()
print(first.name, len(raw), "rows,", len(raw.drop(columns="tags").assign(tags=raw["tags"].map(str)).drop_duplicates()), "distinct")
raw.head()""",
    ),
    (
        "md",
        """## 2. The ETL

One call: plan, read and deduplicate, resample every hierarchy to 5 s, validate with pandera,
write `hierarchy/YYYY/MM/DD/HH.parquet`.""",
    ),
    (
        "code",
        """summary = run_etl(SAMPLE, OUTPUT, workers=2)
summary.totals()""",
    ),
    (
        "code",
        """files = sorted(OUTPUT.rglob("*.parquet"))
print(len(files), "hour files, e.g.", files[0].relative_to(OUTPUT))
hour = pq.read_table(OUTPUT / "phase1_module3/2024/07/05/10.parquet").to_pandas()
print(hour.shape, "rows x columns;", hour["timestamp"].iloc[[0, -1]].tolist())
hour.iloc[:6, :6]""",
    ),
    (
        "md",
        """## 3. Raw versus 5-second data

The raw samples of one series over 15 minutes (distinct samples as dots, exported copies ignored),
against the 5-second values: the mean of each bin, carried forward within the fill limit.""",
    ),
    (
        "code",
        """batch, errors = read_day(by_day[date(2024, 7, 5)], date(2024, 7, 5), catalog)
sid = next(i for i, (p, tags) in enumerate(batch.series) if p == "module_voltage" and dict(tags).get("phase") == "1" and dict(tags).get("module") == "3")
sel = batch.num_sid == sid
raw_v = pd.Series(batch.num_val[sel], index=pd.to_datetime(batch.num_ts[sel], unit="ms", utc=True)).sort_index()
window = (pd.Timestamp("2024-07-05T10:00", tz="UTC"), pd.Timestamp("2024-07-05T10:15", tz="UTC"))
grid = hour.set_index("timestamp")["module_voltage"].loc[window[0]:window[1]]
fig, ax = plt.subplots(figsize=(11, 3.5))
ax.plot(raw_v.loc[window[0]:window[1]], ".", ms=4, label="raw samples (distinct)")
ax.step(grid.index, grid.values, where="post", lw=1.2, label="5-second grid")
ax.ticklabel_format(axis="y", useOffset=False)
ax.set_xlabel("time (UTC)"); ax.set_ylabel("module_voltage [V]"); ax.set_title("phase1_module3, 2024-07-05 10:00-10:15")
ax.legend(); ax.grid(alpha=0.3)""",
    ),
    (
        "md",
        """## 4. A module's day, and the system's

One panel per signal family, units from the catalog (carried in each file's metadata).""",
    ),
    (
        "code",
        """for h in ("phase1_module3", "system"):
    stored = read_stored_day(LocalTarget(OUTPUT), h, date(2024, 7, 5))
    draw_day(stored.table, stored.meta, f"{h} 2024-07-05 (5-second data)")""",
    ),
    (
        "md",
        """## 5. Several columns over time

State of charge of the eight modules of phase 1, and the spread of the 14 cell voltages of one module.""",
    ),
    (
        "code",
        """fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
for m in range(1, 9):
    t = read_stored_day(LocalTarget(OUTPUT), f"phase1_module{m}", date(2024, 7, 5)).table.to_pandas()
    a1.plot(t["timestamp"], t["module_state_of_charge"], lw=0.8, label=f"module {m}")
a1.set_ylabel("state of charge [1]"); a1.legend(ncol=4, fontsize=7); a1.grid(alpha=0.3)
t = read_stored_day(LocalTarget(OUTPUT), "phase1_module3", date(2024, 7, 5)).table.to_pandas()
cells = t[[f"cell_voltage_battery1_cell{i}" for i in range(1, 15)]]
a2.fill_between(t["timestamp"], cells.min(axis=1), cells.max(axis=1), alpha=0.4, label="min-max of 14 cells")
a2.plot(t["timestamp"], cells.mean(axis=1), lw=0.8, label="mean")
a2.set_ylabel("cell voltage [V]"); a2.set_xlabel("time (UTC)"); a2.legend(fontsize=7); a2.grid(alpha=0.3)
fig.suptitle("phase 1, 2024-07-05")""",
    ),
    (
        "md",
        """## 6. Synthetic runs

The generator writes HDF5 runs with the statistics of the real exports; the same ETL reads them.""",
    ),
    (
        "code",
        """from sim_platform.core.synth.generate import generate
runs = Path(tempfile.mkdtemp(prefix="runs_"))
generate(runs, runs=1, days=1, seed=1, fmt="hdf5")
gen_out = runs / "output"
print(run_etl(runs, gen_out, workers=2).totals())
stored = read_stored_day(LocalTarget(gen_out), "phase2_module5", date(2024, 7, 1))
draw_day(stored.table, stored.meta, "phase2_module5 2024-07-01 (generated run)");""",
    ),
    (
        "md",
        """## 7. Gold: module-day features and the quarterly training set

Per module and day, one row of features from the 5-second data (formulas and units in
`docs/gold_features.md`); a quarter's rows form the training set, loaded into the embedded DuckDB
warehouse in one transaction (PostgreSQL when `SIM_PLATFORM_WAREHOUSE_URL` is set). The Dagster assets
`gold/module_day_features` and `gold/ml_training_set` make exactly these calls.""",
    ),
    (
        "code",
        """from IPython.display import Image, display

from sim_platform.core.gold.features import quarter_of
from sim_platform.core.gold.files import build_module_days, quarter_features
from sim_platform.core.store.layout import LocalTarget
from sim_platform.core.gold.plots import draw_training_set
from sim_platform.core.gold.warehouse import open_warehouse

gold = LocalTarget(OUTPUT / "gold")
modules = [f"phase{p}_module{m}" for p in catalog.phases for m in catalog.modules]
days = [date(2024, 7, 5), date(2024, 8, 6)]
build_module_days(LocalTarget(OUTPUT), gold, [(d, pm) for d in days for pm in modules])
quarter = quarter_of(days[0])
training = quarter_features(gold, quarter, modules)
with open_warehouse(None, OUTPUT / "warehouse.duckdb") as wh:
    print(quarter, wh.load_quarter(training, quarter))
    print("rows in the warehouse:", wh.row_count())
cols = ["date", "phase_module", "voltage_v_mean", "current_a_max", "soc_swing", "discharge_energy_kwh",
        "charge_energy_kwh", "cell_spread_max_v", "weakest_cell", "real_bin_share", "run_hours", "idle_hours"]
display(training.select(cols).to_pandas().head(8).round(3))
display(Image(draw_training_set(training, f"{quarter}: daily energy throughput per module")))""",
    ),
]


def build() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in CELLS]
    return nb


if __name__ == "__main__":
    path = Path(__file__).with_name("walkthrough.ipynb")
    nbf.write(build(), path)
    print(f"wrote {path}")
