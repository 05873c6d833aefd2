"""Scoring predictions against the simulator's ground truth in the three evaluation spaces.

Which truth each metric uses (the same for every method):
- AUC against the binary potential outcomes: potential_click (CTR), potential_conversion (CVR,
  defined on every request, clicked or not) and their product (CTCVR).
- Log loss, ECE and calibration ratio against the true probabilities true_p_ctr, true_p_cvr and
  their product, used as soft labels. The log loss is then the expected log loss
  H(p*) + KL(p* || p̂), a proper scoring rule minimised by the truth, and ECE / ratio have no
  Bernoulli noise: a model equal to the truth scores ECE 0 and ratio 1 exactly.
"""
from __future__ import annotations

from typing import Dict, Mapping

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.metrics import calibration_ratio, expected_calibration_error, log_loss, roc_auc

# Evaluation spaces, i.e. which test rows are scored: every request, the overlap population (requests
# with true p_win >= the propensity floor), won impressions, clicked impressions.
SPACE_REQUEST = "request"
SPACE_OVERLAP = "overlap"
SPACE_IMPRESSION = "impression"
SPACE_CLICK = "click"
SPACES = (SPACE_REQUEST, SPACE_OVERLAP, SPACE_IMPRESSION, SPACE_CLICK)

TASKS = (names.CTR, names.CVR, names.CTCVR)
METRICS = ("auc", "log_loss", "ece", "calibration_ratio", "ratio_error")
# The overlap space: requests whose true p_win is at least this (ModelConfig's default
# win_propensity_floor), the population that floored weights still reach.
DEFAULT_OVERLAP_FLOOR = 0.05
_PREDICTION = {names.CTR: names.P_CTR, names.CVR: names.P_CVR, names.CTCVR: names.P_CTCVR}


def metric_key(task: str, metric: str) -> str:
    """The result key of a metric, e.g. metric_key("cvr", "auc") == "cvr_auc"."""
    return f"{task}_{metric}"


METRIC_KEYS = tuple(metric_key(t, m) for t in TASKS for m in METRICS)


def space_mask(frame: pd.DataFrame, space: str, overlap_floor: float = DEFAULT_OVERLAP_FLOOR) -> np.ndarray:
    """Rows of `frame` in `space`: every request, requests with true p_win >= overlap_floor, won
    impressions (won=1) or clicks (click=1)."""
    if space == SPACE_REQUEST:
        return np.ones(len(frame), dtype=bool)
    if space == SPACE_OVERLAP:
        return frame[names.TRUE_P_WIN].to_numpy() >= overlap_floor
    column = {SPACE_IMPRESSION: names.WON, SPACE_CLICK: names.CLICK}.get(space)
    if column is None:
        raise ValueError(f"space must be one of {list(SPACES)}, got {space!r}.")
    return frame[column].to_numpy() == 1


def task_metrics(labels, truth, preds, num_bins: int = 10) -> Dict[str, float]:
    """AUC against binary `labels`; log loss, ECE, calibration ratio (mean prediction / mean truth)
    and ratio error |ratio − 1| against true probabilities."""
    ratio = calibration_ratio(truth, preds)
    return {
        "auc": roc_auc(labels, preds),
        "log_loss": log_loss(truth, preds),
        "ece": expected_calibration_error(truth, preds, num_bins=num_bins),
        "calibration_ratio": ratio,
        "ratio_error": abs(ratio - 1.0),
    }


def ground_truth(frame: pd.DataFrame) -> Dict[str, Dict[str, np.ndarray]]:
    """Per task: binary potential outcome ("label") and true probability ("truth") of every row."""
    needed = (names.TRUE_P_WIN, names.TRUE_P_CTR, names.TRUE_P_CVR, names.POTENTIAL_CLICK, names.POTENTIAL_CONVERSION)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"The evaluation data lack ground-truth columns {missing}; the bias benchmark needs "
                         "simulated data (mtl_keras.simulation), which write them.")
    click = frame[names.POTENTIAL_CLICK].to_numpy(np.float64)
    conversion = frame[names.POTENTIAL_CONVERSION].to_numpy(np.float64)
    p_ctr = frame[names.TRUE_P_CTR].to_numpy(np.float64)
    p_cvr = frame[names.TRUE_P_CVR].to_numpy(np.float64)
    return {
        names.CTR: {"label": click, "truth": p_ctr},
        names.CVR: {"label": conversion, "truth": p_cvr},
        names.CTCVR: {"label": click * conversion, "truth": p_ctr * p_cvr},
    }


def evaluate_spaces(frame: pd.DataFrame, preds: Mapping[str, np.ndarray], num_bins: int = 10,
                    overlap_floor: float = DEFAULT_OVERLAP_FLOOR) -> Dict[str, Dict[str, float]]:
    """{space: {"rows": n, "cvr_auc": ..., ...}} for every space of SPACES.

    `preds` holds p_ctr, p_cvr and p_ctcvr for every row of `frame` (the output of
    mtl_keras.training.predict on all test requests).
    """
    for key in _PREDICTION.values():
        if key not in preds:
            raise ValueError(f"preds lack {key!r}; pass the model outputs for every row of the frame.")
        if len(preds[key]) != len(frame):
            raise ValueError(f"preds[{key!r}] has {len(preds[key])} rows but the frame has {len(frame)}.")
    truth = ground_truth(frame)
    report = {}
    for space in SPACES:
        mask = space_mask(frame, space, overlap_floor)
        if not mask.any():
            raise ValueError(f"The evaluation data have no row in space {space!r}; simulate more requests.")
        row = {"rows": int(mask.sum())}
        for task in TASKS:
            pred = np.asarray(preds[_PREDICTION[task]], np.float64)[mask]
            values = task_metrics(truth[task]["label"][mask], truth[task]["truth"][mask], pred, num_bins)
            row.update({metric_key(task, m): v for m, v in values.items()})
        report[space] = row
    return report
