"""Piecewise-linear and step lookups over stored knots, written once in numpy and once in TF ops.

The two forms use the same arithmetic in float64 so that serving (TF) and offline (numpy) values
agree to rounding. The TF forms take knots of shape [K] (one calibrator for every row) or [n, K]
(one knot row per input row, gathered from a stack of slice calibrators).
"""
from __future__ import annotations

import numpy as np


def linear_np(x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Linear between knots (x ascending, len >= 2), constant beyond the end knots.

    Equal neighbouring x (padding) give the left knot's y instead of a division by zero.
    """
    i = np.clip(np.searchsorted(x, p, side="right"), 1, x.size - 1)
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    dx = x1 - x0
    t = np.divide(p - x0, dx, out=np.zeros_like(p), where=dx > 0)
    return y0 + np.clip(t, 0.0, 1.0) * (y1 - y0)


def step_np(edges: np.ndarray, values: np.ndarray, p: np.ndarray) -> np.ndarray:
    """values[j] for edges[j-1] <= p < edges[j] (len(values) == len(edges) + 1)."""
    return values[np.searchsorted(edges, p, side="right")]


def _searchsorted(tf, sorted_values, p, side: str):
    if sorted_values.shape.rank == 1:
        return tf.searchsorted(sorted_values, p, side=side)
    return tf.searchsorted(sorted_values, tf.expand_dims(p, 1), side=side)[:, 0]


def _gather(tf, values, index):
    if values.shape.rank == 1:
        return tf.gather(values, index)
    return tf.gather(values, tf.expand_dims(index, 1), batch_dims=1)[:, 0]


def linear_tf(x, y, p):
    """`linear_np` in TF ops; x, y of shape [K] or [n, K], p of shape [n], all float64."""
    import tensorflow as tf

    last = tf.shape(x, out_type=tf.int32)[-1] - 1
    i = tf.clip_by_value(_searchsorted(tf, x, p, "right"), 1, last)
    x0, x1 = _gather(tf, x, i - 1), _gather(tf, x, i)
    y0, y1 = _gather(tf, y, i - 1), _gather(tf, y, i)
    t = tf.math.divide_no_nan(p - x0, x1 - x0)
    return y0 + tf.clip_by_value(t, 0.0, 1.0) * (y1 - y0)


def step_tf(edges, values, p):
    """`step_np` in TF ops; edges [B-1] or [n, B-1] (may be padded with +inf), values [B] or [n, B]."""
    import tensorflow as tf

    return _gather(tf, values, _searchsorted(tf, edges, p, "right"))


def pad_rows(rows, width: int, fill=None) -> np.ndarray:
    """Stacks 1-D arrays into [len(rows), width], padding each with `fill` (default: its last value)."""
    out = np.empty((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        row = np.asarray(row, dtype=np.float64)
        out[r, :row.size] = row
        out[r, row.size:] = row[-1] if fill is None else fill
    return out
