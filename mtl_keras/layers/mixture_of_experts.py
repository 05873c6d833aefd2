"""Experts and softmax gates of one mixture-of-experts block: the single implementation behind MMoE and PLE."""
from __future__ import annotations

import math
from typing import Any, Dict, Sequence

import numpy as np

import tensorflow as tf
import tf_keras as keras

from mtl_keras.layers import _checks


@keras.utils.register_keras_serializable(package="mtl_keras")
class MixtureOfExperts(keras.layers.Layer):
    """One block of experts and per-task softmax gates: an MMoE block, or one CGC level of PLE.

    Experts are MLPs (`expert_units`, `activation` after every layer), ordered as task 0's
    `num_task_experts`, ..., task T-1's, then the `num_shared_experts` shared ones. Each expert
    layer is one stacked kernel `[num_experts_total, in, out]` applied by a single batched matmul
    (the first layer, when every expert reads the same input, by one GEMM over the kernels side by
    side), which is the same maths as a loop of `Dense` layers, one per expert.

    Gate k (a softmax over a linear map of task k's input) mixes task k's experts followed by the
    shared experts. With `shared_gate=True` one more gate, reading the shared input, mixes all
    experts (task experts first): the shared output of a non-final PLE level (Tang et al., 2020).
    MMoE is the case `num_task_experts=0`, `shared_gate=False`.

    Call: `inputs` is `[batch, d]` (read by every expert and gate) or `[batch, num_tasks + 1, d]`
    (task k's experts and gate read `[:, k]`; shared experts and the shared gate read `[:, -1]`).
    Returns `[batch, num_gates, expert_units[-1]]`, `num_gates = num_tasks + shared_gate`, gate
    order as above. With `return_gate_weights=True` returns `(outputs, gate_weights)`, a list of
    `num_gates` tensors: task gates `[batch, num_task_experts + num_shared_experts]`, then the
    shared gate `[batch, num_experts_total]`; each row sums to 1.
    """

    def __init__(
        self,
        num_tasks: int,
        num_task_experts: int,
        num_shared_experts: int,
        expert_units: Sequence[int],
        shared_gate: bool = False,
        activation: Any = "relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.num_tasks = _checks.int_at_least(name, "num_tasks", num_tasks, 1)
        self.num_task_experts = _checks.int_at_least(name, "num_task_experts", num_task_experts, 0)
        self.num_shared_experts = _checks.int_at_least(name, "num_shared_experts", num_shared_experts, 0)
        if num_task_experts + num_shared_experts == 0:
            raise ValueError(
                f"{name}: `num_task_experts` and `num_shared_experts` are both 0, so the gates have no expert "
                "to mix. Fix: make at least one of them >= 1."
            )
        self.expert_units = _checks.units_list(name, "expert_units", expert_units)
        if not isinstance(shared_gate, bool):
            raise ValueError(f"{name}: `shared_gate` must be True or False, received {shared_gate!r}.")
        self.shared_gate = shared_gate
        self._activation, self.activation = _checks.activation(name, activation)
        self.num_experts_total = num_tasks * num_task_experts + num_shared_experts
        self.num_gates = num_tasks + int(shared_gate)
        self.task_gate_size = num_task_experts + num_shared_experts

    def build(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        name = type(self).__name__
        if input_shape.rank == 3 and input_shape[1] == self.num_tasks + 1:
            self._separate_inputs = True
        elif input_shape.rank == 2:
            self._separate_inputs = False
        else:
            raise ValueError(
                f"{name}: inputs must have shape [batch, d] or [batch, num_tasks + 1 = {self.num_tasks + 1}, d], "
                f"received {input_shape}."
            )
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{name}: the last input dimension must be known, received shape {input_shape}.")
        experts = self.num_experts_total
        self.expert_kernels, self.expert_biases = [], []
        fan_in = input_dim
        for i, units in enumerate(self.expert_units):
            # Glorot-uniform per expert (fan_in, fan_out of one expert), as Dense would initialise it.
            limit = math.sqrt(6.0 / (fan_in + units))
            self.expert_kernels.append(self.add_weight(
                name=f"expert_kernel_{i}", shape=(experts, fan_in, units),
                initializer=keras.initializers.RandomUniform(-limit, limit)))
            self.expert_biases.append(self.add_weight(
                name=f"expert_bias_{i}", shape=(experts, units), initializer="zeros"))
            fan_in = units
        limit = math.sqrt(6.0 / (input_dim + self.task_gate_size))
        self.task_gate_kernel = self.add_weight(
            name="task_gate_kernel", shape=(self.num_tasks, input_dim, self.task_gate_size),
            initializer=keras.initializers.RandomUniform(-limit, limit))
        self.task_gate_bias = self.add_weight(
            name="task_gate_bias", shape=(self.num_tasks, self.task_gate_size), initializer="zeros")
        if self.shared_gate:
            limit = math.sqrt(6.0 / (input_dim + experts))
            self.shared_gate_kernel = self.add_weight(
                name="shared_gate_kernel", shape=(input_dim, experts),
                initializer=keras.initializers.RandomUniform(-limit, limit))
            self.shared_gate_bias = self.add_weight(name="shared_gate_bias", shape=(experts,), initializer="zeros")
        self._build_index_maps()
        super().build(input_shape)

    def _build_index_maps(self) -> None:
        tasks, per_task, shared = self.num_tasks, self.num_task_experts, self.num_shared_experts
        # Which input row (task k, or the shared row `tasks`) each expert reads.
        self._expert_input_row = np.array(
            [k for k in range(tasks) for _ in range(per_task)] + [tasks] * shared, dtype=np.int32)
        # Mixing matrix [num_gates, num_experts_total] as positions into the flat gate weights
        # (task gates then the shared gate) with one zero appended: experts a gate does not see get 0.
        size = self.task_gate_size
        zero = tasks * size + (self.num_experts_total if self.shared_gate else 0)
        index = np.full((self.num_gates, self.num_experts_total), zero, dtype=np.int32)
        for k in range(tasks):
            index[k, k * per_task:(k + 1) * per_task] = k * size + np.arange(per_task)
            index[k, tasks * per_task:] = k * size + per_task + np.arange(shared)
        if self.shared_gate:
            index[tasks] = tasks * size + np.arange(self.num_experts_total)
        flat_index = index.reshape(-1)
        # As a 0/1 matrix [flat gate weights, gates * experts]: mixing is a small matmul whose
        # gradient is another matmul, cheaper than gather's gradient (measured: PLE step -20 %).
        selection = np.zeros((zero + 1, index.size), dtype=np.float32)
        selection[flat_index, np.arange(index.size)] = 1.0
        self._mixing_matrix = selection[:zero]

    def call(self, inputs, return_gate_weights: bool = False):
        tasks, experts, size = self.num_tasks, self.num_experts_total, self.task_gate_size
        last = len(self.expert_units) - 1
        if self._separate_inputs:
            rows = tf.transpose(inputs, [1, 0, 2])  # [tasks + 1, batch, d]
            if self.num_task_experts == 0:
                expert_inputs = rows[tasks:]  # broadcast over the shared experts
            else:
                expert_inputs = tf.gather(rows, self._expert_input_row)
            task_logits = tf.transpose(tf.matmul(rows[:tasks], self.task_gate_kernel), [1, 0, 2])
            task_logits = task_logits + self.task_gate_bias
            shared_logits = None
            if self.shared_gate:
                shared_logits = tf.matmul(rows[tasks], self.shared_gate_kernel) + self.shared_gate_bias
            hidden = self._expert_layer(0, tf.matmul(expert_inputs, self.expert_kernels[0]), last == 0)
        else:
            hidden, task_logits, shared_logits = self._first_layer_and_gates(inputs, last == 0)
        for i in range(1, last + 1):
            hidden = self._expert_layer(i, tf.matmul(hidden, self.expert_kernels[i]), i == last)
        # hidden: [batch, experts, units]
        task_weights = tf.nn.softmax(task_logits, axis=-1)  # [batch, tasks, size]
        shared_weights = tf.nn.softmax(shared_logits, axis=-1) if self.shared_gate else None
        if self.num_task_experts == 0:
            # Every gate sees every expert in order: the gate weights are the mixing matrix.
            mixing = task_weights
            if self.shared_gate:
                mixing = tf.concat([task_weights, shared_weights[:, tf.newaxis]], axis=1)
        else:
            flat = [tf.reshape(task_weights, [-1, tasks * size])] + ([shared_weights] if self.shared_gate else [])
            flat_weights = tf.concat(flat, axis=1)
            selection = tf.constant(self._mixing_matrix, dtype=flat_weights.dtype)
            mixing = tf.reshape(tf.matmul(flat_weights, selection), [-1, self.num_gates, experts])
        outputs = tf.matmul(mixing, hidden)  # [batch, gates, experts] x [batch, experts, units]
        if return_gate_weights:
            gate_weights = [task_weights[:, k] for k in range(tasks)]
            return outputs, gate_weights + ([shared_weights] if self.shared_gate else [])
        return outputs

    def _first_layer_and_gates(self, inputs, is_last: bool):
        """One input for everything: the first layer of all experts is one GEMM `[batch, d] x
        [d, experts * units]` (bias and ReLU fuse into it) and all gates are another; per-expert
        batched matmuls over a broadcast input, and their gradients, cost more (measured)."""
        tasks, experts, size = self.num_tasks, self.num_experts_total, self.task_gate_size
        units = self.expert_units[0]
        z = tf.nn.bias_add(tf.matmul(inputs, _side_by_side(self.expert_kernels[0])),
                           tf.reshape(self.expert_biases[0], [-1]))
        hidden = tf.reshape(self._activation(z), [-1, experts, units])
        if not is_last:
            hidden = tf.transpose(hidden, [1, 0, 2])  # [experts, batch, units] for the next batched matmul
        kernels, biases = [_side_by_side(self.task_gate_kernel)], [tf.reshape(self.task_gate_bias, [-1])]
        if self.shared_gate:
            kernels.append(self.shared_gate_kernel)
            biases.append(self.shared_gate_bias)
        logits = tf.nn.bias_add(tf.matmul(inputs, tf.concat(kernels, axis=1)), tf.concat(biases, axis=0))
        task_logits = tf.reshape(logits[:, :tasks * size], [-1, tasks, size])
        return hidden, task_logits, (logits[:, tasks * size:] if self.shared_gate else None)

    def _expert_layer(self, i: int, z, is_last: bool):
        """Bias and activation of expert layer i on `z = [experts, batch, units]`. The last layer
        returns `[batch, experts, units]` (the layout the mixing needs) and adds its bias as a flat
        BiasAdd, whose gradient is cheaper than reducing a broadcast add over the batch."""
        if not is_last:
            return self._activation(z + self.expert_biases[i][:, tf.newaxis, :])
        experts, units = self.num_experts_total, self.expert_units[i]
        flat = tf.reshape(tf.transpose(z, [1, 0, 2]), [-1, experts * units])
        flat = tf.nn.bias_add(flat, tf.reshape(self.expert_biases[i], [-1]))
        return tf.reshape(self._activation(flat), [-1, experts, units])

    @property
    def output_dim(self) -> int:
        return self.expert_units[-1]

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(
            num_tasks=self.num_tasks,
            num_task_experts=self.num_task_experts,
            num_shared_experts=self.num_shared_experts,
            expert_units=list(self.expert_units),
            shared_gate=self.shared_gate,
            activation=self.activation,
        )
        return config


def _side_by_side(kernel):
    """`[n, d, u]` -> `[d, n * u]`, block k = kernel[k]. Concat, not a transpose: oneDNN's
    reorder for these small 3-D transposes cost up to a millisecond (measured)."""
    return tf.concat(tf.unstack(kernel, axis=0), axis=1)
