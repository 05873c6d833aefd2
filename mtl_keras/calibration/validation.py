"""Checks of user input to the calibrators: each problem is a ValueError naming the field and the fix."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

DEFAULT_MIN_ROWS = 100
DEFAULT_MIN_POSITIVES = 10


def as_float_array(owner: str, field: str, values) -> np.ndarray:
    """`values` as a float64 array (any shape); non-numeric input is a ValueError naming `field`."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {field} must be numeric, got {type(values).__name__} that numpy cannot "
                         f"convert to floats. Fix: pass a numeric array.") from None
    return array


def check_probabilities(owner: str, values, field: str = "probabilities") -> np.ndarray:
    """Finite values in [0, 1], as float64 of the input's shape."""
    p = as_float_array(owner, field, values)
    nan = np.isnan(p)
    if nan.any():
        raise ValueError(f"{owner}: {field} has {int(nan.sum())} NaN values (of {p.size}). "
                         "Fix: drop or repair those rows before calibrating.")
    outside = (p < 0.0) | (p > 1.0)
    if outside.any():
        raise ValueError(f"{owner}: {field} must lie in [0, 1]; {int(outside.sum())} of {p.size} values are "
                         f"outside (min {p.min():.6g}, max {p.max():.6g}). Fix: pass probabilities, not logits "
                         "or scores.")
    return p


def check_labels(owner: str, values, size: int, field: str = "labels") -> np.ndarray:
    """Flat float64 labels of 0 and 1, `size` of them."""
    y = as_float_array(owner, field, values).reshape(-1)
    if y.size != size:
        raise ValueError(f"{owner}: {field} has {y.size} values but probabilities has {size}. "
                         "Fix: pass one label per probability.")
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{owner}: {field} must hold only 0 and 1; {int(bad.sum())} of {y.size} values are "
                         "other values or NaN. Fix: binarise the labels (e.g. click > 0).")
    return y


def check_weights(owner: str, values, size: int, field: str = "sample_weight") -> np.ndarray:
    """Flat float64 non-negative finite weights with a positive sum; ones when `values` is None."""
    if values is None:
        return np.ones(size)
    w = as_float_array(owner, field, values).reshape(-1)
    if w.size != size:
        raise ValueError(f"{owner}: {field} has {w.size} values but probabilities has {size}. "
                         "Fix: pass one weight per row, or None.")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(f"{owner}: {field} must be non-negative and finite; {int(bad.sum())} of {w.size} "
                         "values are negative, NaN or infinite. Fix: floor/clip the propensities the weights "
                         "come from (see space_weights), or drop those rows.")
    if size and not w.sum() > 0:
        raise ValueError(f"{owner}: {field} sums to 0 over {size} rows; nothing to fit. Fix: check the weights.")
    return w


def check_fit_inputs(owner: str, probabilities, labels, sample_weight) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat (p, y, w) after the three checks above."""
    p = check_probabilities(owner, probabilities).reshape(-1)
    y = check_labels(owner, labels, p.size)
    w = check_weights(owner, sample_weight, p.size)
    return p, y, w


def check_counts(owner: str, labels: np.ndarray, min_rows: int, min_positives: int) -> None:
    """Enough rows (with positive weight) and positive labels to fit; the message gives both counts."""
    rows, positives = int(labels.size), int(np.sum(labels == 1))
    if rows < min_rows or positives < min_positives:
        raise ValueError(f"{owner}: too little data to calibrate: {rows} rows and {positives} positives "
                         f"(labels == 1), but min_rows={min_rows} and min_positives={min_positives}. Fix: fit on "
                         "more held-out rows, or lower min_rows / min_positives.")


def check_count_argument(owner: str, field: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {field} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_eps(owner: str, eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0.0 <= eps < 0.5:
        raise ValueError(f"{owner}: eps must be a number in [0, 0.5) (outputs are clipped to [eps, 1 - eps]), "
                         f"got {eps!r}.")
    return float(eps)


def require_key(owner: str, data: dict, key: str, kind: Optional[str] = None):
    """`data[key]`, or a ValueError saying the saved calibrator is incomplete."""
    if not isinstance(data, dict) or key not in data:
        raise ValueError(f"{owner}: the saved calibrator{' of kind ' + repr(kind) if kind else ''} has no "
                         f"{key!r} entry. Fix: load a dict written by to_dict().")
    return data[key]
