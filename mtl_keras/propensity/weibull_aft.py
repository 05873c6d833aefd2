"""WeibullAFTWinModel: market price ~ Weibull(scale λ(x) = exp(x·β + b0), shape ρ)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mtl_keras.propensity.aft import AFTWinModel


class WeibullAFTWinModel(AFTWinModel):
    """lifelines' WeibullAFTFitter; P(win | x, b) = 1 − exp(−(b / λ(x))^ρ)."""

    kind = "weibull_aft"
    _fitter, _location_param, _shape_param = "WeibullAFTFitter", "lambda_", "rho_"

    @staticmethod
    def log_cdf_formula(ops, log_price, location, shape):
        expm1 = np.expm1 if ops is np else ops.math.expm1
        return -expm1(-ops.exp(shape * (log_price - location)))

    def predict_median(self, frame: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return np.exp(self.location(frame)) * np.log(2.0) ** (1.0 / np.exp(self.log_shape))
