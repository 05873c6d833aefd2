"""Tower: MLP then one logit."""
import numpy as np
import pytest

import tf_keras as keras

from layers_testing import assert_same, check_config_roundtrip, check_fit_lowers_loss, check_save_roundtrips
from mtl_keras.layers import Tower

X = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)


def _constant(layer, x):
    layer(x)
    layer.set_weights([np.ones(w.shape) if "kernel" in w.name else np.zeros(w.shape) for w in layer.weights])


def test_hand_computed_logit():
    # x = [1, 2]: hidden units relu(3) = 3 (x2), then 2 * 3 = 6 (x3), logit 3 * 6 = 18; no sigmoid.
    layer = Tower(units=[2, 3])
    x = np.array([[1.0, 2.0], [-1.0, -2.0]], np.float32)
    _constant(layer, x)
    np.testing.assert_allclose(layer(x).numpy(), [[18.0], [0.0]], rtol=1e-6)


def test_empty_units_is_linear():
    layer = Tower(units=[])
    _constant(layer, X)
    np.testing.assert_allclose(layer(X).numpy(), X.sum(axis=1, keepdims=True), rtol=1e-5)


def test_dropout_only_in_training():
    layer = Tower(units=[64], dropout=0.5)
    x = np.ones((4, 5), np.float32)
    _constant(layer, x)
    # Inference: 64 units of 5 -> 320. Training: inverted dropout keeps about half the units at 10.
    np.testing.assert_allclose(layer(x, training=False).numpy(), 320.0)
    trained = layer(x, training=True).numpy()
    assert trained.shape == (4, 1)
    assert np.all(trained % 10 == 0) and not np.allclose(trained, 320.0)


def test_roundtrips(tmp_path):
    layer = Tower(units=[4, 2], activation="tanh", dropout=0.25)
    layer(X)
    check_config_roundtrip(layer, X)
    x = keras.Input((5,))
    check_save_roundtrips(keras.Model(x, Tower(units=[4], dropout=0.1)(x)), X, tmp_path)


def test_fit_step():
    x = keras.Input((5,))
    model = keras.Model(x, Tower(units=[8])(x))
    inputs = np.random.default_rng(1).normal(size=(32, 5)).astype(np.float32)
    check_fit_lowers_loss(model, inputs, (inputs[:, :1] > 0).astype(np.float32))


@pytest.mark.parametrize("kwargs, argument", [
    (dict(units=[4, 0]), "units"),
    (dict(units="64"), "units"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(dropout=float("nan")), "dropout"),
    (dict(activation="bogus"), "activation"),
])
def test_invalid_arguments(kwargs, argument):
    arguments = dict(units=[4])
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        Tower(**arguments)
