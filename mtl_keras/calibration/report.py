"""Before / after calibration metrics and reliability plots (matplotlib on the Agg canvas, no display)."""
from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

import numpy as np
import pandas as pd

from mtl_keras.calibration import names as cal_names
from mtl_keras.calibration import validation
from mtl_keras.calibration.fitting import calibration_rows, model_output
from mtl_keras.calibration.multitask import MultiTaskCalibration


def _metrics(labels, preds, weights, num_bins: int) -> Dict[str, float]:
    # Imported here: the mtl_keras.metrics package loads TensorFlow (its Keras metrics).
    from mtl_keras.metrics import calibration_ratio, expected_calibration_error, log_loss, roc_auc

    total = float(weights.sum())
    return {"ece": expected_calibration_error(labels, preds, num_bins=num_bins, weights=weights),
            "calibration_ratio": calibration_ratio(labels, preds, weights),
            "auc": roc_auc(labels, preds, weights),
            "log_loss": log_loss(labels, preds, weights),
            "mean_prediction": float(np.sum(weights * preds) / total) if total > 0 else float("nan")}


def _inputs(owner: str, before, after, labels, weights):
    before = validation.check_probabilities(owner, before, "probabilities_before").reshape(-1)
    after = validation.check_probabilities(owner, after, "probabilities_after").reshape(-1)
    if after.size != before.size:
        raise ValueError(f"{owner}: probabilities_after has {after.size} values but probabilities_before has "
                         f"{before.size}. Fix: pass both for the same rows.")
    labels = validation.check_labels(owner, labels, before.size)
    weights = validation.check_weights(owner, weights, before.size, "weights")
    return before, after, labels, weights


def calibration_table(probabilities_before, probabilities_after, labels, weights=None,
                      num_bins: int = 10) -> Dict[str, object]:
    """ECE (equal-weight bins), calibration ratio (Σw·pred / Σw·label), AUC, log loss and mean prediction,
    before and after calibration, all weighted by `weights` when given; plus row and label counts.

    Calibration should bring ECE down and the ratio to 1; a monotone calibrator leaves AUC unchanged
    but for ties it creates (flat isotonic blocks, histogram bins).
    """
    owner = "calibration_table"
    validation.check_count_argument(owner, "num_bins", num_bins, minimum=1)
    before, after, labels, weights = _inputs(owner, probabilities_before, probabilities_after, labels, weights)
    return {"count": int(labels.size), "positives": int(labels.sum()), "weight": float(weights.sum()),
            "weighted_positives": float(np.sum(weights * labels)), "observed_rate":
            float(np.sum(weights * labels) / weights.sum()) if weights.sum() > 0 else float("nan"),
            "before": _metrics(labels, before, weights, num_bins), "after": _metrics(labels, after, weights, num_bins)}


def reliability_plot(path: str, probabilities_before, probabilities_after, labels, weights=None,
                     num_bins: int = 10, title: str = "") -> str:
    """Writes a PNG with the reliability curves before and after calibration; returns `path`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mtl_keras.plots import reliability_diagram

    owner = "reliability_plot"
    validation.check_count_argument(owner, "num_bins", num_bins, minimum=1)
    before, after, labels, weights = _inputs(owner, probabilities_before, probabilities_after, labels, weights)
    # A Figure on its own Agg canvas: no pyplot state, no backend switch for the caller's process.
    figure = Figure(figsize=(5, 5))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    reliability_diagram(ax, labels, before, "before", num_bins=num_bins, weights=weights)
    reliability_diagram(ax, labels, after, "after", num_bins=num_bins, weights=weights)
    if title:
        ax.set_title(title)
    figure.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path


def multitask_calibration_report(calibration: MultiTaskCalibration, model_outputs: Mapping[str, np.ndarray],
                                 frame: pd.DataFrame, space=None, num_bins: int = 10,
                                 plot_dir: Optional[str] = None, **weight_arguments) -> Dict[str, dict]:
    """`calibration_table` per funnel output (p_ctr, p_cvr, p_ctcvr as served) on the rows and weights
    it is calibrated on in `space` (default: the space recorded at fit); with `plot_dir` also a
    reliability PNG per output there. `weight_arguments`: floors and clips for `calibration_rows`."""
    space = space or calibration.metadata.get("space", "impression")
    features = {f: frame[f].to_numpy() for f in set(calibration.slice_fields.values()) if f in frame.columns}
    applied = calibration.apply({k: np.asarray(v).reshape(-1) for k, v in model_outputs.items()},
                                features or None)
    report = {}
    # Every funnel output the calibration changes: the calibrated ones and a pCTCVR product of them.
    for output in [o for o in cal_names.CALIBRATED_OUTPUTS if o + cal_names.UNCALIBRATED_SUFFIX in applied]:
        rows = calibration_rows(model_outputs, frame, output, space, **weight_arguments)
        before = model_output(model_outputs, output, len(frame))[rows.mask]
        after = np.asarray(applied[output]).reshape(-1)[rows.mask]
        report[output] = dict(calibration_table(before, after, rows.labels, rows.weights, num_bins),
                              space=rows.space, weights_description=rows.weights_description)
        if plot_dir:
            report[output]["plot"] = reliability_plot(os.path.join(plot_dir, f"reliability_{output}.png"), before,
                                                      after, rows.labels, rows.weights, num_bins, title=output)
    return report
