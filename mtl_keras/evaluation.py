"""Predictions and exact per-task metrics of a trained model on any DataFrame.

`predict` scores every row; `evaluate` scores the rows of an evaluation space, optionally weighted:

- space "impression" (default): won impressions (every row when the frame has no `won` column);
  CTR and CTCVR on all of them, CVR on the clicked ones, the only ones whose conversion a log
  observes.
- space "all": every task on every row of the frame. For a frame whose labels are unbiased for
  every row, e.g. a randomised test set where conversion is observed whether or not the user
  clicked; CVR is then scored on every row against `conversion`.
- a column name: the rows where that boolean column is True, every task on every selected row
  (as "all" on a subset). "impression" and "all" are read as the spaces above, never as columns.

`weights`: None, or a column of non-negative finite per-row weights (e.g. inverse propensities)
that every metric uses: weighted AUC (ties count 1/2), log loss, equal-weight-bin ECE and
calibration ratio (`mtl_keras.metrics`). The CTCVR label is click·conversion in every space.
"""
from __future__ import annotations

import weakref
from typing import Dict, Optional

import numpy as np
import pandas as pd

from mtl_keras import data, names
from mtl_keras.metrics import calibration_ratio, expected_calibration_error, log_loss, roc_auc

SPACE_IMPRESSION = "impression"
SPACE_ALL = "all"
SPACES = (SPACE_IMPRESSION, SPACE_ALL)

# One tf.function per model with a fixed input signature ([None] per feature), so batches of any
# length reuse one trace. Weak keys: the function holds the model only weakly.
_PREDICT_FUNCTIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _predict_function(model):
    function = _PREDICT_FUNCTIONS.get(model)
    if function is None:
        import tensorflow as tf

        spec = model.model_config.features
        signature = {f.name: tf.TensorSpec([None], tf.int64, name=f.name) for f in spec.categorical}
        signature.update({f.name: tf.TensorSpec([None], tf.float32, name=f.name) for f in spec.numeric})
        model_ref = weakref.ref(model)

        @tf.function(input_signature=[signature], autograph=False)
        def function(features):
            return model_ref()(features, training=False)

        _PREDICT_FUNCTIONS[model] = function
    return function


