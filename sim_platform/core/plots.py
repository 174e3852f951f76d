"""Plots of 5-second data: one panel per signal family, time on x, units on y.

Column facts (payload type, unit) come from the metadata each hour file carries, so a plot needs
only the files. Used by `sim-platform plot`, the Dagster `module_day_plot` asset and the notebook.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from pathlib import Path

import pyarrow as pa


def _families(table: pa.Table, meta: dict) -> OrderedDict[str, list[str]]:
    fams: OrderedDict[str, list[str]] = OrderedDict()
    for name in table.column_names[1:]:
        payload = meta.get("columns", {}).get(name, {}).get("payload_type", name)
        fams.setdefault(payload, []).append(name)
    return fams


def draw_day(table: pa.Table, meta: dict, title: str, to: str | Path | None = None):
    """Draw a day table (timestamp + columns); saves a PNG when `to` is given; returns the figure."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    frame = table.to_pandas()
    fams = _families(table, meta)
    fams = OrderedDict((k, v) for k, v in fams.items() if frame[v].notna().any().any()) or fams
    fig, axes = plt.subplots(len(fams), 1, figsize=(12, 2.2 * len(fams) + 0.8), sharex=True, squeeze=False)
    for ax, (payload, cols) in zip(axes[:, 0], fams.items()):
        info = meta.get("columns", {}).get(cols[0], {})
        unit = info.get("unit", "")
        if info.get("kind") == "text":
            series = frame[cols[0]]
            labels = sorted(series.dropna().unique())
            codes = series.map({v: i for i, v in enumerate(labels)})
            ax.step(frame["timestamp"], codes, where="post", lw=1)
            ax.set_yticks(range(len(labels)), labels)
            ax.set_ylabel("state")
        else:
            for c in cols:
                ax.plot(frame["timestamp"], frame[c], lw=0.8, label=c.removeprefix(payload).lstrip("_") or c)
            ax.set_ylabel(f"{payload}\n[{unit}]" if unit else payload, fontsize=8)
            if len(cols) > 1:  # beside the panel, never over its lines; labels without the payload name
                ax.legend(
                    fontsize=6,
                    ncol=1 if len(cols) <= 8 else 2,
                    loc="upper left",
                    bbox_to_anchor=(1.005, 1.0),
                    borderaxespad=0.0,
                    frameon=False,
                )
        ax.set_title(payload, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (UTC)")
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz="UTC"))
    fig.suptitle(title)
    fig.tight_layout()
    if to is not None:
        Path(to).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(to, dpi=80)
        plt.close(fig)
    return fig


def plot_day(output_root: str | Path, hierarchy: str, day: date, to: str | Path) -> Path:
    """Plot one hierarchy's day from the ETL output into a PNG."""
    from sim_platform.core.layout import day_prefix, read_file_meta, read_hierarchy_day

    table = read_hierarchy_day(output_root, hierarchy, day)
    if table is None:
        raise FileNotFoundError(f"no hour files under {Path(output_root) / day_prefix(hierarchy, day)}")
    first = sorted((Path(output_root) / day_prefix(hierarchy, day)).glob("*.parquet"))[0]
    draw_day(table, read_file_meta(first), f"{hierarchy} {day:%Y-%m-%d} (5-second data)", to)
    return Path(to)


def draw_training_set(table: pa.Table, title: str) -> bytes:
    """A heatmap of a training set (module x day): discharge and charge energy throughput in kWh.
    Gaps (modules without data that day) stay white; returns PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    frame = table.select(["date", "phase_module", "discharge_energy_kwh", "charge_energy_kwh"]).to_pandas()
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.22 * frame["phase_module"].nunique() + 2.2), sharey=True)
    for ax, column in zip(axes, ["discharge_energy_kwh", "charge_energy_kwh"]):
        grid = frame.pivot(index="phase_module", columns="date", values=column)
        image = ax.imshow(
            np.ma.masked_invalid(grid.to_numpy(dtype=float)), aspect="auto", cmap="viridis", interpolation="nearest"
        )
        ax.set_yticks(range(len(grid.index)), grid.index, fontsize=6)
        step = max(1, len(grid.columns) // 8)
        ax.set_xticks(range(0, len(grid.columns), step), [str(d) for d in grid.columns[::step]], fontsize=6, rotation=45)
        ax.set_title(column.replace("_", " "), fontsize=9)
        fig.colorbar(image, ax=ax, label="kWh")
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=70)
    plt.close(fig)
    return buf.getvalue()
