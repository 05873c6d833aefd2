"""Platt scaling: a weighted logistic regression of the label on logit(p), or its scale alone."""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from mtl_keras.calibration import names
from mtl_keras.calibration.base import Calibrator
from mtl_keras.calibration.validation import require_key

# logit(p) of p in [LOGIT_EPS, 1 - LOGIT_EPS]: finite for inputs of exactly 0 or 1.
LOGIT_EPS = 1e-12
_MAX_ITER = 100
_TOL = 1e-10


def logit_np(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid_np(z: np.ndarray) -> np.ndarray:
    # exp of -|z| only: no overflow warnings for very negative z.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _mean_log_loss(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    # log(1 + e^eta) - y*eta, stably.
    return float(np.sum(w * (np.logaddexp(0.0, eta) - y * eta)) / w.sum())


def newton_logistic(z: np.ndarray, y: np.ndarray, w: np.ndarray, intercept: bool) -> Tuple[np.ndarray, bool]:
    """Weighted maximum likelihood of sigmoid(a*z + b) (b = 0 without `intercept`) by damped Newton.

    Starts at the identity map (a=1, b=0); halves a step that does not lower the loss. Returns
    (theta, converged); theta = (a, b) or (a,).
    """
    design = np.stack([z, np.ones_like(z)], axis=1) if intercept else z[:, None]
    theta = np.zeros(design.shape[1])
    theta[0] = 1.0
    total = w.sum()
    loss = _mean_log_loss(design @ theta, y, w)
    for _ in range(_MAX_ITER):
        q = sigmoid_np(design @ theta)
        gradient = design.T @ (w * (q - y)) / total
        hessian = (design.T * (w * q * (1.0 - q))) @ design / total
        # lstsq: a singular Hessian (all z equal) still gives the minimum-norm step.
        step = np.linalg.lstsq(hessian + 1e-14 * np.eye(theta.size), gradient, rcond=None)[0]
        scale = 1.0
        while scale > 1e-10:
            candidate = theta - scale * step
            new_loss = _mean_log_loss(design @ candidate, y, w)
            if new_loss <= loss + 1e-15:
                break
            scale *= 0.5
        theta, loss = candidate, new_loss
        if np.max(np.abs(scale * step)) < _TOL * (1.0 + np.max(np.abs(theta))):
            return theta, bool(np.all(np.isfinite(theta)))
    return theta, False


class PlattCalibrator(Calibrator):
    """calibrated = sigmoid(a * logit(p) + b), fitted by weighted maximum likelihood (Newton).

    `temperature=True` fits the scale alone (b = 0): temperature scaling, 1/a the temperature, which
    keeps p = 0.5 fixed and changes only how confident the model is. The fit is constrained to
    a >= 0 so the map never reverses the ranking: if the free fit has a < 0 (the model ranks
    backwards on these rows), the constrained optimum a = 0 is kept (b = logit of the weighted rate,
    or 0.5 under `temperature`). Labels separable by p have no finite fit: a ValueError.
    """

    kind = names.PLATT
    _CONFIG_KEYS = ("temperature",)

    def __init__(self, temperature: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(temperature, bool):
            raise ValueError(f"PlattCalibrator: temperature must be True or False, got {temperature!r}.")
        self.temperature = temperature
        self.a = self.b = None

    def _fit(self, p, y, w) -> None:
        z = logit_np(p)
        theta, converged = newton_logistic(z, y, w, intercept=not self.temperature)
        if converged and theta[0] >= 0.0:
            self.a, self.b = float(theta[0]), 0.0 if self.temperature else float(theta[1])
            return
        # Otherwise the optimum under a >= 0 may be on the boundary a = 0 (b: the weighted rate's
        # logit): by convexity it is when the loss does not fall as a grows from 0 there.
        b = 0.0
        if not self.temperature:
            rate = float(np.clip(np.sum(w * y) / w.sum(), LOGIT_EPS, 1.0 - LOGIT_EPS))
            b = float(np.log(rate) - np.log1p(-rate))
        slope = float(np.sum(w * (sigmoid_np(np.full_like(z, b)) - y) * z))
        if converged or slope >= 0.0:
            self.a, self.b = 0.0, b
            return
        raise ValueError(
            f"PlattCalibrator.fit: the logistic fit did not converge (a={theta[0]:.4g}): the labels are "
            f"(nearly) separable by the probabilities on these {y.size} rows, so no finite a, b fits. Fix: "
            "fit on more held-out rows, or use the isotonic or histogram calibrator.")

    def _state(self) -> dict:
        return {"a": self.a, "b": self.b}

    def _set_state(self, data: dict) -> None:
        a = require_key("PlattCalibrator.from_dict", data, "a", self.kind)
        b = require_key("PlattCalibrator.from_dict", data, "b", self.kind)
        if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in (a, b)) or a < 0:
            raise ValueError(f"PlattCalibrator.from_dict: 'a' must be a finite number >= 0 and 'b' finite, got "
                             f"a={a!r}, b={b!r}. Fix: load a dict written by to_dict().")
        self.a, self.b = float(a), float(b)

    def _params(self) -> Dict[str, np.ndarray]:
        return {"a": np.asarray(self.a), "b": np.asarray(self.b)}

    @classmethod
    def _stack_params(cls, params: list) -> Dict[str, np.ndarray]:
        return {key: np.asarray([float(p[key]) for p in params]) for key in ("a", "b")}

    @classmethod
    def _tf_rows(cls, p, params):
        import tensorflow as tf

        p = tf.clip_by_value(p, LOGIT_EPS, 1.0 - LOGIT_EPS)
        z = tf.math.log(p) - tf.math.log1p(-p)
        return tf.math.sigmoid(params["a"] * z + params["b"])

    def _transform_np(self, p: np.ndarray) -> np.ndarray:
        return sigmoid_np(self.a * logit_np(p) + self.b)
