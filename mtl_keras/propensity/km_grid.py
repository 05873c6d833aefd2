"""Kaplan–Meier curves on one shared price grid, with per-segment hazards shrunk toward the global ones.

The grid is the set of event (won) prices. At grid price t a group has d(t) events and n(t) requests
at risk (duration >= t: a request lost at bid t had a market price >= t, lifelines' convention).
Its discrete hazard is h(t) = (d + k·h_global) / (n + k): k = 0 is the group's own KM, a large k
the global KM. Since h_global > 0 at every grid price, k > 0 gives mass to every price the global
curve has seen, and beyond the group's largest price the hazard is the global one (no flat tail).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def event_grid(durations: np.ndarray, events: np.ndarray, max_points: Optional[int] = None) -> np.ndarray:
    """Sorted distinct won prices; beyond `max_points` of them, that many quantiles of the won prices
    (the smallest included). Every event is then counted at the last grid price at or below it,
    which shifts it down by less than one quantile cell (exact when the grid holds every price)."""
    grid = np.unique(durations[events.astype(bool)])
    if max_points is not None and len(grid) > max_points:
        grid = np.unique(np.quantile(durations[events.astype(bool)], np.linspace(0.0, 1.0, max_points)))
    return grid


def risk_table(grid: np.ndarray, durations: np.ndarray, events: np.ndarray, groups: np.ndarray,
               num_groups: int) -> Tuple[np.ndarray, np.ndarray]:
    """(d, n): [num_groups, len(grid)] events at and requests at risk at each grid price per group."""
    events = events.astype(bool)
    at = np.clip(np.searchsorted(grid, durations[events], side="right") - 1, 0, len(grid) - 1)
    d = _counts(groups[events], at, num_groups, len(grid))
    # u is at risk at grid[j] iff u >= grid[j] iff j < last(u) = #grid prices <= u, so n[j] is the
    # number of requests with last(u) > j: a reverse cumulative sum of the counts of last(u).
    last = _counts(groups, np.searchsorted(grid, durations, side="right"), num_groups, len(grid) + 1)
    n = np.cumsum(last[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return d, n


def _counts(groups: np.ndarray, columns: np.ndarray, num_groups: int, width: int) -> np.ndarray:
    flat = np.bincount(groups * width + columns, minlength=num_groups * width)
    return flat.reshape(num_groups, width).astype(np.float64)


def global_hazard(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The all-rows KM hazard from per-group tables."""
    total_n = n.sum(axis=0)
    return np.divide(d.sum(axis=0), total_n, out=np.zeros(d.shape[1]), where=total_n > 0)


def shrunk_survival(d: np.ndarray, n: np.ndarray, base_hazard: np.ndarray, strength: float) -> np.ndarray:
    """S just after each grid price per group: prod of (1 - h) with hazards shrunk toward `base_hazard`."""
    denominator = n + strength
    hazard = np.divide(d + strength * base_hazard, denominator, out=np.zeros_like(d), where=denominator > 0)
    return np.cumprod(1.0 - np.clip(hazard, 0.0, 1.0), axis=-1)


def survival_before(grid: np.ndarray, survival: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """S(b-) = P(price >= b): the value at the last grid price strictly below b (1 before the grid).
    `survival` is one curve [len(grid)] for a [rows, k] `prices` matrix."""
    index = np.searchsorted(grid, prices, side="left") - 1
    return np.where(index >= 0, survival[np.clip(index, 0, None)], 1.0)


def heldout_nll(grid: np.ndarray, survival: np.ndarray, durations: np.ndarray, events: np.ndarray,
                groups: np.ndarray) -> float:
    """Mean negative log-likelihood of held-out requests under per-group discrete curves
    ([num_groups, len(grid)]): a won price z scores the mass at the last grid price <= z (the first
    if below the grid), a lost bid b scores P(price >= b) = S(b-). Masses are floored at 1e-12."""
    events = events.astype(bool)
    padded = np.concatenate([np.ones((survival.shape[0], 1)), survival], axis=1)  # S before grid[0]
    at = np.clip(np.searchsorted(grid, durations, side="right") - 1, 0, len(grid) - 1)
    mass = padded[groups, at] - padded[groups, at + 1]
    before = padded[groups, np.searchsorted(grid, durations, side="left")]
    likelihood = np.where(events, mass, before)
    return float(-np.mean(np.log(np.clip(likelihood, 1e-12, None))))
