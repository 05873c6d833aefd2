"""Multi-gate Mixture-of-Experts (Ma et al., KDD 2018)."""
from __future__ import annotations

from typing import Any, Dict, Sequence

import tensorflow as tf
import tf_keras as keras

from mtl_keras.layers import _checks
from mtl_keras.layers.mixture_of_experts import MixtureOfExperts


@keras.utils.register_keras_serializable(package="mtl_keras")
class MMoE(keras.layers.Layer):
    """`num_experts` shared experts (MLPs `expert_units`), one softmax gate per task.

    Call: `inputs` `[batch, d]` -> list of `num_tasks` tensors `[batch, expert_units[-1]]`.
    `call(inputs, return_gate_weights=True)` returns `(outputs, gate_weights)`, `gate_weights` a
    list of `num_tasks` tensors `[batch, num_experts]` (rows sum to 1), for plotting expert usage.
    """

    def __init__(
        self,
        num_experts: int,
        expert_units: Sequence[int],
        num_tasks: int,
        activation: Any = "relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_experts = _checks.int_at_least("MMoE", "num_experts", num_experts, 1)
        self.expert_units = _checks.units_list("MMoE", "expert_units", expert_units)
        self.num_tasks = _checks.int_at_least("MMoE", "num_tasks", num_tasks, 1)
        _, self.activation = _checks.activation("MMoE", activation)

    def build(self, input_shape):
        self.experts = MixtureOfExperts(
            num_tasks=self.num_tasks, num_task_experts=0, num_shared_experts=self.num_experts,
            expert_units=self.expert_units, shared_gate=False, activation=self.activation, name="experts",
            dtype=self.dtype_policy)
        self.experts.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, return_gate_weights: bool = False):
        if return_gate_weights:
            mixed, gate_weights = self.experts(inputs, return_gate_weights=True)
            return tf.unstack(mixed, num=self.num_tasks, axis=1), gate_weights
        return tf.unstack(self.experts(inputs), num=self.num_tasks, axis=1)

    @property
    def output_dim(self) -> int:
        return self.expert_units[-1]

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(num_experts=self.num_experts, expert_units=list(self.expert_units),
                      num_tasks=self.num_tasks, activation=self.activation)
        return config
