"""Exact numpy metrics, used in reports and as references for the streaming Keras metrics."""
from __future__ import annotations

from typing import Optional

import numpy as np


def _prepare(labels, preds, weights):
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    preds = np.asarray(preds, dtype=np.float64).reshape(-1)
    if labels.shape != preds.shape:
        raise ValueError(f"labels and preds differ in length: {labels.shape[0]} vs {preds.shape[0]}.")
    weights = np.ones_like(labels) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    if weights.shape != labels.shape:
        raise ValueError(f"weights has {weights.shape[0]} entries, expected {labels.shape[0]}.")
    if np.isnan(preds).any():
        raise ValueError("preds contain NaN; check the model outputs before computing metrics.")
    return labels, preds, weights


def roc_auc(labels, preds, weights: Optional[np.ndarray] = None) -> float:
    """Weighted ROC AUC with ties counted as 1/2; 0.5 when only one class is present."""
    labels, preds, weights = _prepare(labels, preds, weights)
    pos, neg = weights * labels, weights * (1.0 - labels)
    if pos.sum() <= 0 or neg.sum() <= 0:
        return 0.5
    order = np.argsort(preds, kind="mergesort")
    preds, pos, neg = preds[order], pos[order], neg[order]
    # Group tied predictions: a positive beats the negatives strictly below and half of its ties.
    _, starts = np.unique(preds, return_index=True)
    pos_g = np.add.reduceat(pos, starts)
    neg_g = np.add.reduceat(neg, starts)
    neg_below = np.cumsum(neg_g) - neg_g
    return float(np.sum(pos_g * (neg_below + 0.5 * neg_g)) / (pos.sum() * neg.sum()))


def log_loss(labels, preds, weights: Optional[np.ndarray] = None, eps: float = 1e-7) -> float:
    labels, preds, weights = _prepare(labels, preds, weights)
    p = np.clip(preds, eps, 1 - eps)
    losses = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    return float(np.sum(weights * losses) / max(weights.sum(), 1e-12))


def calibration_ratio(labels, preds, weights: Optional[np.ndarray] = None) -> float:
    """mean(pred) / mean(label); 1 is calibrated in aggregate. NaN when there is no positive label."""
    labels, preds, weights = _prepare(labels, preds, weights)
    positives = np.sum(weights * labels)
    return float(np.sum(weights * preds) / positives) if positives > 0 else float("nan")


def expected_calibration_error(labels, preds, num_bins: int = 10, weights: Optional[np.ndarray] = None) -> float:
    """ECE over equal-mass bins: Σ_b (n_b / N) |mean pred_b - mean label_b|.

    Rows are sorted by prediction and cut into `num_bins` groups of (nearly) equal total weight.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}.")
    labels, preds, weights = _prepare(labels, preds, weights)
    total = weights.sum()
    if total <= 0:
        return 0.0
    order = np.argsort(preds, kind="mergesort")
    preds, labels, weights = preds[order], labels[order], weights[order]
    cumulative = np.cumsum(weights)
    bins = np.minimum((cumulative - 0.5 * weights) * num_bins // total, num_bins - 1).astype(int)
    gap = np.bincount(bins, weights=weights * (preds - labels), minlength=num_bins)
    return float(np.sum(np.abs(gap)) / total)


def reliability_curve(labels, preds, num_bins: int = 10, weights: Optional[np.ndarray] = None):
    """(mean prediction, observed rate, weight) per equal-mass bin, for reliability diagrams."""
    labels, preds, weights = _prepare(labels, preds, weights)
    total = weights.sum()
    if total <= 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    order = np.argsort(preds, kind="mergesort")
    preds, labels, weights = preds[order], labels[order], weights[order]
    bins = np.minimum((np.cumsum(weights) - 0.5 * weights) * num_bins // total, num_bins - 1).astype(int)
    mass = np.bincount(bins, weights=weights, minlength=num_bins)
    keep = mass > 0
    mean_pred = np.bincount(bins, weights=weights * preds, minlength=num_bins)[keep] / mass[keep]
    observed = np.bincount(bins, weights=weights * labels, minlength=num_bins)[keep] / mass[keep]
    return mean_pred, observed, mass[keep]
