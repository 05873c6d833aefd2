"""Streaming calibration ratio mean(pred) / mean(label)."""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


@keras.utils.register_keras_serializable(package="mtl_keras")
class CalibrationRatio(keras.metrics.Metric):
    """Σ w·pred / Σ w·label: 1 when calibrated in aggregate, > 1 when over-predicting.

    Reports 0 (not NaN) while no positive label has been seen, so that progress bars stay finite.
    """

    def __init__(self, name: str = "calibration_ratio", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pred_sum = self.add_weight("pred_sum", initializer="zeros")
        self.label_sum = self.add_weight("label_sum", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        y_pred = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
        weight = tf.ones_like(y_pred) if sample_weight is None else tf.reshape(
            tf.cast(sample_weight, tf.float32), [-1])
        self.pred_sum.assign_add(tf.reduce_sum(weight * y_pred))
        self.label_sum.assign_add(tf.reduce_sum(weight * y_true))

    def result(self):
        return tf.math.divide_no_nan(self.pred_sum, self.label_sum)

    def reset_state(self):
        self.pred_sum.assign(0.0)
        self.label_sum.assign(0.0)
