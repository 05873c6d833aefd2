"""StepWinModule: a fitted km, km_segment or cox win model as a TensorFlow function P(win | features, bids)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtl_keras.propensity.encoder import FeatureEncoder
from mtl_keras.propensity.tf_export import check_feature_spec, input_specs


class StepWinModule(tf.Module):
    """`__call__(features, bids)` -> [batch, num_bids] float32 P(win) = 1 - S_g(b-) ** r, clipped into
    [floor, clip], for step survival curves S_g on a price grid: one curve (km), one per segment
    with the global one for other levels (km_segment), or the Cox baseline with r = exp((x - x̄)·β).
    Curves and coefficients are graph constants; computes in float64 like numpy.
    """

    def __init__(self, model, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        super().__init__(name=f"{model.kind}_win_model")
        if not (0.0 <= floor < clip <= 1.0):
            raise ValueError(f"Need 0 <= floor < clip <= 1, got floor={floor!r}, clip={clip!r}.")
        self._kind, self._floor, self._clip = model.kind, float(floor), float(clip)
        if model.kind == "km":
            grid, table = model.times, np.concatenate([[1.0], model.survival])[None, :]
            self._encoder = FeatureEncoder()
        elif model.kind == "cox":
            grid, table = model.times, np.concatenate([[1.0], model.baseline])[None, :]
            self._encoder = model.encoder
            self._beta = tf.constant(model.beta[:, None], tf.float64)
            self._shift = tf.constant(float(np.dot(model.center, model.beta)), tf.float64)
        elif model.kind == "km_segment":
            grid, table = model.grid, model.survival_table()
            is_float = model.edges is not None
            if not is_float and not np.issubdtype(np.asarray(model.levels).dtype, np.integer) and len(model.levels):
                raise ValueError(f"km_segment column {model.column!r} holds non-integer ids; TF export needs int ids.")
            self._encoder = FeatureEncoder([] if is_float else [model.column], [model.column] if is_float else [])
            self._column, self._default_id = model.column, tf.constant(len(model.levels), tf.int64)
            self._levels = np.asarray(model.levels, np.int64)
            self._edges = None if not is_float else tf.constant(model.edges, tf.float64)
        else:
            raise ValueError(f"StepWinModule exports km, km_segment and cox models, not {model.kind!r}; "
                             "use model.to_tf_module().")
        check_feature_spec(self._encoder, feature_spec)
        self._grid = tf.constant(np.asarray(grid, np.float64))
        self._width = int(table.shape[1])
        self._table = tf.constant(np.asarray(table, np.float64).ravel())
        self.feature_names = list(self._encoder.categorical) + list(self._encoder.numeric)

    def input_specs(self):
        """TensorSpecs of the features the module reads (categorical int64, numeric float32)."""
        return input_specs(self._encoder)

    def _segment(self, features):
        """Row of the survival table per request (the last row: the global curve)."""
        if self._kind != "km_segment":
            return None
        values = features[self._column]
        if self._edges is not None:
            values = tf.searchsorted(self._edges, tf.reshape(tf.cast(values, tf.float64), [-1]), side="right",
                                     out_type=tf.int64)
        values = tf.reshape(tf.cast(values, tf.int64), [-1])
        if not len(self._levels):
            return tf.fill(tf.shape(values), self._default_id)
        levels = tf.constant(self._levels, tf.int64)  # np.unique order: sorted
        index = tf.clip_by_value(tf.searchsorted(levels, values, out_type=tf.int64), 0, len(self._levels) - 1)
        return tf.where(tf.equal(tf.gather(levels, index), values), index, tf.fill(tf.shape(index), self._default_id))

    @tf.function
    def __call__(self, features, bids):
        bids = tf.cast(bids, tf.float64)
        batch = tf.shape(bids)[0]
        column = tf.reshape(tf.searchsorted(self._grid, tf.reshape(bids, [-1]), side="left"), tf.shape(bids))
        row = self._segment(features)
        row = tf.zeros([batch], tf.int64) if row is None else row
        survival = tf.gather(self._table, row[:, None] * self._width + tf.cast(column, tf.int64))
        if self._kind == "cox":
            x = self._encoder.tf_transform(features)
            survival = survival ** tf.exp(tf.matmul(x, self._beta) - self._shift)
        return tf.cast(tf.clip_by_value(1.0 - survival, self._floor, self._clip), tf.float32)
