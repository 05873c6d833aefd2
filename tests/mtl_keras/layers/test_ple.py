"""PLE: stacked CGC levels routed as in Tang et al. (2020)."""
import numpy as np
import pytest

import tf_keras as keras

from layers_testing import assert_same, check_config_roundtrip, check_fit_lowers_loss, check_save_roundtrips, numpy_mixture
from mtl_keras.layers import PLE

X = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)


def test_shapes_and_gate_sizes():
    layer = PLE(num_levels=3, num_shared_experts=2, num_task_experts=1, expert_units=[8, 4], num_tasks=2)
    outputs, gates = layer(X, return_gate_weights=True)
    assert [tuple(o.shape) for o in outputs] == [(6, 4), (6, 4)]
    # Non-final levels: 2 task gates over 1 + 2 experts and a shared gate over 2 * 1 + 2.
    assert [[g.shape[1] for g in level] for level in gates] == [[3, 3, 4], [3, 3, 4], [3, 3]]
    for level in gates:
        for g in level:
            np.testing.assert_allclose(g.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert_same(layer(X), outputs)


def test_matches_numpy_levels():
    layer = PLE(num_levels=2, num_shared_experts=1, num_task_experts=2, expert_units=[8, 4], num_tasks=3)
    outputs, gates = layer(X, return_gate_weights=True)
    first, first_gates = numpy_mixture(layer.levels[0], X)  # [b, tasks + 1 (shared), u]
    second, second_gates = numpy_mixture(layer.levels[1], first)
    assert_same(outputs, [second[:, k] for k in range(3)], rtol=1e-4, atol=1e-5)
    assert_same(gates, [first_gates, second_gates], rtol=1e-5, atol=1e-6)


def test_hand_computed_routing():
    # 2 tasks, 1 task expert each, 1 shared expert, units [2]; x = [1, 1] sums to 2.
    # Level 1 kernels 1, 2, 3 (task 0, task 1, shared) * ones -> experts 2, 4, 6 per unit; uniform
    # gates: task 0 (2 + 6) / 2 = 4, task 1 (4 + 6) / 2 = 5, shared (2 + 4 + 6) / 3 = 4.
    # Level 2 kernels ones, ones, 0.5 * ones read [4, 4], [5, 5], [4, 4] -> 8, 10, 4;
    # outputs task 0 (8 + 4) / 2 = 6, task 1 (10 + 4) / 2 = 7.
    layer = PLE(num_levels=2, num_shared_experts=1, num_task_experts=1, expert_units=[2], num_tasks=2)
    x = np.ones((1, 2), np.float32)
    layer(x)
    layer.set_weights([np.zeros(w.shape) for w in layer.weights])
    layer.levels[0].expert_kernels[0].assign(np.stack([c * np.ones((2, 2)) for c in (1, 2, 3)]))
    layer.levels[1].expert_kernels[0].assign(np.stack([c * np.ones((2, 2)) for c in (1, 1, 0.5)]))
    outputs = layer(x)
    np.testing.assert_allclose(outputs[0].numpy(), [[6.0, 6.0]], rtol=1e-6)
    np.testing.assert_allclose(outputs[1].numpy(), [[7.0, 7.0]], rtol=1e-6)


def test_roundtrips(tmp_path):
    layer = PLE(num_levels=2, num_shared_experts=1, num_task_experts=1, expert_units=[4], num_tasks=2)
    layer(X)
    check_config_roundtrip(layer, X)
    check_config_roundtrip(layer, X, return_gate_weights=True)
    x = keras.Input((5,))
    outputs = PLE(num_levels=2, num_shared_experts=2, num_task_experts=1, expert_units=[4, 3], num_tasks=2)(x)
    check_save_roundtrips(keras.Model(x, outputs), X, tmp_path)


def test_fit_step():
    x = keras.Input((5,))
    outputs = PLE(num_levels=2, num_shared_experts=1, num_task_experts=1, expert_units=[8], num_tasks=2)(x)
    model = keras.Model(x, [keras.layers.Dense(1)(o) for o in outputs])
    inputs = np.random.default_rng(1).normal(size=(32, 5)).astype(np.float32)
    labels = (inputs[:, :1] > 0).astype(np.float32)
    check_fit_lowers_loss(model, inputs, [labels, 1 - labels])


@pytest.mark.parametrize("kwargs, argument", [
    (dict(num_levels=0), "num_levels"),
    (dict(num_shared_experts=-1), "num_shared_experts"),
    (dict(num_task_experts=None), "num_task_experts"),
    (dict(num_shared_experts=0, num_task_experts=0), "num_task_experts"),
    (dict(expert_units=[]), "expert_units"),
    (dict(expert_units=[4, -1]), "expert_units"),
    (dict(num_tasks=0), "num_tasks"),
    (dict(activation=3), "activation"),
])
def test_invalid_arguments(kwargs, argument):
    arguments = dict(num_levels=2, num_shared_experts=1, num_task_experts=1, expert_units=[4], num_tasks=2)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        PLE(**arguments)
