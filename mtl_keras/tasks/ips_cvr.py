"""ESCM²-IPS: counterfactual CVR risk over impressions, clicks weighted by 1/pCTR."""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from mtl_keras import losses, names
from mtl_keras.tasks.base import label
from mtl_keras.tasks.cvr import CVRTask


class IPSCVRTask(CVRTask):
    """R_IPS = Σ_i w_i · o_i · e_i / ô_i  /  D.

    o_i = click, e_i = BCE(conversion_i, pCVR_i), ô_i = max(stop_gradient(pCTR_i), propensity_floor),
    1/ô_i capped at weight_clip. D = N (unbiased IPS) or Σ w_i·o_i/ô_i when self_normalize (SNIPS,
    lower variance, 0 for a batch without clicks). w_i is the per-example win weight.

    Defaults: propensity_floor=0.01 and weight_clip=100 bound one click's weight at 100 examples.
    `click_propensity_column`: read ô from that batch column (a known or separately fitted click
    propensity) instead of the model's own pCTR, whose shrinkage under-corrects click selection.
    """

    def __init__(self, name: str = names.CVR, propensity_floor: float = 0.01, weight_clip: float = 100.0,
                 self_normalize: bool = False, click_propensity_column: Optional[str] = None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 < propensity_floor < 1.0:
            raise ValueError(f"{type(self).__name__}: propensity_floor must be in (0, 1), got {propensity_floor}.")
        if not weight_clip >= 1.0:
            raise ValueError(f"{type(self).__name__}: weight_clip must be >= 1, got {weight_clip}.")
        self.propensity_floor = float(propensity_floor)
        self.weight_clip = float(weight_clip)
        self.self_normalize = bool(self_normalize)
        self.click_propensity_column = click_propensity_column

    def click_weights(self, batch, outputs, example_weight) -> tf.Tensor:
        """w_i · o_i / ô_i: zero on unclicked rows."""
        if self.click_propensity_column is None:
            propensity = tf.sigmoid(outputs[names.CTR_LOGIT])
        else:
            propensity = tf.cast(batch[self.click_propensity_column], tf.float32)
        inverse = losses.inverse_propensity(propensity, self.propensity_floor, self.weight_clip)
        return tf.reshape(example_weight, [-1]) * label(batch, names.CLICK) * inverse

    def space_metric_weight(self, weight, mask):
        # Conversions are observed on clicks only: the metrics stay on the clicked rows of the space.
        return tf.reshape(tf.cast(weight, tf.float32), [-1]) * mask

    def denominator(self, click_weights, example_weight) -> tf.Tensor:
        if self.self_normalize:
            return tf.reduce_sum(click_weights)
        return tf.cast(tf.size(tf.reshape(example_weight, [-1])), tf.float32)

    def compute_task_loss(self, batch, outputs, example_weight):
        click_weights = self.click_weights(batch, outputs, example_weight)
        numerator = tf.reduce_sum(click_weights * self.per_example_error(batch, outputs))
        return losses.safe_divide(numerator, self.denominator(click_weights, example_weight))

    def get_config(self):
        return {**super().get_config(), "propensity_floor": self.propensity_floor,
                "weight_clip": self.weight_clip, "self_normalize": self.self_normalize,
                "click_propensity_column": self.click_propensity_column}
