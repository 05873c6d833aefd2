"""KaplanMeierWinModel: one market-price survival curve for all requests (features ignored)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import pandas as pd

from mtl_keras.propensity.base import WinPropensityModel


class KaplanMeierWinModel(WinPropensityModel):
    """P(win | b) = 1 - S(b-) with S the Kaplan–Meier estimate (lifelines' tie convention:
    a request censored at t was at risk at t, i.e. its market price was >= its bid)."""

    kind = "km"

    def __init__(self, max_fit_rows: Optional[int] = None, seed: int = 0):
        super().__init__(max_fit_rows=max_fit_rows, seed=seed)  # KM is fast: all rows by default

    def _fit(self, frame: pd.DataFrame, durations: np.ndarray, events: np.ndarray) -> None:
        self.times, self.survival = kaplan_meier_curve(durations, events)

    def _cdf(self, frame: pd.DataFrame, prices: np.ndarray) -> np.ndarray:
        return step_cdf(self.times, self.survival, prices)

    def to_tf_module(self, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        """A tf.Module whose `__call__(features, bids[batch, num_bids])` equals predict_p_win."""
        from mtl_keras.propensity.step_export import StepWinModule

        self._check_fitted()
        return StepWinModule(self, feature_spec=feature_spec, floor=floor, clip=clip)

    def _get_params(self) -> Dict[str, Any]:
        return {"times": self.times.tolist(), "survival": self.survival.tolist()}

    def _set_params(self, params: Dict[str, Any]) -> None:
        self.times = np.asarray(params["times"], np.float64)
        self.survival = np.asarray(params["survival"], np.float64)


def kaplan_meier_curve(durations: np.ndarray, events: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(event times, S just after each) from lifelines' KaplanMeierFitter."""
    from lifelines import KaplanMeierFitter

    fitter = KaplanMeierFitter().fit(durations, events)
    curve = fitter.survival_function_.iloc[:, 0]
    return curve.index.to_numpy(np.float64), curve.to_numpy(np.float64)


def step_cdf(times: np.ndarray, survival: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """1 - S(b-) for a right-continuous step function S: the value at the last time strictly below b."""
    index = np.searchsorted(times, prices, side="left") - 1
    s = np.where(index >= 0, survival[np.clip(index, 0, None)], 1.0)
    return 1.0 - s
