"""CoxWinModel: Cox proportional hazards on the features, S(t | x) = S0(t) ** exp((x - x̄)·β)."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pandas as pd

from mtl_keras.propensity.kaplan_meier import step_cdf
from mtl_keras.propensity.regression import RegressionWinModel


class CoxWinModel(RegressionWinModel):
    """lifelines' CoxPHFitter with Breslow baseline; P(win | x, b) = 1 - S0(b-) ** h(x)."""

    kind = "cox"
    default_penalizer = 0.1

    def _make_fitter(self, penalizer: float):
        from lifelines import CoxPHFitter

        return CoxPHFitter(penalizer=penalizer)

    def _read_fitter(self, fitter) -> None:
        columns = self.encoder.column_names
        self.beta = fitter.params_[columns].to_numpy(np.float64)
        self.center = fitter._norm_mean[columns].to_numpy(np.float64)  # lifelines' centring of x
        baseline = fitter.baseline_survival_.iloc[:, 0]
        self.times, self.baseline = baseline.index.to_numpy(np.float64), baseline.to_numpy(np.float64)

    def partial_hazard(self, frame: pd.DataFrame) -> np.ndarray:
        return np.exp(self.linear_predictor(frame, self.beta, self.center))

    def _cdf(self, frame: pd.DataFrame, prices: np.ndarray) -> np.ndarray:
        baseline_cdf = step_cdf(self.times, self.baseline, prices)
        return 1.0 - (1.0 - baseline_cdf) ** self.partial_hazard(frame)[:, None]

    def to_tf_module(self, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        """A tf.Module whose `__call__(features, bids[batch, num_bids])` equals predict_p_win."""
        from mtl_keras.propensity.step_export import StepWinModule

        self._check_fitted()
        return StepWinModule(self, feature_spec=feature_spec, floor=floor, clip=clip)

    def _get_coefficients(self) -> Dict[str, Any]:
        return {"beta": self.beta.tolist(), "center": self.center.tolist(), "times": self.times.tolist(),
                "baseline": self.baseline.tolist()}

    def _set_coefficients(self, params: Dict[str, Any]) -> None:
        for key in ("beta", "center", "times", "baseline"):
            setattr(self, key, np.asarray(params[key], np.float64))
