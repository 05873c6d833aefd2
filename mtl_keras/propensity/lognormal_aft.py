"""LogNormalAFTWinModel: log market price ~ Normal(x·β + b0, σ²)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mtl_keras.propensity.aft import AFTWinModel


class LogNormalAFTWinModel(AFTWinModel):
    """lifelines' LogNormalAFTFitter; P(win | x, b) = Φ((log b − μ(x)) / σ)."""

    kind = "lognormal_aft"
    _fitter, _location_param, _shape_param = "LogNormalAFTFitter", "mu_", "sigma_"

    @staticmethod
    def log_cdf_formula(ops, log_price, location, shape):
        z = (log_price - location) / shape
        if ops is np:
            from scipy import special

            return special.ndtr(z)
        return 0.5 * ops.math.erfc(-z / np.sqrt(2.0))

    def predict_median(self, frame: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return np.exp(self.location(frame))