def predict(model, frame: pd.DataFrame, batch_size: int = 8192) -> Dict[str, np.ndarray]:
    """Predictions for every row of `frame` (requests or impressions): a flat float32 numpy array per
    model output (`p_ctr`, `p_cvr`, `p_ctcvr`, and `p_imp` for ESCM²-DR; only `p_ctr` or `p_cvr` for the
    single-task objectives `ctr` / `cvr`), in the frame's row order.

    The model runs in one tf.function per model with a fixed input signature, so calls with frames
    and batches of any length trace it once."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    spec = model.model_config.features
    data.validate_frame(frame, spec, labels=())
    arrays = data.to_arrays(frame, spec)
    function = _predict_function(model)
    n = len(frame)
    chunks = [function({k: v[start:start + batch_size] for k, v in arrays.items()})
              for start in range(0, max(n, 1), batch_size)]
    return {key: np.concatenate([np.asarray(c[key]).reshape(-1) for c in chunks])[:n] for key in chunks[0]}


def binary_report(labels, preds, num_bins: int = 10, weights: Optional[np.ndarray] = None) -> Dict[str, float]:
    """Row count, positive labels, AUC, log loss, ECE and calibration ratio, weighted by `weights` when
    given (then also the total `weight` and `weighted_positives`)."""
    labels = np.asarray(labels, dtype=np.float64)
    report = {
        "count": int(labels.size),
        "positives": int(labels.sum()),
        "auc": roc_auc(labels, preds, weights),
        "log_loss": log_loss(labels, preds, weights),
        "ece": expected_calibration_error(labels, preds, num_bins=num_bins, weights=weights),
        "calibration_ratio": calibration_ratio(labels, preds, weights),
    }
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        report.update(weight=float(weights.sum()), weighted_positives=float(np.sum(weights * labels)))
    return report


def space_rows(frame: pd.DataFrame, space) -> pd.DataFrame:
    """The rows of `frame` that `space` ("impression", "all" or a boolean column) scores."""
    if space == SPACE_IMPRESSION:
        return data.impressions(frame)
    if space == SPACE_ALL:
        return frame.reset_index(drop=True)
    if not isinstance(space, str) or space not in frame.columns:
        raise ValueError(f"space must be one of {list(SPACES)} or the name of a boolean column of the frame; "
                         f"got {space!r}" + ("." if not isinstance(space, str) else
                                             f", which is not a column (columns: {sorted(map(str, frame.columns))})."))
    column = frame[space]
    if not pd.api.types.is_bool_dtype(column) or column.isna().any():
        raise ValueError(f"space column {space!r} must be boolean (True selects a row for evaluation), got dtype "
                         f"{column.dtype}{' with missing values' if column.isna().any() else ''}; "
                         f"convert it, e.g. frame[{space!r}] == 1.")
    return frame[column.to_numpy(dtype=bool)].reset_index(drop=True)


def _weights(rows: pd.DataFrame, weights, space) -> Optional[np.ndarray]:
    if weights is None:
        return None
    if not isinstance(weights, str) or weights not in rows.columns:
        raise ValueError(f"weights must be None or the name of a column of the frame, got {weights!r}.")
    if not pd.api.types.is_numeric_dtype(rows[weights]) or pd.api.types.is_bool_dtype(rows[weights]):
        raise ValueError(f"weights column {weights!r} must be numeric, got dtype {rows[weights].dtype}.")
    values = rows[weights].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(f"weights column {weights!r} must hold non-negative finite weights; {int(bad.sum())} of "
                         f"the {len(values)} rows of space {space!r} are negative, NaN or infinite.")
    if not values.sum() > 0:
        raise ValueError(f"weights column {weights!r} sums to 0 over the {len(values)} rows of space {space!r}.")
    return values


def evaluate(model, frame: pd.DataFrame, space: str = SPACE_IMPRESSION, weights: Optional[str] = None,
             num_bins: int = 10) -> Dict[str, Dict[str, float]]:
    """Exact metrics of every task the model predicts (`ctr`, `ctcvr`, `cvr`) on the rows of `frame` in `space`.

    Returns {task: binary_report(...)}: count, positives, auc, log_loss, ece (over `num_bins`
    equal-weight bins), calibration_ratio (Σ w·pred / Σ w·label), plus weight and weighted_positives
    when `weights` is given. See the module docstring for the spaces and weights. A single-tower
    model reports only its task (objective `ctr`: `ctr`, needing only `click`; `cvr`: `cvr`, needing
    only `conversion`); `ctcvr` needs both towers. A CVR-only model in space "impression" is scored
    on the rows with click=1 when the frame has a click column, on every row (a log of clicks) when not.
    """
    rows = space_rows(frame, space)
    if rows.empty:
        raise ValueError(f"space {space!r} selects no rows of the frame ({len(frame)} rows); nothing to evaluate.")
    towers = set(model.model_config.tower_names)
    has_ctr, has_cvr = names.CTR in towers, names.CVR in towers
    checked = [c for c, needed in ((names.CLICK, has_ctr or (has_cvr and names.CLICK in rows.columns)),
                                   (names.CONVERSION, has_cvr)) if needed]
    for column in checked:
        if column not in rows.columns:
            raise ValueError(f"Label column {column!r} is missing from the evaluation frame.")
        values = rows[column]
        if values.isna().any() or not values.isin([0, 1]).all():
            raise ValueError(f"Label column {column!r} must hold only 0 and 1 on the {len(rows)} rows of space "
                             f"{space!r}; it has {int((~values.isin([0, 1])).sum())} other values (or NaN).")
    w = _weights(rows, weights, space)
    preds = predict(model, rows)
    click = rows[names.CLICK].to_numpy(np.float64) if names.CLICK in checked else None
    report = {}
    if has_ctr:
        report[names.CTR] = binary_report(click, preds[names.P_CTR], num_bins, w)
    if has_ctr and has_cvr:
        conversion = rows[names.CONVERSION].to_numpy(np.float64)
        report[names.CTCVR] = binary_report(click * conversion, preds[names.P_CTCVR], num_bins, w)
    if has_cvr:
        conversion = rows[names.CONVERSION].to_numpy(np.float64)
        cvr_rows = click == 1 if space == SPACE_IMPRESSION and click is not None else np.ones(len(rows), dtype=bool)
        report[names.CVR] = binary_report(conversion[cvr_rows], preds[names.P_CVR][cvr_rows], num_bins,
                                          None if w is None else w[cvr_rows])
    return report
