"""MMoE: shapes, hand-computed values, gates, round trips, a fit step and argument errors."""
import numpy as np
import pytest

import tf_keras as keras

from layers_testing import assert_same, check_config_roundtrip, check_fit_lowers_loss, check_save_roundtrips, numpy_mixture
from mtl_keras.layers import MMoE

X = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)


def test_shapes_and_gates_sum_to_one():
    layer = MMoE(num_experts=3, expert_units=[8, 4], num_tasks=2)
    outputs, gates = layer(X, return_gate_weights=True)
    assert [tuple(o.shape) for o in outputs] == [(6, 4), (6, 4)]
    assert [tuple(g.shape) for g in gates] == [(6, 3), (6, 3)]
    for g in gates:
        np.testing.assert_allclose(g.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert layer.output_dim == 4
    assert_same(layer(X), outputs)


def test_matches_numpy_loop():
    layer = MMoE(num_experts=3, expert_units=[8, 4], num_tasks=3)
    outputs, gates = layer(X, return_gate_weights=True)
    expected, expected_gates = numpy_mixture(layer.experts, X)
    assert_same(outputs, [expected[:, k] for k in range(3)], rtol=1e-5, atol=1e-5)
    assert_same(gates, expected_gates, rtol=1e-5, atol=1e-6)


def test_hand_computed_values_with_constant_weights():
    # Ones kernels, zero biases: x = [1, 2] gives layer 1 units 3, layer 2 units 2 * 3 = 6 in every
    # expert; equal gate logits give weights 1/3; task outputs are 6.
    layer = MMoE(num_experts=3, expert_units=[2, 4], num_tasks=2)
    x = np.array([[1.0, 2.0]], np.float32)
    layer(x)
    layer.set_weights([np.ones(w.shape) if "kernel" in w.name else np.zeros(w.shape) for w in layer.weights])
    outputs, gates = layer(x, return_gate_weights=True)
    for o, g in zip(outputs, gates):
        np.testing.assert_allclose(o.numpy(), [[6.0] * 4], rtol=1e-6)
        np.testing.assert_allclose(g.numpy(), [[1 / 3] * 3], rtol=1e-6)


def test_roundtrips(tmp_path):
    layer = MMoE(num_experts=2, expert_units=[4], num_tasks=2, activation="swish")
    layer(X)
    check_config_roundtrip(layer, X)
    check_config_roundtrip(layer, X, return_gate_weights=True)
    x = keras.Input((5,))
    outputs = MMoE(num_experts=2, expert_units=[4, 3], num_tasks=2)(x)
    check_save_roundtrips(keras.Model(x, outputs), X, tmp_path)


def test_fit_step():
    x = keras.Input((5,))
    outputs = MMoE(num_experts=2, expert_units=[8], num_tasks=2)(x)
    logits = [keras.layers.Dense(1, name=f"task_{k}")(o) for k, o in enumerate(outputs)]
    model = keras.Model(x, logits)
    inputs = np.random.default_rng(1).normal(size=(32, 5)).astype(np.float32)
    labels = (inputs[:, :1] > 0).astype(np.float32)
    check_fit_lowers_loss(model, inputs, [labels, 1 - labels])


@pytest.mark.parametrize("kwargs, argument", [
    (dict(num_experts=0), "num_experts"),
    (dict(expert_units=[]), "expert_units"),
    (dict(expert_units=[8, 0]), "expert_units"),
    (dict(expert_units=8), "expert_units"),
    (dict(num_tasks=0), "num_tasks"),
    (dict(activation="bogus"), "activation"),
])
def test_invalid_arguments(kwargs, argument):
    arguments = dict(num_experts=2, expert_units=[4], num_tasks=2)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        MMoE(**arguments)


def test_gate_weights_from_a_functional_model():
    # How a notebook plots expert usage: a model that outputs the gate weights of the same layer.
    x = keras.Input((5,))
    layer = MMoE(num_experts=3, expert_units=[4], num_tasks=2)
    outputs, gates = layer(x, return_gate_weights=True)
    gate_model = keras.Model(x, gates)
    weights = gate_model.predict(X, verbose=0)
    assert [w.shape for w in weights] == [(6, 3), (6, 3)]
    assert_same(weights, layer(X, return_gate_weights=True)[1])
