"""The bid-landscape plot: win rate vs bid, each model against Kaplan–Meier and the observed rate."""
from __future__ import annotations

import pathlib
from typing import Dict

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.propensity.base import WinPropensityModel


def plot_bid_landscape(models: Dict[str, WinPropensityModel], frame: pd.DataFrame, path=None, num_buckets: int = 15,
                       max_rows: int = 5_000, seed: int = 0):
    """Two panels, saved as PNG when `path` is given; returns the matplotlib Figure.

    Left: observed win rate per bid bucket (points) and each model's mean P(win | x, own bid)
    over the same requests (lines), i.e. calibration along the bid. Right: the bid landscape,
    the mean over requests of P(win | x, b) on a grid of bids b, as serving would query it.
    `max_rows` requests (sampled with `seed`) are used for the landscape panel.
    """
    import matplotlib.pyplot as plt  # headless runs fall back to Agg; notebooks keep their inline backend

    if not models:
        raise ValueError("plot_bid_landscape needs at least one fitted model.")
    bids = frame[names.BID_PRICE].to_numpy(np.float64)
    won = frame[names.WON].to_numpy()
    edges = np.unique(np.quantile(bids, np.linspace(0, 1, num_buckets + 1)))
    bucket = np.clip(np.searchsorted(edges, bids, side="right") - 1, 0, max(len(edges) - 2, 0))
    present = np.unique(bucket)
    centers = np.array([bids[bucket == j].mean() for j in present])

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(centers, [won[bucket == j].mean() for j in present], "ko", label="observed")
    if names.TRUE_P_WIN in frame.columns:
        truth = frame[names.TRUE_P_WIN].to_numpy()
        left.plot(centers, [truth[bucket == j].mean() for j in present], "k--", lw=1, label="true p_win")
    for name, model in models.items():
        p = model.predict_p_win(frame)
        left.plot(centers, [p[bucket == j].mean() for j in present], "-", label=name)
    left.set(xlabel="bid (bucket mean)", ylabel="win rate", title="win rate by bid bucket")
    left.legend(fontsize=8)

    rows = frame
    if len(frame) > max_rows:
        rows = frame.iloc[np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))]
    grid = np.geomspace(max(np.quantile(bids, 0.01), 1e-6), np.quantile(bids, 0.99) * 2.0, 60)
    for name, model in models.items():
        curve = model.predict_p_win(rows, np.tile(grid, (len(rows), 1))).mean(axis=0)
        right.plot(grid, curve, "-", label=name)
    right.set(xscale="log", xlabel="bid", ylabel="mean P(win | x, bid)", title="bid landscape", ylim=(0, 1))
    right.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
