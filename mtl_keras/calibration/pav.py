"""Weighted pool-adjacent-violators: the isotonic (non-decreasing) least-squares fit of a sequence."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def pool_adjacent_violators(values, weights) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-decreasing sequence closest to `values` in weighted squared error, as blocks.

    Returns (block_values, block_weights, block_starts): block b covers positions
    block_starts[b] .. block_starts[b+1]-1 and holds the weighted mean of `values` there. Adjacent
    blocks are pooled while the left one is >= the right one, so block values strictly increase.
    Weights must be positive.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    # A stack of blocks; each new value pools backwards while it violates the order. Each position
    # is pushed and popped at most once, so the loop is O(n).
    means, masses, starts = [], [], []
    for i in range(values.size):
        mean, mass, start = values[i], weights[i], i
        while means and means[-1] >= mean:
            prev_mean, prev_mass = means.pop(), masses.pop()
            start = starts.pop()
            mean = (prev_mean * prev_mass + mean * mass) / (prev_mass + mass)
            mass = prev_mass + mass
        means.append(mean)
        masses.append(mass)
        starts.append(start)
    return np.asarray(means), np.asarray(masses), np.asarray(starts, dtype=np.int64)


def expand_blocks(block_values: np.ndarray, block_starts: np.ndarray, size: int) -> np.ndarray:
    """The fitted value at every position from the block form."""
    lengths = np.diff(np.append(block_starts, size))
    return np.repeat(block_values, lengths)
