"""tf_transform equals transform in eager mode, in a tf.function and in a reloaded SavedModel."""
import os

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import names
from mtl_keras.calibration import (
    HistogramCalibrator, IsotonicCalibrator, MultiTaskCalibration, PlattCalibrator, SliceCalibrator)

SIGNATURE = [tf.TensorSpec([None], tf.float32)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.7, 4000)
    y = (rng.uniform(size=p.size) < 0.8 * p ** 1.2).astype(float)
    w = rng.uniform(0.5, 2.0, p.size)
    slices = rng.integers(0, 5, p.size)  # slice 4 gets 12 rows: a short knot row to pad
    slices[slices == 4] = np.where(np.arange((slices == 4).sum()) < 12, 4, 3)
    return p, y, w, slices


@pytest.fixture(scope="module")
def plain(data):
    p, y, w, _ = data
    return {"isotonic": IsotonicCalibrator().fit(p, y, w),
            "isotonic_endpoints": IsotonicCalibrator(interpolation="endpoints").fit(p, y, w),
            "platt": PlattCalibrator().fit(p, y, w),
            "temperature": PlattCalibrator(temperature=True).fit(p, y, w),
            "histogram": HistogramCalibrator(num_bins=15, min_count=40).fit(p, y, w)}


@pytest.fixture(scope="module")
def sliced(data):
    p, y, w, slices = data
    names_of = np.array(["a", "b", "c", "d", "e"])
    return {"slice_platt": (SliceCalibrator("s", "platt", 300).fit(p, y, slices, w), slices),
            "slice_isotonic": (SliceCalibrator("s", "isotonic", 300).fit(p, y, names_of[slices], w),
                               names_of[slices]),
            "slice_histogram": (SliceCalibrator("s", "histogram", 300, base_kwargs={"min_count": 5}).fit(
                p, y, slices, w), slices)}


def _grid():
    # float32 values, compared with numpy on the same values in float64; ends and knots included.
    return np.concatenate([np.linspace(0, 1, 2001), [0.0, 1.0, 1e-9, 0.5]]).astype(np.float32)


def test_eager_tf_transform_equals_transform(plain):
    p = _grid()
    for name, calibrator in plain.items():
        expected = calibrator.transform(p.astype(np.float64))
        got = calibrator.tf_transform(tf.constant(p.reshape(-1, 1)))
        assert got.dtype == tf.float32 and got.shape == (p.size, 1)
        np.testing.assert_allclose(got.numpy().reshape(-1), expected, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(calibrator.tf_transform(p.astype(np.float64)).numpy(), expected, atol=1e-12)
        assert np.isnan(calibrator.tf_transform(tf.constant([np.nan])).numpy()[0])  # NaN in, NaN out


def test_sliced_tf_transform_equals_transform_for_seen_and_unseen_slices(sliced):
    p = _grid()
    rng = np.random.default_rng(1)
    for name, (calibrator, slices) in sliced.items():
        unseen = np.array(["zz"]) if slices.dtype.kind == "U" else np.array([99])
        values = np.concatenate([slices, unseen])[rng.integers(0, slices.size + 1, p.size)]
        values[:3] = unseen[0]
        expected = calibrator.transform(p.astype(np.float64), values)
        got = calibrator.tf_transform(tf.constant(p), tf.constant(values)).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)


def test_inside_a_tf_function_with_an_input_signature(plain, sliced):
    p = _grid()
    for name, calibrator in plain.items():
        function = tf.function(calibrator.tf_transform, input_signature=SIGNATURE)
        np.testing.assert_allclose(function(p).numpy(), calibrator.transform(p.astype(np.float64)), atol=1e-6)
    calibrator, slices = sliced["slice_isotonic"]
    function = tf.function(calibrator.tf_transform, input_signature=SIGNATURE + [tf.TensorSpec([None], tf.string)])
    values = slices[:p.size] if slices.size >= p.size else np.resize(slices, p.size)
    np.testing.assert_allclose(function(p, values).numpy(), calibrator.transform(p.astype(np.float64), values),
                               atol=1e-6)


def _op_types(path) -> set:
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString(open(os.path.join(path, "saved_model.pb"), "rb").read())
    graph = saved.meta_graphs[0].graph_def
    return {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}


def test_a_saved_model_serves_from_its_graph_alone(plain, sliced, tmp_path):
    module = tf.Module()
    for name, calibrator in plain.items():
        setattr(module, name, tf.function(calibrator.tf_transform, input_signature=SIGNATURE))
    slice_int, ints = sliced["slice_platt"]
    slice_str, strs = sliced["slice_isotonic"]
    with_ints, with_strings = [tf.TensorSpec([None], tf.int64)], [tf.TensorSpec([None], tf.string)]
    module.slice_int = tf.function(slice_int.tf_transform, input_signature=SIGNATURE + with_ints)
    module.slice_str = tf.function(slice_str.tf_transform, input_signature=SIGNATURE + with_strings)
    calibration = MultiTaskCalibration({names.P_CTR: plain["platt"], names.P_CVR: slice_int})

    @tf.function(input_signature=SIGNATURE * 2 + [tf.TensorSpec([None], tf.int64)])
    def multitask(p_ctr, p_cvr, s):
        return calibration.tf_apply({names.P_CTR: p_ctr, names.P_CVR: p_cvr}, {"s": s})

    module.multitask = multitask
    path = str(tmp_path / "model")
    tf.saved_model.save(module, path)
    # No op of the graph calls back into Python: the calibrators are constants and TF ops.
    ops = _op_types(path)
    assert {"UpperBound", "LowerBound", "GatherV2", "Sigmoid"} <= ops  # knot lookups, slice lookup, Platt
    assert not {"PyFunc", "EagerPyFunc", "PyFuncStateless"} & ops
    loaded = tf.saved_model.load(path)
    p = _grid()
    p64 = p.astype(np.float64)
    for name, calibrator in plain.items():
        np.testing.assert_allclose(getattr(loaded, name)(p).numpy(), calibrator.transform(p64), atol=1e-6,
                                   err_msg=name)
    ints, strs = np.resize(ints, p.size), np.resize(strs, p.size)
    np.testing.assert_allclose(loaded.slice_int(p, ints).numpy(), slice_int.transform(p64, ints), atol=1e-6)
    np.testing.assert_allclose(loaded.slice_str(p, strs).numpy(), slice_str.transform(p64, strs), atol=1e-6)
    served = loaded.multitask(p, p[::-1].copy(), ints)
    expected = calibration.apply({names.P_CTR: p64, names.P_CVR: p64[::-1]}, {"s": ints})
    assert set(served) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(served[key].numpy(), value, atol=1e-6, err_msg=key)
