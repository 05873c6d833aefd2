"""Matplotlib plots used by notebooks and benchmark reports (matplotlib is imported lazily)."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from mtl_keras.metrics.reference import expected_calibration_error, reliability_curve


def reliability_diagram(ax, labels, preds, label: str, num_bins: int = 10, weights: Optional[np.ndarray] = None):
    """Observed rate against mean prediction per equal-mass bin, with the diagonal, on `ax`."""
    mean_pred, observed, _ = reliability_curve(labels, preds, num_bins=num_bins, weights=weights)
    ece = expected_calibration_error(labels, preds, num_bins=num_bins, weights=weights)
    ax.plot(mean_pred, observed, marker="o", label=f"{label} (ECE {ece:.4f})")
    top = max(float(np.max(mean_pred, initial=0)), float(np.max(observed, initial=0))) * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate")
    ax.legend(loc="upper left")
    return ax


def gate_usage(ax, gate_weights: Dict[str, np.ndarray]):
    """Mean gate weight per expert for each tower, as grouped bars on `ax`."""
    towers = list(gate_weights)
    means = [np.asarray(gate_weights[t]).mean(axis=0) for t in towers]
    width = 0.8 / len(towers)
    for i, (tower, mean) in enumerate(zip(towers, means)):
        ax.bar(np.arange(mean.size) + i * width, mean, width=width, label=tower)
    ax.set_xlabel("expert")
    ax.set_ylabel("mean gate weight")
    ax.legend()
    return ax
