"""Isotonic calibration: the weighted PAV fit of the labels on the predictions, interpolated."""
from __future__ import annotations

from typing import Dict

import numpy as np

from mtl_keras.calibration import interpolation, names
from mtl_keras.calibration.base import Calibrator
from mtl_keras.calibration.pav import pool_adjacent_violators
from mtl_keras.calibration.validation import require_key

CENTRES = "centres"
ENDPOINTS = "endpoints"
INTERPOLATIONS = (CENTRES, ENDPOINTS)


class IsotonicCalibrator(Calibrator):
    """Weighted isotonic regression of the label on the probability.

    Rows with equal probability are pooled first (weighted mean label), then pool-adjacent-
    violators gives blocks of increasing calibrated value. Between blocks the map is linear:
    `interpolation="centres"` (default) puts each block's value at the block's weighted mean
    probability, the point its mean label belongs to, so the map rises between block centres
    instead of jumping at block ends (centred isotonic regression); `"endpoints"` puts it at the
    block's first and last probability, flat inside the block, as sklearn's IsotonicRegression.
    Beyond the outer knots the map is constant, so outputs stay within [min, max] of the fitted
    values, then clipped to [eps, 1 - eps]: a block of all-negative rows would otherwise serve 0.
    """

    kind = names.ISOTONIC
    _CONFIG_KEYS = ("interpolation",)

    def __init__(self, interpolation: str = CENTRES, **kwargs):
        super().__init__(**kwargs)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"IsotonicCalibrator: interpolation must be one of {list(INTERPOLATIONS)}, "
                             f"got {interpolation!r}.")
        self.interpolation = interpolation
        self.x = self.y = None  # knots: x strictly increasing (endpoints: non-decreasing), y non-decreasing

    def _fit(self, p, y, w) -> None:
        unique_p, inverse = np.unique(p, return_inverse=True)
        mass = np.bincount(inverse, weights=w)
        rate = np.bincount(inverse, weights=w * y) / mass
        values, _, starts = pool_adjacent_violators(rate, mass)
        ends = np.append(starts[1:], unique_p.size)  # exclusive
        if self.interpolation == CENTRES:
            block = np.repeat(np.arange(values.size), ends - starts)
            x = np.bincount(block, weights=mass * unique_p) / np.bincount(block, weights=mass)
            # A weighted mean can round outside its block's range; keep it inside so that x increases.
            x = np.clip(x, unique_p[starts], unique_p[ends - 1])
            knots_y = values
        else:
            x = np.stack([unique_p[starts], unique_p[ends - 1]], axis=1).reshape(-1)
            knots_y = np.repeat(values, 2)
            single = np.repeat(starts == ends - 1, 2)  # one-point blocks need one knot, not two equal ones
            single[0::2] = False
            x, knots_y = x[~single], knots_y[~single]
        if x.size == 1:  # one block: a constant; two equal knots keep the lookup's shape
            x, knots_y = np.repeat(x, 2), np.repeat(knots_y, 2)
        self.x, self.y = x.astype(np.float64), knots_y.astype(np.float64)

    def _state(self) -> dict:
        return {"x": self.x.tolist(), "y": self.y.tolist()}

    def _set_state(self, data: dict) -> None:
        x = np.asarray(require_key("IsotonicCalibrator.from_dict", data, "x", self.kind), dtype=np.float64)
        y = np.asarray(require_key("IsotonicCalibrator.from_dict", data, "y", self.kind), dtype=np.float64)
        if x.ndim != 1 or x.size < 2 or x.shape != y.shape or np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
            raise ValueError("IsotonicCalibrator.from_dict: 'x' and 'y' must be equally long (>= 2) non-decreasing "
                             "lists. Fix: load a dict written by to_dict().")
        self.x, self.y = x, y

    def _params(self) -> Dict[str, np.ndarray]:
        return {"x": self.x, "y": self.y}

    @classmethod
    def _stack_params(cls, params: list) -> Dict[str, np.ndarray]:
        # Repeating the last knot keeps each row's map: equal x give no slope in the lookup.
        width = max(p["x"].size for p in params)
        return {key: interpolation.pad_rows([p[key] for p in params], width) for key in ("x", "y")}

    @classmethod
    def _tf_rows(cls, p, params):
        return interpolation.linear_tf(params["x"], params["y"], p)

    def _transform_np(self, p: np.ndarray) -> np.ndarray:
        return interpolation.linear_np(self.x, self.y, p)
