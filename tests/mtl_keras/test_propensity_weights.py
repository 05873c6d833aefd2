"""The weight formula's TF and numpy forms agree, and the callers use it."""
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import losses, propensity_weights as pw
from mtl_keras.tasks import WinPropensityWeights


def _propensities(seed: int, n: int = 4096) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.random(n).astype(np.float32)
    p[: n // 8] *= 0.05  # below the floors used here
    p[n // 8: n // 4] = 0.0
    p[n // 4: n // 4 + 16] = 1.0
    return rng.permutation(p)


@pytest.mark.parametrize("floor,clip", [(0.05, 20.0), (0.01, 60.0), (0.3, 2.5), (1.0, 1.0), (0.001, 100.0)])
@pytest.mark.parametrize("self_normalize", [False, True])
def test_tf_and_numpy_forms_are_equal(floor, clip, self_normalize):
    for seed in range(3):
        p = _propensities(seed)
        got_tf = pw.propensity_weights_tf(p, floor, clip, self_normalize).numpy()
        got_np = pw.propensity_weights_np(p, floor, clip, self_normalize)
        assert got_np.dtype == np.float32 == got_tf.dtype
        if self_normalize:  # the means are summed in different orders
            np.testing.assert_allclose(got_tf, got_np, rtol=1e-6)
        else:
            np.testing.assert_array_equal(got_tf, got_np)
        assert got_np.max() <= clip * (got_np.mean() if self_normalize else 1) * (1 + 1e-6)


def test_hand_checked_numbers():
    p = [0.5, 0.02, 0.001, 0.0, 1.0, 0.25]
    expected = [2.0, 50.0, 60.0, 60.0, 1.0, 4.0]  # floor 0.01, clip 60
    np.testing.assert_allclose(pw.inverse_propensity_np(p, 0.01, 60.0), expected)
    np.testing.assert_allclose(pw.inverse_propensity_tf(p, 0.01, 60.0).numpy(), expected)
    normalised = np.array(expected) / np.mean(expected)  # mean 177/6 = 29.5
    np.testing.assert_allclose(pw.propensity_weights_np(p, 0.01, 60.0, True), normalised)
    np.testing.assert_allclose(pw.propensity_weights_tf(p, 0.01, 60.0, True).numpy(), normalised, rtol=1e-6)
    assert pw.inverse_propensity_np([0, 1], 0.5, 3.0).dtype == np.float64  # ints are computed in float64


def test_numpy_form_keeps_the_shape_and_normalises_the_last_axis():
    p = np.array([[0.5, 0.25], [0.1, 0.1]])
    np.testing.assert_allclose(pw.propensity_weights_np(p, 0.05, 20.0, True), [[2 / 3, 4 / 3], [1.0, 1.0]])


def test_callers_use_the_formula():
    p = _propensities(7, 512)
    np.testing.assert_array_equal(losses.inverse_propensity(p, 0.05, 20.0).numpy(),
                                  pw.inverse_propensity_np(p, 0.05, 20.0))
    layer = WinPropensityWeights(floor=0.05, clip=20.0, self_normalize=True)
    np.testing.assert_allclose(layer(tf.constant(p[:, None])).numpy(), pw.propensity_weights_np(p, 0.05, 20.0, True),
                               rtol=1e-6)
    plain = WinPropensityWeights(floor=0.3, clip=2.5, self_normalize=False)
    np.testing.assert_array_equal(plain(tf.constant(p)).numpy(), pw.inverse_propensity_np(p, 0.3, 2.5))
