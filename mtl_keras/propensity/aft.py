"""AFTWinModel: accelerated failure time models, log market price = x·β + b0 + noise."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pandas as pd

from mtl_keras.propensity.regression import RegressionWinModel


class AFTWinModel(RegressionWinModel):
    """A lifelines AFT fitter with features in the location only (a constant shape parameter),
    so that P(win | x, b) = F(log b - x·β - b0; shape) is closed form in numpy and in TF.
    Subclasses give the fitter, its parameter names and F."""

    _fitter: str = ""
    _location_param: str = ""
    _shape_param: str = ""

    def _make_fitter(self, penalizer: float):
        import lifelines

        return getattr(lifelines, self._fitter)(penalizer=penalizer)

    def _read_fitter(self, fitter) -> None:
        location = fitter.params_.loc[self._location_param]
        self.beta = location[self.encoder.column_names].to_numpy(np.float64)
        self.intercept = float(location["Intercept"])
        self.log_shape = float(fitter.params_.loc[(self._shape_param, "Intercept")])

    def location(self, frame: pd.DataFrame) -> np.ndarray:
        """x·β + b0: the log-scale location of the market price per row."""
        return self.linear_predictor(frame, self.beta) + self.intercept

    def _cdf(self, frame: pd.DataFrame, prices: np.ndarray) -> np.ndarray:
        return self.log_cdf_formula(np, np.log(prices), self.location(frame)[:, None], np.exp(self.log_shape))

    @staticmethod
    def log_cdf_formula(ops, log_price, location, shape):
        """P(T < exp(log_price)) with `ops` numpy or a TF-compatible namespace."""
        raise NotImplementedError

    def to_tf_module(self, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        """A tf.Module whose `__call__(features, bids[batch, num_bids])` equals predict_p_win."""
        from mtl_keras.propensity.tf_export import AFTWinModule

        self._check_fitted()
        return AFTWinModule(self, feature_spec=feature_spec, floor=floor, clip=clip)

    def _get_coefficients(self) -> Dict[str, Any]:
        return {"beta": self.beta.tolist(), "intercept": self.intercept, "log_shape": self.log_shape}

    def _set_coefficients(self, params: Dict[str, Any]) -> None:
        self.beta = np.asarray(params["beta"], np.float64)
        self.intercept, self.log_shape = float(params["intercept"]), float(params["log_shape"])
