"""MixtureOfExperts: the batched experts and gates equal a loop of Dense experts."""
import numpy as np
import pytest

import tensorflow as tf
import tf_keras as keras

from layers_testing import assert_same, check_config_roundtrip, check_fit_lowers_loss, check_save_roundtrips, numpy_mixture
from mtl_keras.layers import MixtureOfExperts

# (num_tasks, num_task_experts, num_shared_experts, shared_gate, separate inputs)
CASES = [
    (2, 0, 3, False, False),  # MMoE
    (2, 2, 1, True, False),   # first PLE level
    (3, 1, 2, True, True),    # middle PLE level
    (2, 2, 2, False, True),   # last PLE level
    (2, 1, 0, True, True),    # no shared experts
]


def _layer_and_inputs(tasks, per_task, shared, shared_gate, separate, batch=5, dim=4):
    layer = MixtureOfExperts(tasks, per_task, shared, [6, 3], shared_gate=shared_gate)
    shape = (batch, tasks + 1, dim) if separate else (batch, dim)
    inputs = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    layer(inputs)
    # Non-zero biases so the reference also checks how biases are applied.
    for variable in layer.weights:
        if "bias" in variable.name:
            variable.assign(np.random.default_rng(1).normal(size=variable.shape, scale=0.3))
    return layer, inputs


@pytest.mark.parametrize("case", CASES)
def test_matches_a_loop_of_dense_experts(case):
    layer, inputs = _layer_and_inputs(*case)
    outputs, gates = layer(inputs, return_gate_weights=True)
    expected, expected_gates = numpy_mixture(layer, inputs)
    tasks, per_task, shared, shared_gate, _ = case
    assert outputs.shape == (5, tasks + shared_gate, 3)
    assert [g.shape[1] for g in gates] == [per_task + shared] * tasks + [tasks * per_task + shared] * shared_gate
    assert_same(outputs, expected, rtol=1e-5, atol=1e-5)
    assert_same(gates, expected_gates, rtol=1e-5, atol=1e-6)
    for g in gates:
        np.testing.assert_allclose(g.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert_same(layer(inputs), outputs)


def _matmul_types(layer, spec):
    graph = tf.function(lambda x: layer(x)).get_concrete_function(spec).graph
    return [op.type for op in graph.get_operations() if op.type in ("BatchMatMulV2", "BatchMatMulV3", "MatMul", "Einsum")]


def test_stacked_kernel_is_one_batched_op_per_layer():
    layer, inputs = _layer_and_inputs(2, 2, 2, True, False)
    assert [tuple(k.shape) for k in layer.expert_kernels] == [(6, 4, 6), (6, 6, 3)]
    # One input: first expert layer in one GEMM, both gates in one, layer 2, gate selection,
    # mixing, whatever the number of experts.
    assert len(_matmul_types(layer, tf.TensorSpec([None, 4]))) == 5
    separate, _ = _layer_and_inputs(2, 2, 2, True, True)
    # Separate inputs: 2 expert layers + task gates + shared gate + gate selection + mixing.
    assert len(_matmul_types(separate, tf.TensorSpec([None, 3, 4]))) == 6


def test_hand_computed_values():
    # x sums to 3; expert e has kernels (e + 1) * ones then ones, zero biases:
    # layer 1 units = 3 (e + 1), layer 2 units = 2 * 3 (e + 1) = 6 (e + 1).
    layer = MixtureOfExperts(num_tasks=1, num_task_experts=0, num_shared_experts=2, expert_units=[2, 1])
    x = np.array([[1.0, 2.0]], np.float32)
    layer(x)
    layer.expert_kernels[0].assign(np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))]))
    layer.expert_kernels[1].assign(np.ones((2, 2, 1)))
    layer.task_gate_kernel.assign(np.zeros((1, 2, 2)))
    layer.task_gate_bias.assign([[0.0, np.log(3.0)]])  # gate weights 1/4, 3/4
    outputs, gates = layer(x, return_gate_weights=True)
    np.testing.assert_allclose(gates[0].numpy(), [[0.25, 0.75]], rtol=1e-6)
    np.testing.assert_allclose(outputs.numpy(), [[[0.25 * 6 + 0.75 * 12]]], rtol=1e-6)


def test_config_and_save_roundtrips(tmp_path):
    layer, inputs = _layer_and_inputs(3, 1, 2, True, True)
    check_config_roundtrip(layer, inputs)
    check_config_roundtrip(layer, inputs, return_gate_weights=True)
    x = keras.Input((4, 4))
    model = keras.Model(x, MixtureOfExperts(3, 1, 2, [6, 3], shared_gate=True, activation="gelu")(x))
    check_save_roundtrips(model, inputs, tmp_path)


def test_fit_step():
    x = keras.Input((4,))
    mixed = MixtureOfExperts(2, 1, 1, [8], shared_gate=False)(x)
    model = keras.Model(x, keras.layers.Dense(1)(keras.layers.Flatten()(mixed)))
    inputs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    check_fit_lowers_loss(model, inputs, (inputs[:, :1] > 0).astype(np.float32))


@pytest.mark.parametrize("kwargs, argument", [
    (dict(num_tasks=0), "num_tasks"),
    (dict(num_task_experts=-1), "num_task_experts"),
    (dict(num_shared_experts=1.5), "num_shared_experts"),
    (dict(num_task_experts=0, num_shared_experts=0), "num_shared_experts"),
    (dict(expert_units=[]), "expert_units"),
    (dict(expert_units=[4, -2]), "expert_units"),
    (dict(shared_gate="yes"), "shared_gate"),
    (dict(activation="no_such_activation"), "activation"),
])
def test_invalid_arguments(kwargs, argument):
    arguments = dict(num_tasks=2, num_task_experts=1, num_shared_experts=1, expert_units=[4])
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        MixtureOfExperts(**arguments)


def test_wrong_number_of_input_rows():
    with pytest.raises(ValueError, match="num_tasks"):
        MixtureOfExperts(2, 1, 1, [4])(np.zeros((3, 4, 5), np.float32))


def test_mixed_bfloat16_policy_close_to_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer, inputs = _layer_and_inputs(2, 2, 1, True, True)
        outputs = layer(inputs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert outputs.dtype == tf.bfloat16 and layer.expert_kernels[0].dtype == tf.float32
    expected, _ = numpy_mixture(layer, inputs)
    np.testing.assert_allclose(tf.cast(outputs, tf.float32).numpy(), expected, rtol=0.05, atol=0.05)
