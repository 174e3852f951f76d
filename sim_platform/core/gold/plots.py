"""Plots of 5-second data: one panel per signal family, time on x, units on y.

Column facts (payload type, unit) come from the metadata each hour file carries, so a plot needs
only the files. One drawing (`draw_day`) and one way to plot a stored (hierarchy, day) (`plot_stored_day`),
for `sim-platform plot`, the demo, the Dagster `module_day_plot` asset and the notebook.
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

    if pa.types.is_timestamp(table.schema.field(0).type) and table.schema.field(0).type.tz:
        # Same instants without the time zone: matplotlib converts tz-aware pandas timestamps one by
        # one (seconds per plot); naive UTC values draw 3x faster and the axis is labelled UTC anyway.
        table = table.set_column(0, table.column_names[0], table.column(0).cast(pa.timestamp(table.schema.field(0).type.unit)))
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


def png_bytes(fig) -> bytes:
    """A figure as PNG bytes (the figure is closed)."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def plot_stored_day(target, hierarchy: str, day: date) -> bytes:
    """PNG bytes of one stored (hierarchy, day), read from a folder or a container target."""
    from sim_platform.core.store.layout import day_prefix
    from sim_platform.core.store.read import read_stored_day

    stored = read_stored_day(target, hierarchy, day)
    if stored is None:
        raise FileNotFoundError(f"no hour files under {day_prefix(hierarchy, day)}")
    return png_bytes(draw_day(stored.table, stored.meta, f"{hierarchy} {day:%Y-%m-%d} (5-second data)"))


def plot_day(output_root: str | Path, hierarchy: str, day: date, to: str | Path) -> Path:
    """Plot one hierarchy's day of a silver folder into a PNG file."""
    from sim_platform.core.store.layout import LocalTarget, day_prefix
    from sim_platform.core.store.publish import write_bytes_atomic

    try:
        png = plot_stored_day(LocalTarget(output_root), hierarchy, day)
    except FileNotFoundError:
        raise FileNotFoundError(f"no hour files under {Path(output_root) / day_prefix(hierarchy, day)}") from None
    write_bytes_atomic(Path(to), png)
    return Path(to)


PLOT_NAME = "plot.png"


def plot_partition(spec, hierarchy: str, day: str, stored) -> tuple[str, bytes]:
    """Draw one stored (hierarchy, day) (`store.read.StoredDay`) and store the PNG beside its
    hour files; returns (relative path, PNG bytes)."""
    from sim_platform.core.store.layout import day_prefix

    title = f"{hierarchy} {day} (5-second data)"
    png = png_bytes(draw_day(stored.table, stored.meta, title))
    rel = f"{day_prefix(hierarchy, date.fromisoformat(day))}/{PLOT_NAME}"
    spec.open().put(rel, png)
    return rel, png


def _plot_one(parts, key: str, spec, day: str, pm: str) -> tuple[str, str | None, bytes | None]:
    stored = parts[key]
    if stored is None:
        return key, None, None
    rel, png = plot_partition(spec, pm, day, stored)
    return key, rel, png


def plot_partitions(parts, spec, keys: list[tuple[str, str, str]], workers: int) -> list[tuple[str, str | None, bytes | None]]:
    """Plot many partitions (`(key, day, hierarchy)`), in worker processes when there are several.

    `parts` is a read-on-access mapping of `StoredDay`s (the IO manager's); each worker reads the
    partitions it draws."""
    from sim_platform.core.exec.pool import map_in_pool

    return map_in_pool(_plot_one, [(parts, k, spec, d, pm) for k, d, pm in keys], workers)


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
