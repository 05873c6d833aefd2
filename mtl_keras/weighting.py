"""Task weighting: L_total = Σ_k λ_k L_k, with fixed λ or uncertainty weighting."""
from __future__ import annotations

from typing import Dict, Sequence

import tensorflow as tf
import tf_keras as keras

from mtl_keras.config import WEIGHTINGS


@keras.utils.register_keras_serializable(package="mtl_keras")
class TaskWeighting(keras.layers.Layer):
    """Combines per-task losses.

    method="fixed": Σ λ_k L_k. method="uncertainty" (Kendall, Gal & Cipolla, CVPR 2018, the
    classification form): Σ λ_k (exp(-s_k) L_k + s_k / 2) with a learned s_k = log σ_k² per task,
    initialised at 0 (so it starts equal to fixed weighting plus a constant).
    """

    def __init__(self, task_names: Sequence[str], task_weights: Dict[str, float], method: str = "fixed",
                 **kwargs):
        kwargs.setdefault("dtype", "float32")  # stays float32 under mixed precision
        super().__init__(**kwargs)
        if method not in WEIGHTINGS:
            raise ValueError(f"TaskWeighting: method must be one of {WEIGHTINGS}, got {method!r}.")
        if not task_names:
            raise ValueError("TaskWeighting: task_names is empty; give at least one task.")
        unknown = set(task_weights) - set(task_names)
        if unknown:
            raise ValueError(f"TaskWeighting: task_weights names unknown tasks {sorted(unknown)}; "
                             f"tasks are {list(task_names)}.")
        for task, weight in task_weights.items():
            if not weight >= 0:
                raise ValueError(f"TaskWeighting: weight of task {task!r} must be >= 0, got {weight}.")
        self.task_names = list(task_names)
        self.task_weights = {t: float(task_weights.get(t, 1.0)) for t in self.task_names}
        self.method = method

    def build(self, input_shape=None):
        if self.method == "uncertainty":
            self.log_variances = {
                t: self.add_weight(name=f"log_variance_{t}", shape=(), initializer="zeros")
                for t in self.task_names
            }
        super().build(input_shape)

    def call(self, task_losses: Dict[str, tf.Tensor]) -> tf.Tensor:
        total = tf.constant(0.0)
        for task in self.task_names:
            weight = self.task_weights[task]
            if weight == 0.0:
                continue
            loss = task_losses[task]
            if self.method == "uncertainty":
                s = self.log_variances[task]
                loss = tf.exp(-s) * loss + 0.5 * s
            total = total + weight * loss
        return total

    def get_config(self):
        return {**super().get_config(), "task_names": self.task_names, "task_weights": self.task_weights,
                "method": self.method}
