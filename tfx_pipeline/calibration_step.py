"""Calibration inside the Trainer: calibrators fitted on the eval split, served by the pushed model.

Why inside the Trainer rather than a component of its own: the Trainer already holds the trained
model and the transformed eval split, and the calibrators must be inside the SavedModel it exports
(every signature serves calibrated outputs), so a separate component would have to re-load the
model and re-export it, and the Pusher would push a model the Evaluator did not see. The fitted
calibrators are recorded with the Model artifact (`assets.extra/calibration.json`), with a
cross-fitted before/after report (`assets.extra/calibration_report.json`): each half of the eval
split is scored by calibrators fitted on the other half, so its figures are out of sample, while the
served calibrators use every eval row. The Evaluator then sees the calibrated outputs on the same
eval rows (in sample for the calibrators) and the `_uncalibrated` ones beside them.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Optional

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.calibration.cross_fit import fit_with_cross_fitted_report

CALIBRATION_KEY = "calibration"
REPORT_FILE = "calibration_report.json"
PLOTS_KEY = "_plots"
KINDS = ("isotonic", "platt", "histogram")
SPACES = ("impression", "request", "click_do")
_DEFAULTS = {"kind": "isotonic", "space": "impression", "min_rows": 100, "min_positives": 10}


def check_settings(settings: Optional[Dict[str, Any]], win_weighting: bool) -> Optional[Dict[str, Any]]:
    """The pipeline's `calibration` argument with defaults filled in, or None; raises naming a bad key."""
    if settings is None:
        return None
    if not isinstance(settings, dict):
        raise ValueError(f"calibration must be a dict such as {{'kind': 'isotonic', 'space': 'impression'}} or "
                         f"None, got {settings!r}.")
    unknown = sorted(set(settings) - set(_DEFAULTS))
    if unknown:
        hint = (" The pipeline calibrates globally: slice calibrators read raw field values, which the "
                "Trainer's transformed eval split does not hold; use `mtl-ads calibrate --slice-field` on "
                "raw data." if "slice_field" in unknown else "")
        raise ValueError(f"calibration has unknown keys {unknown}; it takes {sorted(_DEFAULTS)}.{hint}")
    out = {**_DEFAULTS, **settings}
    if out["kind"] not in KINDS:
        raise ValueError(f"calibration kind must be one of {list(KINDS)}, got {out['kind']!r}.")
    if out["space"] not in SPACES:
        raise ValueError(f"calibration space must be one of {list(SPACES)}, got {out['space']!r}.")
    if out["space"] == "request" and not win_weighting:
        raise ValueError("calibration space 'request' weights rows by 1/p_win, which the Trainer reads only with "
                         "win_weighting=True (the WinPropensity output); turn it on or use space 'impression'.")
    for key in ("min_rows", "min_positives"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 1:
            raise ValueError(f"calibration {key} must be an int >= 1, got {out[key]!r}.")
    return out


def eval_predictions(model, dataset, p_win_column: str):
    """(raw model outputs, frame of labels and p_win) over a dataset of transformed won impressions."""
    outputs: Dict[str, list] = {}
    columns: Dict[str, list] = {}
    for batch in dataset:
        for key, value in model(batch, training=False).items():
            if key in names.PREDICTION_KEYS:
                outputs.setdefault(key, []).append(np.asarray(value).reshape(-1))
        for column in (names.CLICK, names.CONVERSION, names.WON, p_win_column):
            if column in batch:
                columns.setdefault(column, []).append(np.asarray(batch[column]).reshape(-1))
    if not outputs:
        raise ValueError("The eval split holds no won impression to calibrate on; give the pipeline more data or "
                         "drop calibration.")
    frame = pd.DataFrame({k: np.concatenate(v) for k, v in columns.items()})
    frame = frame.rename(columns={p_win_column: names.P_WIN})
    return {k: np.concatenate(v) for k, v in outputs.items()}, frame


def fit(outputs, frame: pd.DataFrame, settings: Dict[str, Any], seed: int = 0):
    """(MultiTaskCalibration on every row, cross-fitted before/after report)."""
    kwargs = {"min_rows": settings["min_rows"], "min_positives": settings["min_positives"]}
    with tempfile.TemporaryDirectory(prefix="calibration-plots-") as plot_dir:
        calibration, report = fit_with_cross_fitted_report(outputs, frame, seed=seed, space=settings["space"],
                                                           kind=settings["kind"], calibrator_kwargs=kwargs,
                                                           plot_dir=plot_dir)
        # Reliability PNGs (before vs after, held-out half b) travel with the report into the export.
        plots = {}
        for output, entry in report["cross_fitted"]["b"].items():
            if "plot" in entry:
                name = os.path.basename(entry.pop("plot"))
                with open(os.path.join(plot_dir, name), "rb") as f:
                    plots[name] = f.read()
                entry["plot_file"] = name
    return calibration, {"settings": settings, **report, PLOTS_KEY: plots}


def write_report(report: Dict[str, Any], export_dir: str) -> str:
    """assets.extra/calibration_report.json and the reliability PNGs beside it."""
    path = os.path.join(export_dir, "assets.extra", REPORT_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    report = dict(report)
    for name, png in report.pop(PLOTS_KEY, {}).items():
        with open(os.path.join(os.path.dirname(path), name), "wb") as f:
            f.write(png)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, default=_json_default)
    return path


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
