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

    def _fit_lifelines(self, design: pd.DataFrame, duration_col: str, event_col: str) -> None:
        from lifelines import CoxPHFitter

        fitter = CoxPHFitter(penalizer=self.penalizer).fit(design, duration_col, event_col)
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

    def _get_coefficients(self) -> Dict[str, Any]:
        return {"beta": self.beta.tolist(), "center": self.center.tolist(), "times": self.times.tolist(),
                "baseline": self.baseline.tolist()}

    def _set_coefficients(self, params: Dict[str, Any]) -> None:
        for key in ("beta", "center", "times", "baseline"):
            setattr(self, key, np.asarray(params[key], np.float64))
