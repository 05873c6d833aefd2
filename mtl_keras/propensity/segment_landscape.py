"""Bid landscapes per segment: each model's mean P(win | x, b) against the segment's empirical Kaplan–Meier curve."""
from __future__ import annotations

import pathlib
from typing import Dict, Optional

import numpy as np
import pandas as pd

from mtl_keras.propensity import km_select
from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.data import survival_arrays
from mtl_keras.propensity.km_grid import event_grid, global_hazard, risk_table, survival_before


def empirical_win_curve(frame: pd.DataFrame, bids: np.ndarray) -> np.ndarray:
    """1 - S_KM(b-) of `frame`'s own censored prices at `bids` (the observed bid landscape)."""
    durations, events = survival_arrays(frame)
    grid = event_grid(durations, events)
    d, n = risk_table(grid, durations, events, np.zeros(len(frame), np.int64), 1)
    return 1.0 - survival_before(grid, np.cumprod(1.0 - global_hazard(d, n)), bids[None, :])[0]


def plot_segment_landscapes(models: Dict[str, WinPropensityModel], frame: pd.DataFrame, segment: str, path=None,
                            num_segments: int = 4, max_rows: int = 2_000, num_bids: int = 60, seed: int = 0,
                            min_won: int = 20):
    """One panel per model: for the `num_segments` largest levels of `segment` (quantile buckets for a
    float column) with >= `min_won` won requests, the model's mean P(win | x, b) over the segment's
    requests (at most `max_rows`, drawn with `seed`; solid) against the segment's Kaplan–Meier win
    curve (dashed), on a log grid of bids. Saved as PNG (Agg canvas, no pyplot) when `path` is given;
    returns the matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not models:
        raise ValueError("plot_segment_landscapes needs at least one fitted model.")
    if segment not in frame.columns:
        raise ValueError(f"segment {segment!r} is not a column of the data; pass one of {sorted(frame.columns)}.")
    values = frame[segment].to_numpy()
    levels, edges = km_select.segment_levels(values, segment, 4)
    codes = km_select.segment_codes(values, levels, edges)
    won = frame["won"].to_numpy()
    sizes = np.bincount(codes, minlength=len(levels))
    chosen = [j for j in np.argsort(-sizes, kind="stable") if won[codes == j].sum() >= min_won][:num_segments]
    if not chosen:
        raise ValueError(f"No level of {segment!r} has {min_won} won requests to draw; use a coarser segment.")
    durations, _ = survival_arrays(frame)
    bids = np.geomspace(max(np.quantile(durations, 0.01), 1e-6), np.quantile(durations, 0.99), num_bids)
    rng = np.random.default_rng(seed)
    columns = min(len(models), 3)
    rows_of_panels = -(-len(models) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.4 * rows_of_panels))
    FigureCanvasAgg(fig)
    colors = [f"C{i}" for i in range(len(chosen))]
    for panel, (name, model) in enumerate(models.items()):
        ax = fig.add_subplot(rows_of_panels, columns, panel + 1)
        for color, j in zip(colors, chosen):
            rows = np.flatnonzero(codes == j)
            part = frame.iloc[rows]
            label = _label(segment, levels[j], edges)
            ax.plot(bids, empirical_win_curve(part, bids), "--", color=color, lw=1, label=f"{label} KM")
            if len(rows) > max_rows:
                part = frame.iloc[np.sort(rng.choice(rows, max_rows, replace=False))]
            curve = model.predict_p_win(part, np.tile(bids, (len(part), 1))).mean(axis=0)
            ax.plot(bids, curve, "-", color=color, lw=1.5, label=f"{label} model")
        ax.set(xscale="log", xlabel="bid", ylabel="P(win)", title=name, ylim=(0, 1))
        if panel == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig


def _label(segment: str, level, edges: Optional[np.ndarray]) -> str:
    if edges is None:
        return f"{segment}={level}"
    lo = "-inf" if level == 0 else f"{edges[level - 1]:.3g}"
    hi = "inf" if level == len(edges) else f"{edges[level]:.3g}"
    return f"{segment} in [{lo}, {hi})"
