"""The shared life of a calibrator: fit on held-out rows, apply in numpy or TF, save as plain data."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from mtl_keras.calibration import validation
from mtl_keras.calibration.space import CalibrationSpace
from mtl_keras.calibration.validation import DEFAULT_MIN_POSITIVES, DEFAULT_MIN_ROWS

DEFAULT_EPS = 1e-6
_COMMON_KEYS = ("space", "weights_description", "eps", "min_rows", "min_positives")


class Calibrator:
    """A monotone non-decreasing map from a model's probability to a calibrated probability.

    Subclasses set `kind`, `_CONFIG_KEYS` (constructor arguments saved with the calibrator) and
    implement `_fit`, `_state`/`_set_state` (fitted parameters as lists), `_params` (numpy arrays
    for TF, stackable per slice with `_stack_params`), `_transform_np` and `_tf_rows`.

    Common arguments: `space` ("impression", "request" or "click_do") and `weights_description`
    record what population the fit was weighted to (see `space_weights`); outputs are clipped to
    [eps, 1 - eps] so that log losses and logits of served values stay finite; `fit` refuses fewer
    than `min_rows` rows (of positive weight) or `min_positives` positive labels.
    `tf_transform` uses TF ops and constants only: inside a tf.function it serves without Python.
    It does not check its input (a serving graph cannot raise per request): NaN gives NaN and
    values outside [0, 1] are clipped, where `transform` raises a ValueError.
    """

    kind = ""
    _CONFIG_KEYS: tuple = ()

    def __init__(self, *, space="impression", weights_description: Optional[str] = None, eps: float = DEFAULT_EPS,
                 min_rows: int = DEFAULT_MIN_ROWS, min_positives: int = DEFAULT_MIN_POSITIVES):
        owner = type(self).__name__
        self.space = CalibrationSpace.parse(space).value
        if weights_description is not None and not isinstance(weights_description, str):
            raise ValueError(f"{owner}: weights_description must be a string or None, got {weights_description!r}.")
        self.weights_description = weights_description
        self.eps = validation.check_eps(owner, eps)
        self.min_rows = validation.check_count_argument(owner, "min_rows", min_rows, minimum=1)
        self.min_positives = validation.check_count_argument(owner, "min_positives", min_positives)
        self.fit_summary: Optional[Dict[str, float]] = None

    # ---- fitting ----

    def fit(self, probabilities, labels, sample_weight=None) -> "Calibrator":
        """Fits on held-out rows; rows of weight 0 are ignored. Returns self."""
        owner = f"{type(self).__name__}.fit"
        p, y, w = validation.check_fit_inputs(owner, probabilities, labels, sample_weight)
        keep = w > 0
        p, y, w = p[keep], y[keep], w[keep]
        validation.check_counts(owner, y, self.min_rows, self.min_positives)
        self._fit(p, y, w)
        self.fit_summary = {"rows": int(y.size), "positives": int(y.sum()), "weight": float(w.sum()),
                            "weighted_positives": float(np.sum(w * y))}
        if self.weights_description is None:
            self.weights_description = "1 (unweighted)" if sample_weight is None else "caller's sample_weight"
        return self

    @property
    def fitted(self) -> bool:
        return self.fit_summary is not None

    def _check_fitted(self, owner: str) -> None:
        if not self.fitted:
            raise ValueError(f"{type(self).__name__}.{owner}: the calibrator is not fitted. Fix: call fit() first, "
                             "or load a fitted one with from_dict().")

    # ---- applying ----

    def transform(self, probabilities) -> np.ndarray:
        """Calibrated probabilities (float64, the input's shape)."""
        self._check_fitted("transform")
        p = validation.check_probabilities(f"{type(self).__name__}.transform", probabilities)
        return self._transform_flat(p.reshape(-1)).reshape(p.shape)

    def _transform_flat(self, p: np.ndarray) -> np.ndarray:
        return np.clip(self._transform_np(p), self.eps, 1.0 - self.eps)

    def tf_transform(self, probabilities):
        """`transform` in TF ops: a tensor of the input's shape and float dtype (float32 for others)."""
        import tensorflow as tf

        self._check_fitted("tf_transform")
        p = tf.convert_to_tensor(probabilities)
        dtype = p.dtype if p.dtype.is_floating else tf.float32
        flat = tf.reshape(tf.cast(p, tf.float64), [-1])
        params = {k: tf.constant(v, tf.float64) for k, v in self._params().items()}
        out = self.tf_finish(self._tf_rows(self.tf_prepare(flat), params), flat)
        return tf.cast(tf.reshape(out, tf.shape(p)), dtype)

    @staticmethod
    def tf_prepare(flat):
        """Inputs clipped to [0, 1], NaN read as 0 so that no lookup index runs off its knots."""
        import tensorflow as tf

        return tf.where(tf.math.is_nan(flat), tf.zeros_like(flat), tf.clip_by_value(flat, 0.0, 1.0))

    def tf_finish(self, out, flat):
        """Clips to [eps, 1 - eps] and passes NaN inputs through as NaN."""
        import tensorflow as tf

        out = tf.clip_by_value(out, self.eps, 1.0 - self.eps)
        return tf.where(tf.math.is_nan(flat), flat, out)

    # ---- saving ----

    def to_dict(self) -> dict:
        """Plain JSON-able data: kind, space, settings, fit summary and the fitted parameters."""
        self._check_fitted("to_dict")
        data = {"kind": self.kind}
        data.update({key: getattr(self, key) for key in _COMMON_KEYS + self._CONFIG_KEYS})
        data["fit_summary"] = dict(self.fit_summary)
        data.update(self._state())
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Calibrator":
        owner = f"{cls.__name__}.from_dict"
        kind = validation.require_key(owner, data, "kind")
        if kind != cls.kind:
            raise ValueError(f"{owner}: the dict holds a {kind!r} calibrator, not {cls.kind!r}. "
                             "Fix: load it with calibrator_from_dict().")
        arguments = {key: validation.require_key(owner, data, key, kind) for key in _COMMON_KEYS + cls._CONFIG_KEYS}
        calibrator = cls(**arguments)
        calibrator._set_state(data)
        calibrator.fit_summary = dict(validation.require_key(owner, data, "fit_summary", kind))
        return calibrator

    # ---- for subclasses ----

    def _fit(self, p: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        raise NotImplementedError

    def _state(self) -> dict:
        raise NotImplementedError

    def _set_state(self, data: dict) -> None:
        raise NotImplementedError

    def _params(self) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    @classmethod
    def _stack_params(cls, params: list) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    @classmethod
    def _tf_rows(cls, p, params):
        raise NotImplementedError

    def _transform_np(self, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "fitted" if self.fitted else "not fitted"
        return f"{type(self).__name__}(space={self.space!r}, {state})"
