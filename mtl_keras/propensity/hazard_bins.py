"""The price axis of the discrete-time (hazard) win model: bins, their targets and S(b) per request.

Edges e_0 = 0 < e_1 < ... < e_J cut prices into bins j = [e_j, e_{j+1}); h_j(x) = P(z in bin j | z >= e_j, x)
is the hazard, so S(e_k) = P(z >= e_k) = prod_{l<k} (1 - h_l). Within a bin the price is uniform
(the CDF is linear between edges): for e_k <= b < e_{k+1} with f = (b - e_k) / (e_{k+1} - e_k),
S(b) = S(e_k) (1 - f h_k), and P(win | x, b) = P(z < b) = 1 - S(b). Past e_J the curve is flat:
the mass beyond the largest price seen in training is not placed (P(win) stays 1 - S(e_J)).
With integer prices (iPinYou) the edges are integers: the uniform price within a bin is then the
discrete uniform over its integers, so for an integer bid b, S(b) is exactly P(z >= b) under it
(f = (b - e_k) / width counts the bin's integers below b), and a bid on an edge (all low prices,
where bins are one unit wide) needs no interpolation at all.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def price_bin_edges(durations: np.ndarray, num_bins: int) -> np.ndarray:
    """[0, then num_bins - 1 log-spaced edges from the smallest to the largest price, then a top edge
    above the largest]; integer-valued prices get integer edges (duplicates dropped)."""
    lo, hi = float(durations.min()), float(durations.max())
    inner = np.geomspace(lo, max(hi, lo * (1 + 1e-9)), max(num_bins - 1, 1))
    if np.all(durations == np.round(durations)):
        inner, top = np.round(inner), hi + 1.0
    else:
        top = hi * (1.0 + 1e-6)
    return np.unique(np.concatenate([[0.0], inner, [top]]))


def check_bin_edges(edges, won_prices: np.ndarray) -> np.ndarray:
    """Edges as float64, rejecting a grid that is not increasing or does not hold every won price."""
    edges = np.asarray(edges, np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.isfinite(edges).all() or edges[0] < 0 or (np.diff(edges) <= 0).any():
        raise ValueError("bin_edges must be >= 2 finite, strictly increasing prices starting at >= 0; "
                         f"got {edges.tolist()[:8]}... Fix: pass such a list or bin_edges=None (from the data).")
    if len(won_prices) and (won_prices.min() < edges[0] or won_prices.max() >= edges[-1]):
        raise ValueError(f"bin_edges [{edges[0]:g}, {edges[-1]:g}) do not cover the won market prices "
                         f"[{won_prices.min():g}, {won_prices.max():g}]. Fix: extend bin_edges past the largest "
                         "price (and down to 0) or use bin_edges=None.")
    return edges


def bin_position(edges: np.ndarray, prices: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(k, f): the bin e_k <= price < e_{k+1} (k = J past the last edge, k = 0 below e_0) and the
    fraction f of that bin below the price (0 for k = J)."""
    num_bins = len(edges) - 1
    k = np.clip(np.searchsorted(edges, prices, side="right") - 1, 0, num_bins)
    lower, upper = edges[k], edges[np.minimum(k + 1, num_bins)]
    width = np.where(k < num_bins, upper - lower, 1.0)
    f = np.where(k < num_bins, np.clip((prices - lower) / width, 0.0, 1.0), 0.0)
    return k, f


def targets(edges: np.ndarray, durations: np.ndarray, events: np.ndarray) -> np.ndarray:
    """[rows, 3] float32 (bin, fraction, won) for `censored_nll`: a won price's bin (fraction unused),
    a lost bid's bin and fraction (the request's price is >= the bid)."""
    k, f = bin_position(edges, durations)
    return np.stack([k, np.where(events == 1, 0.0, f), events], axis=1).astype(np.float32)


def survival_at(hazards: np.ndarray, edges: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """S(b | x) for [rows, k] prices from [rows, J] hazards (float64)."""
    k, f = bin_position(edges, prices)
    ones = np.ones((len(hazards), 1))
    at_edges = np.concatenate([ones, np.cumprod(1.0 - hazards, axis=1)], axis=1)
    padded = np.concatenate([hazards, 0.0 * ones], axis=1)
    return np.take_along_axis(at_edges, k, axis=1) * (1.0 - f * np.take_along_axis(padded, k, axis=1))


def tf_survival_at(hazards, edges, prices):
    """survival_at in TensorFlow: hazards [batch, J] float64, edges [J + 1] float64, prices [batch, k]."""
    import tensorflow as tf

    num_bins = tf.shape(edges)[0] - 1
    # k = number of edges e_1..e_J at or below the price (prices are > 0 >= e_0).
    k = tf.reduce_sum(tf.cast(prices[:, :, None] >= edges[None, None, 1:], tf.int32), axis=2)
    inside = k < num_bins
    lower = tf.gather(edges, k)
    width = tf.where(inside, tf.gather(edges, tf.minimum(k + 1, num_bins)) - lower, tf.ones_like(lower))
    f = tf.where(inside, tf.clip_by_value((prices - lower) / width, 0.0, 1.0), tf.zeros_like(lower))
    ones = tf.ones_like(hazards[:, :1])
    at_edges = tf.concat([ones, tf.math.cumprod(1.0 - hazards, axis=1)], axis=1)
    padded = tf.concat([hazards, 0.0 * ones], axis=1)
    return tf.gather(at_edges, k, batch_dims=1) * (1.0 - f * tf.gather(padded, k, batch_dims=1))


def median_price(hazards: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The price b with S(b | x) = 1/2 per row (e_J when more than half the mass lies past e_J)."""
    at_edges = np.concatenate([np.ones((len(hazards), 1)), np.cumprod(1.0 - hazards, axis=1)], axis=1)
    below = (at_edges[:, 1:] < 0.5).argmax(axis=1)  # first bin whose end has S < 1/2
    never = ~(at_edges[:, -1] < 0.5)
    rows = np.arange(len(hazards))
    start, h = at_edges[rows, below], hazards[rows, below]
    fraction = np.clip((1.0 - 0.5 / np.maximum(start, 1e-300)) / np.maximum(h, 1e-300), 0.0, 1.0)
    median = edges[below] + fraction * (edges[below + 1] - edges[below])
    return np.where(never, edges[-1], median)


def initial_hazards(edges: np.ndarray, durations: np.ndarray, events: np.ndarray,
                    floor: Optional[float] = 1e-4) -> np.ndarray:
    """Pooled hazard per bin (won in the bin / at risk at its start), clipped into [floor, 1 - floor]:
    the starting bias of the network's output layer."""
    num_bins = len(edges) - 1
    k, _ = bin_position(edges, durations)
    won = np.bincount(k[events == 1], minlength=num_bins + 1)[:num_bins]
    at_risk = np.cumsum(np.bincount(k, minlength=num_bins + 1)[::-1])[::-1][:num_bins]
    return np.clip(won / np.maximum(at_risk, 1), floor, 1.0 - floor)
