"""AFTWinModule: a fitted AFT win model as a TensorFlow function P(win | features, bids)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


class AFTWinModule(tf.Module):
    """`__call__(features, bids)`: features a dict of [batch] tensors (categorical int ids, numeric
    floats; extra keys are ignored), bids [batch, num_bids] float32 (> 0) -> [batch, num_bids]
    float32 win probabilities, clipped into [floor, clip]. Computes in float64, like numpy.
    The coefficients are graph constants, so a SavedModel holding it needs nothing else.
    """

    def __init__(self, model, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        super().__init__(name=f"{model.kind}_win_model")
        if not (0.0 <= floor < clip <= 1.0):
            raise ValueError(f"Need 0 <= floor < clip <= 1, got floor={floor!r}, clip={clip!r}.")
        encoder = model.encoder
        check_feature_spec(encoder, feature_spec)
        self._encoder = encoder
        self._formula = model.log_cdf_formula
        self._beta = tf.constant(model.beta[:, None], tf.float64)
        self._intercept = tf.constant(model.intercept, tf.float64)
        self._shape = tf.constant(np.exp(model.log_shape), tf.float64)
        self._floor, self._clip = float(floor), float(clip)
        self.feature_names = list(encoder.categorical) + list(encoder.numeric)

    def input_specs(self):
        """TensorSpecs of the features the module reads (categorical int64, numeric float32)."""
        return input_specs(self._encoder)

    @tf.function
    def __call__(self, features, bids):
        x = self._encoder.tf_transform(features)
        location = tf.matmul(x, self._beta) + self._intercept  # [batch, 1]
        log_bids = tf.math.log(tf.cast(bids, tf.float64))
        p = self._formula(tf, log_bids, location, self._shape)
        return tf.cast(tf.clip_by_value(p, self._floor, self._clip), tf.float32)


def check_feature_spec(encoder, feature_spec) -> None:
    """ValueError naming the win model's features that the serving FeatureSpec lacks (or has as the
    other kind); None skips the check."""
    if feature_spec is None:
        return
    spec_categorical = {f.name for f in feature_spec.categorical}
    spec_numeric = {f.name for f in feature_spec.numeric}
    wrong = [n for n in encoder.categorical if n not in spec_categorical]
    wrong += [n for n in encoder.numeric if n not in spec_numeric]
    if wrong:
        raise ValueError(f"Win-model features {wrong} are not in the FeatureSpec with the same kind "
                         "(categorical/numeric); refit the model on the spec's features.")


def input_specs(encoder):
    """TensorSpecs of an encoder's features (categorical int64, numeric float32), keyed by name."""
    specs = {n: tf.TensorSpec([None], tf.int64, name=n) for n in encoder.categorical}
    specs.update({n: tf.TensorSpec([None], tf.float32, name=n) for n in encoder.numeric})
    return specs
