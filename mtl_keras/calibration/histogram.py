"""Histogram binning: equal-mass bins of the probability, each served its weighted positive rate."""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from mtl_keras.calibration import interpolation, names, validation
from mtl_keras.calibration.base import Calibrator
from mtl_keras.calibration.pav import expand_blocks, pool_adjacent_violators
from mtl_keras.calibration.validation import require_key


def _merge_small(counts: np.ndarray, min_count: int) -> List[int]:
    """Group labels for consecutive bins so that every group holds >= min_count rows (when the data do).

    Bins are taken left to right until the group is large enough; a short tail joins the last group.
    """
    groups, group, filled = [], 0, 0
    for count in counts:
        groups.append(group)
        filled += count
        if filled >= min_count:
            group, filled = group + 1, 0
    if filled and group > 0:  # a tail below min_count joins the group before it
        groups = [min(g, group - 1) for g in groups]
    return groups


class HistogramCalibrator(Calibrator):
    """A step function: the probability's bin, then that bin's weighted positive rate Σw·y / Σw.

    Bins hold (nearly) equal total weight: rows are sorted by probability and cut into `num_bins`
    groups of the cumulative weight; equal probabilities always share a bin. Consecutive bins are
    merged until each holds at least `min_count` rows, so no bin serves a rate from a handful of
    rows. `monotone=True` (default) pools bins by PAV so the map is non-decreasing; with False the
    raw rates are served and the map need not be monotone. A new probability falls in the bin whose
    range (cut halfway between neighbouring bins' extreme training values) contains it.
    """

    kind = names.HISTOGRAM
    _CONFIG_KEYS = ("num_bins", "min_count", "monotone")

    def __init__(self, num_bins: int = 20, min_count: int = 50, monotone: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.num_bins = validation.check_count_argument("HistogramCalibrator", "num_bins", num_bins, minimum=1)
        self.min_count = validation.check_count_argument("HistogramCalibrator", "min_count", min_count, minimum=1)
        if not isinstance(monotone, bool):
            raise ValueError(f"HistogramCalibrator: monotone must be True or False, got {monotone!r}.")
        self.monotone = monotone
        self.edges = self.values = self.counts = None

    def _fit(self, p, y, w) -> None:
        unique_p, inverse = np.unique(p, return_inverse=True)
        mass = np.bincount(inverse, weights=w)
        positive = np.bincount(inverse, weights=w * y)
        rows = np.bincount(inverse)
        # The bin of each distinct value by its cumulative weight at the value's middle (as the ECE
        # of mtl_keras.metrics), so that ties never straddle two bins.
        cumulative = np.cumsum(mass)
        bins = np.minimum((cumulative - 0.5 * mass) * self.num_bins // cumulative[-1], self.num_bins - 1)
        _, bins = np.unique(bins, return_inverse=True)  # drop empty bins
        groups = np.asarray(_merge_small(np.bincount(bins, weights=rows), self.min_count))
        bins = groups[bins]
        bin_mass = np.bincount(bins, weights=mass)
        values = np.bincount(bins, weights=positive) / bin_mass
        if self.monotone:
            block_values, _, starts = pool_adjacent_violators(values, bin_mass)
            values = expand_blocks(block_values, starts, values.size)
        low = np.array([unique_p[bins == b].min() for b in range(values.size)])
        high = np.array([unique_p[bins == b].max() for b in range(values.size)])
        self.edges = 0.5 * (high[:-1] + low[1:])
        self.values = values
        self.counts = np.bincount(bins, weights=rows).astype(np.int64)

    def _state(self) -> dict:
        return {"edges": self.edges.tolist(), "values": self.values.tolist(), "counts": self.counts.tolist()}

    def _set_state(self, data: dict) -> None:
        owner = "HistogramCalibrator.from_dict"
        edges = np.asarray(require_key(owner, data, "edges", self.kind), dtype=np.float64).reshape(-1)
        values = np.asarray(require_key(owner, data, "values", self.kind), dtype=np.float64).reshape(-1)
        counts = np.asarray(require_key(owner, data, "counts", self.kind), dtype=np.int64).reshape(-1)
        if values.size != edges.size + 1 or counts.size != values.size or np.any(np.diff(edges) < 0):
            raise ValueError(f"{owner}: expected ascending 'edges' and one more 'values' and 'counts' than edges, "
                             f"got {edges.size}, {values.size}, {counts.size}. Fix: load a dict written by to_dict().")
        self.edges, self.values, self.counts = edges, values, counts

    def _params(self) -> Dict[str, np.ndarray]:
        # A +inf sentinel keeps the edge list non-empty for a single bin; no input reaches past it.
        return {"edges": np.append(self.edges, np.inf), "values": self.values}

    @classmethod
    def _stack_params(cls, params: list) -> Dict[str, np.ndarray]:
        width = max(p["values"].size for p in params)
        return {"edges": interpolation.pad_rows([p["edges"] for p in params], width, fill=np.inf),
                "values": interpolation.pad_rows([p["values"] for p in params], width)}

    @classmethod
    def _tf_rows(cls, p, params):
        return interpolation.step_tf(params["edges"], params["values"], p)

    def _transform_np(self, p: np.ndarray) -> np.ndarray:
        return interpolation.step_np(self.edges, self.values, p)
