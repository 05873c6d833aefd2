"""Base class of the tasks: each task owns its loss and its metrics."""
from __future__ import annotations

from typing import Dict

import tensorflow as tf
import tf_keras as keras

from mtl_keras import sample_spaces
from mtl_keras.metrics import CalibrationRatio, ExpectedCalibrationError


class Task(keras.layers.Layer):
    """A task computes one loss L_k from a batch and the model's outputs and updates its metrics.

    Subclasses implement `compute_task_loss` and `metric_inputs`. A batch may carry the task's
    sample-space mask (`mtl_keras.sample_spaces.mask_column`): the model has folded it into
    `example_weight`, and the metrics are computed on its rows. Metrics are named
    `<name>_auc`, `<name>_log_loss`, `<name>_ece`, `<name>_calibration_ratio`.
    """

    def __init__(self, name: str, num_calibration_bins: int = 10, auc_thresholds: int = 200, **kwargs):
        kwargs.setdefault("dtype", "float32")  # losses stay float32 under mixed precision
        super().__init__(name=name, **kwargs)
        if num_calibration_bins < 1:
            raise ValueError(f"Task {name!r}: num_calibration_bins must be >= 1, got {num_calibration_bins}.")
        if auc_thresholds < 2:
            raise ValueError(f"Task {name!r}: auc_thresholds must be >= 2, got {auc_thresholds}.")
        self.num_calibration_bins = num_calibration_bins
        self.auc_thresholds = auc_thresholds
        self.auc = keras.metrics.AUC(num_thresholds=auc_thresholds, name=f"{name}_auc")
        self.log_loss = keras.metrics.BinaryCrossentropy(name=f"{name}_log_loss")
        self.ece = ExpectedCalibrationError(num_bins=num_calibration_bins, name=f"{name}_ece")
        self.calibration_ratio = CalibrationRatio(name=f"{name}_calibration_ratio")

    def compute_task_loss(self, batch: Dict[str, tf.Tensor], outputs: Dict[str, tf.Tensor],
                          example_weight: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def metric_inputs(self, batch: Dict[str, tf.Tensor], outputs: Dict[str, tf.Tensor]):
        """Returns (labels, probabilities, sample_weight or None) for the metrics."""
        raise NotImplementedError

    def space_metric_weight(self, weight, mask) -> tf.Tensor:
        """Metric weights on a task with a sample-space mask: the mask's rows replace the default ones."""
        return mask

    def call(self, batch, outputs, example_weight, compute_metrics: bool = True, metric_weight=None):
        """`metric_weight` [batch] (ModelConfig.weighted_metrics): multiplies the metrics' own weights."""
        if compute_metrics:
            labels, probs, weight = self.metric_inputs(batch, outputs)
            mask = space_mask(batch, self.name)
            if mask is not None:
                weight = self.space_metric_weight(weight, mask)
            if metric_weight is not None:
                metric_weight = tf.reshape(tf.cast(metric_weight, tf.float32), [-1])
                if weight is not None:
                    metric_weight = tf.reshape(tf.cast(weight, tf.float32), [-1]) * metric_weight
                weight = metric_weight
            # [batch, 1]: Keras's BinaryCrossentropy metric averages over the last axis.
            labels = tf.reshape(tf.cast(labels, tf.float32), [-1, 1])
            probs = tf.reshape(probs, [-1, 1])
            if weight is not None:
                weight = tf.reshape(tf.cast(weight, tf.float32), [-1])
            for metric in (self.auc, self.log_loss, self.ece, self.calibration_ratio):
                metric.update_state(labels, probs, sample_weight=weight)
        return self.compute_task_loss(batch, outputs, example_weight)

    def get_config(self):
        return {**super().get_config(), "num_calibration_bins": self.num_calibration_bins,
                "auc_thresholds": self.auc_thresholds}


def space_mask(batch: Dict[str, tf.Tensor], task: str):
    """Task's 0/1 sample-space mask [batch] (mtl_keras.sample_spaces), or None: the task's default rows."""
    mask = batch.get(sample_spaces.mask_column(task))
    return None if mask is None else tf.reshape(tf.cast(mask, tf.float32), [-1])


def label(batch: Dict[str, tf.Tensor], column: str) -> tf.Tensor:
    return tf.reshape(tf.cast(batch[column], tf.float32), [-1])
