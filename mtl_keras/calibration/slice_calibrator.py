"""Per-slice calibration shrunk towards a global calibrator by the slice's weighted count."""
from __future__ import annotations

from typing import Optional

import numpy as np

from mtl_keras.calibration import names, validation
from mtl_keras.calibration.registry import calibrator_class
from mtl_keras.calibration.slice_index import SliceIndex
from mtl_keras.calibration.space import CalibrationSpace
from mtl_keras.calibration.validation import DEFAULT_MIN_POSITIVES, DEFAULT_MIN_ROWS, require_key


def _groups(codes: np.ndarray):
    """(code, row indices) for each code >= 0 present, by one sort rather than one pass per code."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], codes.size]):
        if sorted_codes[start] >= 0:
            yield int(sorted_codes[start]), order[start:end]


class SliceCalibrator:
    """A global calibrator f_global plus one calibrator f_s per value s of `field` (e.g. an advertiser).

    Served value for a row of slice s with weighted count n_s (the sum of its sample weights in fit):

        (n_s / (n_s + k)) * f_s(p) + (k / (n_s + k)) * f_global(p),   k = prior_strength

    i.e. the global map acts as a prior worth k rows: a slice of 3 rows stays at the global map, a
    slice of 30,000 (with k = 1000) follows its own. With inverse-propensity sample weights, n_s
    counts target-space rows, in the same unit as k. Both maps are non-decreasing, so the mix is.
    Unseen slices are served f_global, as are slices whose own fit failed (fewer than
    `slice_min_rows` rows or `slice_min_positives` positives, or e.g. a Platt fit on separable
    labels), listed in `fallback` with the reason. `min_rows` / `min_positives` apply to the global
    fit (a ValueError below them); `base_kwargs` go to every calibrator of `base_kind`.
    TF: the slice calibrators are stacked (Platt a, b per slice; knots padded to one length) so one
    tf.function evaluates every row; slice values are found by `SliceIndex` (no table resource).
    """

    kind = names.SLICE

    def __init__(self, field: str, base_kind: str = names.PLATT, prior_strength: float = 1000.0, *,
                 space="impression", weights_description: Optional[str] = None,
                 min_rows: int = DEFAULT_MIN_ROWS, min_positives: int = DEFAULT_MIN_POSITIVES,
                 slice_min_rows: int = 1, slice_min_positives: int = 0, base_kwargs: Optional[dict] = None):
        owner = "SliceCalibrator"
        if not isinstance(field, str) or not field:
            raise ValueError(f"{owner}: field must be a column name, got {field!r}.")
        self.base_class = calibrator_class(base_kind)
        if isinstance(prior_strength, bool) or not isinstance(prior_strength, (int, float)) or \
                not 0.0 <= prior_strength < np.inf:
            raise ValueError(f"{owner}: prior_strength must be a finite number >= 0 (the global map's weight in "
                             f"rows), got {prior_strength!r}.")
        self.field, self.base_kind, self.prior_strength = field, base_kind, float(prior_strength)
        self.space = CalibrationSpace.parse(space).value
        self.weights_description = weights_description
        self.min_rows = validation.check_count_argument(owner, "min_rows", min_rows, minimum=1)
        self.min_positives = validation.check_count_argument(owner, "min_positives", min_positives)
        self.slice_min_rows = validation.check_count_argument(owner, "slice_min_rows", slice_min_rows, minimum=1)
        self.slice_min_positives = validation.check_count_argument(owner, "slice_min_positives", slice_min_positives)
        self.base_kwargs = dict(base_kwargs or {})
        for key in ("space", "weights_description", "min_rows", "min_positives"):
            if key in self.base_kwargs:
                raise ValueError(f"{owner}: set {key!r} on the SliceCalibrator, not in base_kwargs.")
        self.global_calibrator = None
        self.index: Optional[SliceIndex] = None
        self.calibrators, self.counts, self.fallback = [], np.zeros(0), {}

    def _make(self, min_rows: int, min_positives: int):
        return self.base_class(space=self.space, weights_description=self.weights_description,
                               min_rows=min_rows, min_positives=min_positives, **self.base_kwargs)

    def fit(self, probabilities, labels, slice_values, sample_weight=None) -> "SliceCalibrator":
        owner = "SliceCalibrator.fit"
        p, y, w = validation.check_fit_inputs(owner, probabilities, labels, sample_weight)
        if slice_values is None:
            raise ValueError(f"{owner}: slice_values of field {self.field!r} are required. Fix: pass the column.")
        index, codes = SliceIndex.from_values(self.field, slice_values)
        if codes.size != p.size:
            raise ValueError(f"{owner}: slice field {self.field!r} has {codes.size} values but probabilities "
                             f"has {p.size}. Fix: pass one slice value per row.")
        self.global_calibrator = self._make(self.min_rows, self.min_positives).fit(p, y, w)
        if self.weights_description is None:
            self.weights_description = self.global_calibrator.weights_description
        keys, calibrators, counts, self.fallback = [], [], [], {}
        all_keys = index.key_list()
        codes = np.where(w > 0, codes, -1)  # rows of weight 0 count for no slice
        for position, rows in _groups(codes):
            key = all_keys[position]
            try:
                calibrator = self._make(self.slice_min_rows, self.slice_min_positives).fit(p[rows], y[rows], w[rows])
            except ValueError as err:  # too small or degenerate: the slice is served the global map
                self.fallback[str(key)] = str(err)
                continue
            keys.append(key)
            calibrators.append(calibrator)
            counts.append(float(w[rows].sum()))
        self.index = SliceIndex(self.field, keys, index.key_type)
        self.calibrators, self.counts = calibrators, np.asarray(counts, dtype=np.float64)
        return self

    @property
    def fitted(self) -> bool:
        return self.global_calibrator is not None

    def _check_fitted(self, owner: str) -> None:
        if not self.fitted:
            raise ValueError(f"SliceCalibrator.{owner}: the calibrator is not fitted. Fix: call fit() first.")

    def mix_weights(self) -> np.ndarray:
        """n_s / (n_s + k) per fitted slice, in the order of `index.keys`."""
        total = self.counts + self.prior_strength
        return np.divide(self.counts, total, out=np.ones_like(self.counts), where=total > 0)

    def transform(self, probabilities, slice_values) -> np.ndarray:
        self._check_fitted("transform")
        owner = "SliceCalibrator.transform"
        p = validation.check_probabilities(owner, probabilities)
        flat = p.reshape(-1)
        position = self.index.lookup(slice_values)
        if position.size != flat.size:
            raise ValueError(f"{owner}: slice field {self.field!r} has {position.size} values but probabilities "
                             f"has {flat.size}. Fix: pass one slice value per row.")
        out = self.global_calibrator._transform_flat(flat)
        mix = self.mix_weights()
        for s, rows in _groups(position):
            out[rows] = mix[s] * self.calibrators[s]._transform_flat(flat[rows]) + (1.0 - mix[s]) * out[rows]
        return out.reshape(p.shape)

    def tf_transform(self, probabilities, slice_values):
        """`transform` in TF ops; `slice_values` an int or string tensor with one value per probability."""
        import tensorflow as tf

        self._check_fitted("tf_transform")
        p = tf.convert_to_tensor(probabilities)
        dtype = p.dtype if p.dtype.is_floating else tf.float32
        flat = tf.reshape(tf.cast(p, tf.float64), [-1])
        base = self.global_calibrator
        clipped = base.tf_prepare(flat)
        params = {k: tf.constant(v, tf.float64) for k, v in base._params().items()}
        out = base.tf_finish(base._tf_rows(clipped, params), flat)
        if self.calibrators:
            position = self.index.tf_lookup(slice_values)
            safe = tf.maximum(position, 0)
            stacked = self.base_class._stack_params([c._params() for c in self.calibrators])
            rows = {k: tf.gather(tf.constant(v, tf.float64), safe) for k, v in stacked.items()}
            own = base.tf_finish(self.base_class._tf_rows(clipped, rows), flat)
            mix = tf.where(position >= 0, tf.gather(tf.constant(self.mix_weights(), tf.float64), safe),
                           tf.zeros_like(flat))
            out = mix * own + (1.0 - mix) * out
        return tf.cast(tf.reshape(out, tf.shape(p)), dtype)

    def to_dict(self) -> dict:
        self._check_fitted("to_dict")
        return {"kind": self.kind, "field": self.field, "base_kind": self.base_kind,
                "prior_strength": self.prior_strength, "space": self.space,
                "weights_description": self.weights_description, "min_rows": self.min_rows,
                "min_positives": self.min_positives, "slice_min_rows": self.slice_min_rows,
                "slice_min_positives": self.slice_min_positives, "base_kwargs": dict(self.base_kwargs),
                "global": self.global_calibrator.to_dict(), "key_type": self.index.key_type,
                "keys": self.index.key_list(), "counts": self.counts.tolist(),
                "slices": [c.to_dict() for c in self.calibrators], "fallback": dict(self.fallback)}

    @classmethod
    def from_dict(cls, data: dict) -> "SliceCalibrator":
        owner = "SliceCalibrator.from_dict"
        get = lambda key: require_key(owner, data, key, names.SLICE)  # noqa: E731
        if get("kind") != names.SLICE:
            raise ValueError(f"{owner}: the dict holds a {data['kind']!r} calibrator. Fix: use calibrator_from_dict().")
        calibrator = cls(get("field"), get("base_kind"), get("prior_strength"), space=get("space"),
                         weights_description=get("weights_description"), min_rows=get("min_rows"),
                         min_positives=get("min_positives"), slice_min_rows=get("slice_min_rows"),
                         slice_min_positives=get("slice_min_positives"), base_kwargs=get("base_kwargs"))
        keys, slices, counts = get("keys"), get("slices"), get("counts")
        if not len(keys) == len(slices) == len(counts):
            raise ValueError(f"{owner}: 'keys', 'slices' and 'counts' differ in length ({len(keys)}, {len(slices)}, "
                             f"{len(counts)}). Fix: load a dict written by to_dict().")
        base = calibrator.base_class
        calibrator.global_calibrator = base.from_dict(get("global"))
        calibrator.index = SliceIndex(calibrator.field, keys, get("key_type"))
        calibrator.calibrators = [base.from_dict(s) for s in slices]
        calibrator.counts = np.asarray(counts, dtype=np.float64)
        calibrator.fallback = dict(get("fallback"))
        return calibrator

    def __repr__(self) -> str:
        state = f"{len(self.calibrators)} slices" if self.fitted else "not fitted"
        return f"SliceCalibrator(field={self.field!r}, base_kind={self.base_kind!r}, {state})"
