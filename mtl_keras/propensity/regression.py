"""RegressionWinModel: shared fitting of the feature-based lifelines models (Cox PH, AFTs)."""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd

from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.data import infer_feature_columns
from mtl_keras.propensity.encoder import FeatureEncoder

_DURATION, _EVENT = "__duration", "__event"


class RegressionWinModel(WinPropensityModel):
    """A lifelines regression on the FeatureEncoder design matrix.

    categorical / numeric: feature columns; None for both infers them (integer columns are ids,
    float columns numeric, funnel and ground-truth columns excluded). max_levels / min_count:
    one-hot levels kept per categorical feature. penalizer: lifelines' L2 penalty, which keeps
    sparse one-hot columns from diverging; None takes the model's `default_penalizer` (Cox 0.1,
    whose Newton steps diverge on rare levels with less; AFT 0.01).
    """

    default_penalizer = 0.01

    def __init__(self, categorical: Optional[Sequence[str]] = None, numeric: Optional[Sequence[str]] = None,
                 max_levels: int = 20, min_count: int = 20, penalizer: Optional[float] = None,
                 max_fit_rows: Optional[int] = 200_000, seed: int = 0):
        super().__init__(max_fit_rows=max_fit_rows, seed=seed)
        penalizer = self.default_penalizer if penalizer is None else penalizer
        if not isinstance(penalizer, (int, float)) or isinstance(penalizer, bool) or penalizer < 0:
            raise ValueError(f"penalizer must be a number >= 0, got {penalizer!r}.")
        self.categorical = None if categorical is None else list(categorical)
        self.numeric = None if numeric is None else list(numeric)
        self.max_levels = max_levels
        self.min_count = min_count
        self.penalizer = float(penalizer)
        FeatureEncoder(self.categorical or (), self.numeric or (), max_levels, min_count)  # validates early

    def _fit(self, frame: pd.DataFrame, durations: np.ndarray, events: np.ndarray) -> None:
        categorical, numeric = self.categorical, self.numeric
        if categorical is None and numeric is None:
            categorical, numeric = infer_feature_columns(frame)
        self.encoder = FeatureEncoder(categorical or (), numeric or (), self.max_levels, self.min_count).fit(frame)
        if self.encoder.num_columns == 0:
            raise ValueError(f"The {self.kind!r} model has no usable feature column (all constant, too rare or none "
                             "given); pass categorical=/numeric= columns or use kind='km'.")
        design = self.encoder.transform_frame(frame)
        design[_DURATION], design[_EVENT] = durations, events
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lifelines' convergence chatter; failures still raise
            self._fit_lifelines(design, _DURATION, _EVENT)

    def _fit_lifelines(self, design: pd.DataFrame, duration_col: str, event_col: str) -> None:
        raise NotImplementedError

    def linear_predictor(self, frame: pd.DataFrame, beta: np.ndarray, offset=None) -> np.ndarray:
        """(x - offset)·beta per row, by coefficient lookup (no one-hot matrix is built)."""
        shift = 0.0 if offset is None else float(np.dot(offset, beta))
        return self.encoder.dot(frame, beta) - shift

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "categorical": self.categorical, "numeric": self.numeric,
                "max_levels": self.max_levels, "min_count": self.min_count, "penalizer": self.penalizer}

    def _get_params(self) -> Dict[str, Any]:
        return {"encoder": self.encoder.to_dict(), **self._get_coefficients()}

    def _set_params(self, params: Dict[str, Any]) -> None:
        self.encoder = FeatureEncoder.from_dict(params["encoder"])
        self._set_coefficients(params)

    def _get_coefficients(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _set_coefficients(self, params: Dict[str, Any]) -> None:
        raise NotImplementedError
