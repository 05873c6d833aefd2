"""NeuralWinModule: a fitted neural win model as a TensorFlow function P(win | features, bids)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtl_keras.propensity.hazard_bins import tf_survival_at
from mtl_keras.propensity.tf_export import check_feature_spec, input_specs


class NeuralWinModule(tf.Module):
    """`__call__(features, bids)`: features a dict of [batch] tensors (categorical int ids, numeric
    floats; extra keys are ignored), bids [batch, num_bids] (> 0) -> [batch, num_bids] float32 win
    probabilities clipped into [floor, clip]. It runs the model's own Keras network (its variables
    are saved with the module), then the same within-bin interpolation as numpy, in float64.
    """

    def __init__(self, model, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        super().__init__(name=f"{model.kind}_win_model")
        if not (0.0 <= floor < clip <= 1.0):
            raise ValueError(f"Need 0 <= floor < clip <= 1, got floor={floor!r}, clip={clip!r}.")
        check_feature_spec(model.encoder, feature_spec)
        self._encoder = model.encoder
        self.network = model.network
        self._input_names = list(model.network.input_names)
        self._edges = tf.constant(np.asarray(model.edges, np.float64))
        self._floor, self._clip = float(floor), float(clip)
        self.feature_names = list(model.encoder.categorical) + list(model.encoder.numeric)

    def input_specs(self):
        """TensorSpecs of the features the module reads (categorical int64, numeric float32)."""
        return input_specs(self._encoder)

    def hazards(self, features):
        """[batch, J] float64 hazards of the model's price bins."""
        inputs = {}
        if "levels" in self._input_names:
            inputs["levels"] = self._encoder.tf_level_ids(features)
        if "numeric" in self._input_names:
            inputs["numeric"] = self._encoder.tf_scaled_numeric(features)
        return tf.sigmoid(tf.cast(self.network(inputs, training=False), tf.float64))

    @tf.function
    def __call__(self, features, bids):
        survival = tf_survival_at(self.hazards(features), self._edges, tf.cast(bids, tf.float64))
        return tf.cast(tf.clip_by_value(1.0 - survival, self._floor, self._clip), tf.float32)
