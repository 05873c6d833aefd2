import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import losses


def np_bce(y, p):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_bce_from_log_prob_matches_numpy_and_stays_finite_for_tiny_probabilities():
    y = np.array([1.0, 0.0, 1.0, 0.0], np.float32)
    p = np.array([0.3, 0.3, 1e-6, 0.9], np.float64)
    got = losses.bce_from_log_prob(y, np.log(p).astype(np.float32)).numpy()
    np.testing.assert_allclose(got, np_bce(y, p), rtol=1e-4)
    extreme = losses.bce_from_log_prob([1.0, 0.0], [-200.0, 0.0]).numpy()
    assert np.all(np.isfinite(extreme)) and extreme[0] == pytest.approx(200.0)


def test_inverse_propensity_floors_and_clips():
    got = losses.inverse_propensity([0.5, 0.02, 0.001], floor=0.01, clip=60.0).numpy()
    np.testing.assert_allclose(got, [2.0, 50.0, 60.0])


def test_weighted_mean_self_normalised_and_plain_and_empty():
    assert losses.weighted_mean([1.0, 3.0], [1.0, 3.0]).numpy() == pytest.approx(10 / 4)
    assert losses.weighted_mean([1.0, 3.0], [1.0, 3.0], self_normalize=False).numpy() == pytest.approx(10 / 2)
    assert losses.weighted_mean([1.0, 3.0], [0.0, 0.0]).numpy() == 0.0


def test_inverse_propensity_blocks_gradients():
    p = tf.Variable([0.5, 0.2])
    with tf.GradientTape() as tape:
        w = tf.reduce_sum(losses.inverse_propensity(p, 0.01, 100.0))
    assert tape.gradient(w, p) is None
