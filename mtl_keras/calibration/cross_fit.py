"""Calibrators fitted on every held-out row, with a cross-fitted report that is out of sample for them."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import pandas as pd

from mtl_keras.calibration.fitting import fit_multitask_calibration
from mtl_keras.calibration.report import multitask_calibration_report


def fit_with_cross_fitted_report(outputs: Mapping[str, np.ndarray], frame: pd.DataFrame, seed: int = 0,
                                 plot_dir: Optional[str] = None, **fit_arguments: Any):
    """(MultiTaskCalibration fitted on every row, report): the report scores each random half of the
    rows with calibrators fitted on the other half (`multitask_calibration_report` per half), so its
    before/after figures are out of sample. `fit_arguments` go to `fit_multitask_calibration`."""
    calibration = fit_multitask_calibration(outputs, frame, **fit_arguments)
    half = np.random.default_rng([seed, 7]).random(len(frame)) < 0.5
    report: Dict[str, Any] = {"rows": int(len(frame)), "cross_fitted": {}}
    for name, (fit_rows, score_rows) in {"a": (half, ~half), "b": (~half, half)}.items():
        part = {k: np.asarray(v)[fit_rows] for k, v in outputs.items()}
        held = {k: np.asarray(v)[score_rows] for k, v in outputs.items()}
        fitted = fit_multitask_calibration(part, frame[fit_rows].reset_index(drop=True), **fit_arguments)
        report["cross_fitted"][name] = multitask_calibration_report(
            fitted, held, frame[score_rows].reset_index(drop=True), plot_dir=plot_dir if name == "b" else None)
    return calibration, report
