"""SharedBottom: one MLP, its output handed to every task."""
import numpy as np
import pytest

import tf_keras as keras

from layers_testing import check_config_roundtrip, check_fit_lowers_loss, check_save_roundtrips
from mtl_keras.layers import SharedBottom

X = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)


def test_hand_computed_values_and_one_tensor_per_task():
    # x = [1, 2]: layer 1 units relu(3) = 3 (x2), layer 2 units 2 * 3 = 6 (x4).
    layer = SharedBottom(units=[2, 4], num_tasks=3)
    x = np.array([[1.0, 2.0]], np.float32)
    layer(x)
    layer.set_weights([np.ones(w.shape) if "kernel" in w.name else np.zeros(w.shape) for w in layer.weights])
    outputs = layer(x)
    assert len(outputs) == 3 and outputs[0] is outputs[1] is outputs[2]
    np.testing.assert_allclose(outputs[0].numpy(), [[6.0] * 4], rtol=1e-6)
    assert layer.output_dim == 4


def test_roundtrips(tmp_path):
    layer = SharedBottom(units=[4, 3], num_tasks=2, activation="elu")
    layer(X)
    check_config_roundtrip(layer, X)
    x = keras.Input((5,))
    check_save_roundtrips(keras.Model(x, SharedBottom(units=[4], num_tasks=2)(x)), X, tmp_path)


def test_fit_step():
    x = keras.Input((5,))
    outputs = SharedBottom(units=[8], num_tasks=2)(x)
    model = keras.Model(x, [keras.layers.Dense(1)(o) for o in outputs])
    inputs = np.random.default_rng(1).normal(size=(32, 5)).astype(np.float32)
    labels = (inputs[:, :1] > 0).astype(np.float32)
    check_fit_lowers_loss(model, inputs, [labels, 1 - labels])


@pytest.mark.parametrize("kwargs, argument", [
    (dict(units=[]), "units"),
    (dict(units=[-4]), "units"),
    (dict(num_tasks=0), "num_tasks"),
    (dict(activation="bogus"), "activation"),
])
def test_invalid_arguments(kwargs, argument):
    arguments = dict(units=[4], num_tasks=2)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        SharedBottom(**arguments)
