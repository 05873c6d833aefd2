import numpy as np
import pandas as pd
import pytest

from mtl_keras.propensity import FeatureEncoder


def _frame():
    return pd.DataFrame({
        "site": np.array([5, 5, 5, 7, 7, 9], np.int64),
        "device": np.array([0, 1, 0, 1, 0, 1], np.int64),
        "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "flat": [2.0] * 6,
    })


def test_one_hot_of_frequent_levels_with_a_reference_and_standardised_numbers():
    encoder = FeatureEncoder(["site", "device"], ["x", "flat"], max_levels=5, min_count=2).fit(_frame())
    # site 9 is rare (1 < min_count) -> reference; device levels cover all rows -> the less
    # frequent (tie: the larger id after the stable sort by id) is dropped.
    assert encoder.column_names == ["site=5", "site=7", "device=0", "x"]  # flat is constant: dropped
    x = encoder.transform(pd.DataFrame({"site": np.array([5, 9, 3], np.int64), "device": np.array([1, 0, 0], np.int64),
                                        "x": [3.5, 1.0, 6.0], "flat": [0.0, 0.0, 0.0]}))
    std = np.std([1, 2, 3, 4, 5, 6.0])
    np.testing.assert_allclose(x, [[1, 0, 0, 0.0], [0, 0, 1, -2.5 / std], [0, 0, 1, 2.5 / std]])


def test_round_trip_and_tf_agree():
    import mtl_keras  # noqa: F401  (sets up tf_keras before TensorFlow)
    import tensorflow as tf

    frame = _frame()
    encoder = FeatureEncoder(["site", "device"], ["x"], max_levels=5, min_count=1).fit(frame)
    again = FeatureEncoder.from_dict(encoder.to_dict())
    np.testing.assert_array_equal(again.transform(frame), encoder.transform(frame))
    tensors = {"site": tf.constant(frame["site"].to_numpy()), "device": tf.constant(frame["device"].to_numpy()),
               "x": tf.constant(frame["x"].to_numpy(np.float32))}
    np.testing.assert_allclose(encoder.tf_transform(tensors).numpy(), encoder.transform(frame), atol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="x"):
        FeatureEncoder([], ["x"]).fit(_frame().assign(x=[1.0, np.nan, 3, 4, 5, 6]))
    with pytest.raises(ValueError, match="integer ids"):
        FeatureEncoder(["x"], []).fit(_frame())
    with pytest.raises(ValueError, match="missing"):
        FeatureEncoder(["nope"], []).fit(_frame())
    with pytest.raises(ValueError, match="both"):
        FeatureEncoder(["x"], ["x"])


def test_dot_equals_the_design_matrix_product():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"site": rng.integers(0, 30, 2_000), "device": rng.integers(0, 3, 2_000),
                          "x": rng.normal(size=2_000)})
    encoder = FeatureEncoder(["site", "device"], ["x"], max_levels=10, min_count=5).fit(frame)
    beta = rng.normal(size=encoder.num_columns)
    unseen = frame.assign(site=frame["site"] + 25)  # ids 30..54 were never seen: reference level
    for rows in (frame, unseen):
        np.testing.assert_allclose(encoder.dot(rows, beta), encoder.transform(rows) @ beta, atol=1e-12)
    with pytest.raises(ValueError, match="beta"):
        encoder.dot(frame, beta[:-1])
