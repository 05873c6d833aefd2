"""Shared-Bottom: one MLP whose output every task tower reads."""
from __future__ import annotations

from typing import Any, Dict, Sequence

import tf_keras as keras

from mtl_keras.layers import _checks


@keras.utils.register_keras_serializable(package="mtl_keras")
class SharedBottom(keras.layers.Layer):
    """MLP `units` (`activation` after every layer) shared by all tasks.

    Call: `inputs` `[batch, d]` -> list of `num_tasks` references to one `[batch, units[-1]]` tensor,
    so it plugs in wherever MMoE/PLE do.
    """

    def __init__(self, units: Sequence[int], num_tasks: int, activation: Any = "relu", **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.units_list("SharedBottom", "units", units)
        self.num_tasks = _checks.int_at_least("SharedBottom", "num_tasks", num_tasks, 1)
        _, self.activation = _checks.activation("SharedBottom", activation)

    def build(self, input_shape):
        self.dense_layers = []
        for i, width in enumerate(self.units):
            layer = keras.layers.Dense(width, activation=self.activation, name=f"dense_{i}", dtype=self.dtype_policy)
            layer.build(input_shape)
            input_shape = layer.compute_output_shape(input_shape)
            self.dense_layers.append(layer)
        super().build(input_shape)

    def call(self, inputs):
        hidden = inputs
        for layer in self.dense_layers:
            hidden = layer(hidden)
        return [hidden] * self.num_tasks

    @property
    def output_dim(self) -> int:
        return self.units[-1]

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(units=list(self.units), num_tasks=self.num_tasks, activation=self.activation)
        return config
