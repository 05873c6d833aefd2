"""RegressionWinModel: shared fitting of the feature-based lifelines models (Cox PH, AFTs)."""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import pandas as pd

from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.data import infer_feature_columns
from mtl_keras.propensity.encoder import FeatureEncoder

_DURATION, _EVENT = "__duration", "__event"
CV = "cv"
# Penalizers tried by penalizer="cv".
PENALIZER_GRID = (0.001, 0.01, 0.1, 1.0)


class RegressionWinModel(WinPropensityModel):
    """A lifelines regression on the FeatureEncoder design matrix.

    categorical / numeric: feature columns; None for both infers them (integer columns are ids,
    float columns numeric, funnel and ground-truth columns excluded). max_levels / min_count:
    one-hot levels kept per categorical feature. penalizer: lifelines' L2 penalty, which keeps
    sparse one-hot columns from diverging; None takes the model's `default_penalizer` (Cox 0.1,
    whose Newton steps diverge on rare levels with less; AFT 0.01); "cv" picks it from
    `penalizer_grid` by `cv_folds`-fold cross-validation on the fitted rows (at most `cv_max_rows`
    of them, drawn with `seed`): the largest mean held-out log-likelihood (lifelines' `score`; the
    partial likelihood for Cox), then refits on all fitted rows. `penalizer_` is the one used.
    """

    default_penalizer = 0.01

    def __init__(self, categorical: Optional[Sequence[str]] = None, numeric: Optional[Sequence[str]] = None,
                 max_levels: int = 20, min_count: int = 20, penalizer: Union[None, float, str] = None,
                 max_fit_rows: Optional[int] = 200_000, seed: int = 0,
                 penalizer_grid: Sequence[float] = PENALIZER_GRID, cv_folds: int = 3, cv_max_rows: int = 20_000):
        super().__init__(max_fit_rows=max_fit_rows, seed=seed)
        penalizer = self.default_penalizer if penalizer is None else penalizer
        number = isinstance(penalizer, (int, float)) and not isinstance(penalizer, bool)
        if penalizer != CV and (not number or penalizer < 0):
            raise ValueError(f"penalizer must be a number >= 0, None (the default) or 'cv', got {penalizer!r}.")
        grid = list(penalizer_grid)
        if not grid or any(isinstance(p, bool) or not isinstance(p, (int, float)) or p < 0 for p in grid):
            raise ValueError(f"penalizer_grid must be a non-empty list of numbers >= 0, got {penalizer_grid!r}.")
        for field, value in (("cv_folds", cv_folds), ("cv_max_rows", cv_max_rows)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise ValueError(f"{field} must be an int >= 2, got {value!r}.")
        self.categorical = None if categorical is None else list(categorical)
        self.numeric = None if numeric is None else list(numeric)
        self.max_levels = max_levels
        self.min_count = min_count
        self.penalizer = penalizer if penalizer == CV else float(penalizer)
        self.penalizer_grid, self.cv_folds, self.cv_max_rows = [float(p) for p in grid], cv_folds, cv_max_rows
        self.penalizer_ = None if penalizer == CV else self.penalizer
        self.penalizer_cv: Optional[Dict[str, float]] = None
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
            if self.penalizer == CV:
                self.penalizer_cv = self._cross_validate(design)
                self.penalizer_ = float(max(self.penalizer_cv, key=lambda p: self.penalizer_cv[p]))
            self._read_fitter(self._make_fitter(self.penalizer_).fit(design, _DURATION, _EVENT))

    def _cross_validate(self, design: pd.DataFrame) -> Dict[str, float]:
        """{repr(penalizer): mean held-out log-likelihood per request}; a fold fit that fails scores -inf."""
        rng = np.random.default_rng(self.seed)
        rows = rng.permutation(len(design))[: self.cv_max_rows]
        fold = np.arange(len(rows)) % self.cv_folds
        scores = {}
        for penalizer in self.penalizer_grid:
            total = 0.0
            for k in range(self.cv_folds):
                train, test = design.iloc[rows[fold != k]], design.iloc[rows[fold == k]]
                if not train[_EVENT].any() or not test[_EVENT].any():
                    raise ValueError(f"A penalizer cross-validation fold has no won request; lower cv_folds "
                                     f"({self.cv_folds}) or raise cv_max_rows ({self.cv_max_rows}).")
                try:
                    fitter = self._make_fitter(penalizer).fit(train, _DURATION, _EVENT)
                    total += fitter.score(test, scoring_method="log_likelihood") / self.cv_folds
                except Exception:  # noqa: BLE001 - lifelines raises several types when a fit diverges
                    total = -np.inf
                    break
            scores[repr(penalizer)] = float(total)
        if not np.isfinite(max(scores.values())):
            raise ValueError(f"Every penalizer in penalizer_grid {self.penalizer_grid} failed to fit; add larger ones.")
        return scores

    def _make_fitter(self, penalizer: float):
        """An unfitted lifelines fitter with this L2 penalty."""
        raise NotImplementedError

    def _read_fitter(self, fitter) -> None:
        """Takes the coefficients of a fitted lifelines fitter."""
        raise NotImplementedError

    def linear_predictor(self, frame: pd.DataFrame, beta: np.ndarray, offset=None) -> np.ndarray:
        """(x - offset)·beta per row, by coefficient lookup (no one-hot matrix is built)."""
        shift = 0.0 if offset is None else float(np.dot(offset, beta))
        return self.encoder.dot(frame, beta) - shift

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "categorical": self.categorical, "numeric": self.numeric,
                "max_levels": self.max_levels, "min_count": self.min_count, "penalizer": self.penalizer,
                "penalizer_grid": self.penalizer_grid, "cv_folds": self.cv_folds, "cv_max_rows": self.cv_max_rows}

    def _get_params(self) -> Dict[str, Any]:
        return {"encoder": self.encoder.to_dict(), "penalizer": self.penalizer_, "penalizer_cv": self.penalizer_cv,
                **self._get_coefficients()}

    def _set_params(self, params: Dict[str, Any]) -> None:
        self.encoder = FeatureEncoder.from_dict(params["encoder"])
        self.penalizer_ = params.get("penalizer", self.penalizer_)
        self.penalizer_cv = params.get("penalizer_cv")
        self._set_coefficients(params)

    def _get_coefficients(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _set_coefficients(self, params: Dict[str, Any]) -> None:
        raise NotImplementedError
