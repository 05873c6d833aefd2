"""Progressive Layered Extraction (Tang et al., RecSys 2020): stacked CGC levels."""
from __future__ import annotations

from typing import Any, Dict, Sequence

import tensorflow as tf
import tf_keras as keras

from mtl_keras.layers import _checks
from mtl_keras.layers.mixture_of_experts import MixtureOfExperts


@keras.utils.register_keras_serializable(package="mtl_keras")
class PLE(keras.layers.Layer):
    """`num_levels` Customized Gate Control (CGC) levels, each a `MixtureOfExperts`.

    Every level has `num_task_experts` experts per task and `num_shared_experts` shared experts
    (MLPs `expert_units`). Task k's gate mixes task k's experts and the shared experts; in every
    level but the last, a shared gate mixes all experts into the shared input of the next level.
    Level 1 reads `inputs` everywhere; level j > 1 feeds task k's experts and gate with task k's
    output of level j-1 and the shared experts and gate with its shared output.

    Call: `inputs` `[batch, d]` -> list of `num_tasks` tensors `[batch, expert_units[-1]]`.
    `call(inputs, return_gate_weights=True)` returns `(outputs, gate_weights)`: `gate_weights[j]`
    is level j's list of task gates `[batch, num_task_experts + num_shared_experts]` (task experts
    first), followed in non-final levels by the shared gate `[batch, num_tasks * num_task_experts +
    num_shared_experts]`. Rows sum to 1.
    """

    def __init__(
        self,
        num_levels: int,
        num_shared_experts: int,
        num_task_experts: int,
        expert_units: Sequence[int],
        num_tasks: int,
        activation: Any = "relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_levels = _checks.int_at_least("PLE", "num_levels", num_levels, 1)
        self.num_shared_experts = _checks.int_at_least("PLE", "num_shared_experts", num_shared_experts, 0)
        self.num_task_experts = _checks.int_at_least("PLE", "num_task_experts", num_task_experts, 0)
        if num_shared_experts + num_task_experts == 0:
            raise ValueError(
                "PLE: `num_shared_experts` and `num_task_experts` are both 0, so the gates have no expert to "
                "mix. Fix: make at least one of them >= 1 (PLE usually has both)."
            )
        self.expert_units = _checks.units_list("PLE", "expert_units", expert_units)
        self.num_tasks = _checks.int_at_least("PLE", "num_tasks", num_tasks, 1)
        _, self.activation = _checks.activation("PLE", activation)

    def build(self, input_shape):
        self.levels = []
        shape = tf.TensorShape(input_shape)
        for level in range(self.num_levels):
            final = level == self.num_levels - 1
            cgc = MixtureOfExperts(
                num_tasks=self.num_tasks, num_task_experts=self.num_task_experts,
                num_shared_experts=self.num_shared_experts, expert_units=self.expert_units,
                shared_gate=not final, activation=self.activation, name=f"cgc_{level}",
                dtype=self.dtype_policy)
            cgc.build(shape)
            self.levels.append(cgc)
            shape = tf.TensorShape([shape[0], self.num_tasks + 1, self.expert_units[-1]])
        super().build(input_shape)

    def call(self, inputs, return_gate_weights: bool = False):
        hidden, gate_weights = inputs, []
        for cgc in self.levels:
            if return_gate_weights:
                hidden, weights = cgc(hidden, return_gate_weights=True)
                gate_weights.append(weights)
            else:
                hidden = cgc(hidden)
        outputs = tf.unstack(hidden, num=self.num_tasks, axis=1)
        return (outputs, gate_weights) if return_gate_weights else outputs

    @property
    def output_dim(self) -> int:
        return self.expert_units[-1]

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(num_levels=self.num_levels, num_shared_experts=self.num_shared_experts,
                      num_task_experts=self.num_task_experts, expert_units=list(self.expert_units),
                      num_tasks=self.num_tasks, activation=self.activation)
        return config
