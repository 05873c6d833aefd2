"""Streaming expected calibration error over equal-mass bins."""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


@keras.utils.register_keras_serializable(package="mtl_keras")
class ExpectedCalibrationError(keras.metrics.Metric):
    """ECE = Σ_b (n_b / N) |mean pred_b - mean label_b| over `num_bins` equal-mass bins.

    Equal-mass bins need the sorted predictions of the whole epoch. Instead of keeping them, the
    metric accumulates weight, Σpred and Σlabel on `num_fine_bins` fine bins, uniform in logit over
    [-`logit_range`, `logit_range`], and merges consecutive fine bins into equal-mass bins at the
    end. That is exact up to rows that share a fine bin across an equal-mass boundary (a fine bin
    spans at most 0.25·2·logit_range/num_fine_bins in probability).
    """

    def __init__(self, num_bins: int = 10, num_fine_bins: int = 2000, logit_range: float = 12.0,
                 name: str = "ece", **kwargs):
        super().__init__(name=name, **kwargs)
        if num_bins < 1:
            raise ValueError(f"ExpectedCalibrationError: num_bins must be >= 1, got {num_bins}.")
        if num_fine_bins < num_bins:
            raise ValueError(
                f"ExpectedCalibrationError: num_fine_bins ({num_fine_bins}) must be >= num_bins ({num_bins})."
            )
        if not logit_range > 0:
            raise ValueError(f"ExpectedCalibrationError: logit_range must be > 0, got {logit_range}.")
        self.num_bins, self.num_fine_bins, self.logit_range = num_bins, num_fine_bins, float(logit_range)
        self.mass = self.add_weight("mass", shape=[num_fine_bins], initializer="zeros")
        self.pred_sum = self.add_weight("pred_sum", shape=[num_fine_bins], initializer="zeros")
        self.label_sum = self.add_weight("label_sum", shape=[num_fine_bins], initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        y_pred = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
        weight = tf.ones_like(y_pred) if sample_weight is None else tf.reshape(
            tf.cast(sample_weight, tf.float32), [-1])
        p = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        logit = tf.math.log(p) - tf.math.log1p(-p)
        scaled = (logit + self.logit_range) / (2.0 * self.logit_range) * self.num_fine_bins
        index = tf.clip_by_value(tf.cast(tf.floor(scaled), tf.int32), 0, self.num_fine_bins - 1)
        n = self.num_fine_bins
        self.mass.assign_add(tf.math.unsorted_segment_sum(weight, index, n))
        self.pred_sum.assign_add(tf.math.unsorted_segment_sum(weight * y_pred, index, n))
        self.label_sum.assign_add(tf.math.unsorted_segment_sum(weight * y_true, index, n))

    def result(self):
        total = tf.reduce_sum(self.mass)
        midpoints = tf.cumsum(self.mass) - 0.5 * self.mass
        group = tf.cast(tf.math.floor(tf.math.divide_no_nan(midpoints * self.num_bins, total)), tf.int32)
        group = tf.clip_by_value(group, 0, self.num_bins - 1)
        gap = tf.math.unsorted_segment_sum(self.pred_sum - self.label_sum, group, self.num_bins)
        return tf.math.divide_no_nan(tf.reduce_sum(tf.abs(gap)), total)

    def reset_state(self):
        for variable in (self.mass, self.pred_sum, self.label_sum):
            variable.assign(tf.zeros_like(variable))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "num_fine_bins": self.num_fine_bins,
                "logit_range": self.logit_range}
