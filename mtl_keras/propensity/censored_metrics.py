"""Metrics over a price grid on censored auctions: the IPCW Brier score and the restricted-mean c-index.

At price t the outcome "a bid of t would have won" is Y(t) = 1{z < t}. It is known for a won request
with z < t (Y = 1) and for any request with duration >= t (Y = 0: z >= t); a request lost at a bid
b < t is unknown. Known outcomes are weighted by the inverse probability of being known (Graf et
al. 1999): 1 / G(z) for Y = 1 and 1 / G(t-) for Y = 0, with G(u) = P(bid > u) the Kaplan–Meier
curve of the bids (lost requests are its events). This assumes bids independent of prices given
nothing (the usual marginal-censoring approximation).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.data import survival_arrays
from mtl_keras.propensity.km_grid import event_grid, global_hazard, risk_table

_CHUNK = 20_000  # rows scored at once on the price grid


def default_price_grid(frame: pd.DataFrame, num_points: int = 50) -> np.ndarray:
    """num_points prices from the 5% quantile of the durations to the 95% quantile of the bids."""
    durations, _ = survival_arrays(frame, require_events=False)
    bids = frame[names.BID_PRICE].to_numpy(np.float64)
    lo, hi = np.quantile(durations, 0.05), np.quantile(bids, 0.95)
    return np.linspace(lo, max(hi, lo * (1 + 1e-6)), num_points)


def _bid_survival(durations: np.ndarray, events: np.ndarray):
    """(grid, G just after each grid bid): KM of the bids, lost requests being the events."""
    lost = 1 - events
    grid = event_grid(durations, lost)
    groups = np.zeros(len(durations), np.int64)
    d, n = risk_table(grid, durations, lost, groups, 1)
    return grid, np.cumprod(1.0 - global_hazard(d, n))


def _g_after(grid, survival, prices):   # P(bid > u)
    index = np.searchsorted(grid, prices, side="right") - 1
    return np.where(index >= 0, survival[np.clip(index, 0, None)], 1.0)


def _g_before(grid, survival, prices):  # P(bid >= u)
    index = np.searchsorted(grid, prices, side="left") - 1
    return np.where(index >= 0, survival[np.clip(index, 0, None)], 1.0)


def brier_curve(model: WinPropensityModel, frame: pd.DataFrame, price_grid: Optional[np.ndarray] = None):
    """(price_grid, IPCW Brier score of P(win | x, t) against Y(t) at each grid price t)."""
    durations, events = survival_arrays(frame)
    if (events == 1).all():
        raise ValueError("The integrated Brier score needs some lost requests (censoring) in the evaluation data, "
                         "or use brier(): with nothing censored the plain Brier score at any price applies.")
    grid_g, g = _bid_survival(durations, events)
    grid = default_price_grid(frame) if price_grid is None else np.asarray(price_grid, np.float64)
    increasing = grid.ndim == 1 and len(grid) >= 2 and (np.diff(grid) > 0).all()
    if not increasing or not np.isfinite(grid).all() or (grid <= 0).any():
        raise ValueError("price_grid must hold >= 2 finite, strictly increasing prices > 0; "
                         f"got {grid.tolist()[:8]}. Fix: pass such prices or price_grid=None.")
    known_zero_weight = _g_before(grid_g, g, grid)
    if grid[-1] > durations.max() or (known_zero_weight <= 0).any():
        raise ValueError(f"price_grid reaches {grid[-1]:g}, past the largest observed price or bid "
                         f"({durations.max():g}) or where P(bid >= t) = 0, so a lost outcome is never observed there. "
                         "Fix: keep price_grid within the bids' range or use price_grid=None.")
    g_event = np.maximum(_g_after(grid_g, g, durations), 1e-12)
    total = np.zeros(len(grid))
    for start in range(0, len(frame), _CHUNK):  # row chunks bound the [rows, grid] temporaries
        rows = slice(start, start + _CHUNK)
        p = model.predict_p_win(frame.iloc[rows], np.tile(grid, (len(frame.iloc[rows]), 1)))
        won_before = (events[rows, None] == 1) & (durations[rows, None] < grid[None, :])
        known_zero = durations[rows, None] >= grid[None, :]
        total += (won_before * (1.0 - p) ** 2 / g_event[rows, None] + known_zero * p ** 2 / known_zero_weight).sum(0)
    return grid, total / len(frame)


def integrated_brier(model: WinPropensityModel, frame: pd.DataFrame, price_grid: Optional[np.ndarray] = None) -> float:
    """The IPCW Brier score averaged over the price grid (trapezoid rule / range)."""
    grid, curve = brier_curve(model, frame, price_grid)
    return float(np.trapz(curve, grid) / (grid[-1] - grid[0]))


def restricted_mean_price(model: WinPropensityModel, frame: pd.DataFrame, horizon: float,
                          num_points: int = 256) -> np.ndarray:
    """Per request, the mean of min(price, horizon) = integral of S(b | x) over (0, horizon]."""
    if not np.isfinite(horizon) or horizon <= 0:
        raise ValueError(f"horizon must be a finite price > 0, got {horizon!r}.")
    grid = np.linspace(horizon / num_points, horizon, num_points)
    out = np.zeros(len(frame))
    for start in range(0, len(frame), _CHUNK):
        part = frame.iloc[start:start + _CHUNK]
        survival = 1.0 - model.predict_p_win(part, np.tile(grid, (len(part), 1)))
        out[start:start + _CHUNK] = np.trapz(np.concatenate([np.ones((len(part), 1)), survival], axis=1),
                                             np.concatenate([[0.0], grid]), axis=1)
    return out


def restricted_concordance(model: WinPropensityModel, frame: pd.DataFrame) -> float:
    """Harrell's c-index of the restricted mean price up to the largest observed duration. Unlike the
    median it needs no tail beyond the prices ever observed (heavily censored data: the median of
    many requests lies past every bid, where nonparametric models have no answer)."""
    from lifelines.utils import concordance_index

    durations, events = survival_arrays(frame)
    return float(concordance_index(durations, restricted_mean_price(model, frame, float(durations.max())), events))
