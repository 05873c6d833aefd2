"""The benchmark's calibrated rows: each method's predictions after request-space calibration.

Calibrators are fitted on a fresh sample of the same world (sample seed + CALIBRATION_SEED_OFFSET,
never the test rows), on its won impressions, towards the request space: impressions weighted by
1/p_win (p_ctr, p_ctcvr) and clicked impressions by 1/pCTR x 1/p_win (p_cvr), floored and clipped
like training (`mtl_keras.calibration.fitting.calibration_rows`). p_win is the method's own source
(the simulator's truth for oracle methods, the fitted survival model otherwise, also for methods
that train without win weights: a user would calibrate them with the win model they have).
The served pCTCVR is the product of the calibrated heads.
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import pandas as pd

from mtl_keras import names

CALIBRATION_SEED_OFFSET = 100_000
SUFFIX = "+calibrated"


def calibrated_name(method: str) -> str:
    return method + SUFFIX


def calibration_frame(frame: pd.DataFrame, method, win_model) -> pd.DataFrame:
    """The won impressions of `frame` with the p_win the method would calibrate with in names.P_WIN."""
    impressions = frame[frame[names.WON] == 1].reset_index(drop=True)
    if method.p_win_source == "oracle" or win_model is None:
        impressions[names.P_WIN] = impressions[names.TRUE_P_WIN]
    else:
        impressions[names.P_WIN] = win_model.predict_p_win(impressions)
    return impressions


def calibrate(test_preds: Dict[str, np.ndarray], calibration_preds: Dict[str, np.ndarray],
              frame: pd.DataFrame, floor: float) -> Dict[str, np.ndarray]:
    """Test predictions after an isotonic request-space calibration fitted on `frame`'s predictions."""
    from mtl_keras.calibration import fit_multitask_calibration

    # Minimums low enough for --quick runs; the default run has thousands of conversions.
    calibration = fit_multitask_calibration(calibration_preds, frame, space="request", kind="isotonic",
                                            win_floor=floor, calibrator_kwargs={"min_rows": 50, "min_positives": 5})
    applied = calibration.apply(test_preds)
    return {k: np.asarray(applied[k]) for k in names.PREDICTION_KEYS}
