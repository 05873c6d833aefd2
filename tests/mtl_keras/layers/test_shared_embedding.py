"""SharedEmbedding: table sharing, hashing, id checks, numeric scaling, round trips."""
import json

import numpy as np
import pytest

import tensorflow as tf
import tf_keras as keras

from layers_testing import assert_same, check_config_roundtrip, check_fit_lowers_loss, check_save_roundtrips
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.layers import SharedEmbedding

SPEC = FeatureSpec(
    categorical=[
        CategoricalFeature("user", vocabulary_size=5, embedding_dim=3),
        CategoricalFeature("site", hash_buckets=7, embedding_dim=2),
        CategoricalFeature("other_user", vocabulary_size=5, embedding_dim=3, shared_table="user"),
        CategoricalFeature("hour", vocabulary_size=4, embedding_dim=3),
    ],
    numeric=[NumericFeature("price", mean=1.0, std=2.0), NumericFeature("age", mean=-1.0, std=0.5)],
)
BATCH = {
    "user": np.array([0, 4, 2], np.int64),
    "site": np.array([[123], [5], [123]], np.int64),
    "other_user": np.array([[1], [2], [0]], np.int32),
    "hour": np.array([3, 0, 1], np.int64),
    "price": np.array([3.0, 5.0, -1.0], np.float32),
    "age": np.array([[0.0], [-1.0], [1.0]], np.float32),
    "ignored_label": np.array([1, 0, 1], np.int64),
}


def _layer_with_row_numbers(spec=SPEC, batch=BATCH):
    """Row r of every embedding variable holds r (+ 0.5 in the second column), so lookups are readable."""
    layer = SharedEmbedding(spec.to_dict())
    layer(batch)
    for variable in layer.weights:
        rows = np.arange(variable.shape[0], dtype=np.float32)[:, None] + np.zeros(variable.shape[1])
        rows[:, 1:] += 0.5
        variable.assign(rows)
    return layer


def _hash(value, buckets):
    return int(tf.strings.to_hash_bucket_fast([str(value)], buckets)[0])


def test_output_columns_tables_and_scaling():
    layer = _layer_with_row_numbers()
    out = layer(BATCH).numpy()
    assert layer.output_dim == 3 + 2 + 3 + 3 + 2 == out.shape[1]
    # Variables: dim 3 holds user (rows 0-4) then hour (rows 5-8); dim 2 holds site (rows 0-6).
    assert sorted(tuple(w.shape) for w in layer.weights) == [(7, 2), (9, 3)]
    row = lambda r, dim: [r] + [r + 0.5] * (dim - 1)  # noqa: E731
    for i in range(3):
        expected = (row(BATCH["user"][i], 3) + row(_hash(BATCH["site"][i, 0], 7), 2)
                    + row(BATCH["other_user"][i, 0], 3)  # same table as user
                    + row(5 + BATCH["hour"][i], 3)
                    + [(BATCH["price"][i] - 1.0) / 2.0, (BATCH["age"][i, 0] + 1.0) / 0.5])
        np.testing.assert_allclose(out[i], expected, rtol=1e-6)
    np.testing.assert_allclose(layer.table("hour").numpy()[:, 0], [5, 6, 7, 8])
    with pytest.raises(ValueError, match="no table"):
        layer.table("nope")
    with pytest.raises(ValueError, match="call it on a batch"):
        SharedEmbedding(SPEC.to_dict()).table("user")


def test_single_dimension_and_string_hashing():
    spec = FeatureSpec(categorical=[CategoricalFeature("a", vocabulary_size=3, embedding_dim=2),
                                    CategoricalFeature("b", hash_buckets=50, embedding_dim=2)])
    layer = _layer_with_row_numbers(spec, {"a": np.array([0]), "b": np.array([0])})
    ints = layer({"a": np.array([2, 0]), "b": np.array([77, 9])}).numpy()
    strings = layer({"a": np.array([2, 0]), "b": tf.constant(["77", "9"])}).numpy()
    np.testing.assert_array_equal(ints, strings)  # an integer id hashes as its decimal string
    np.testing.assert_allclose(ints[:, 0], [2, 0])
    np.testing.assert_allclose(ints[:, 2], [3 + _hash(77, 50), 3 + _hash(9, 50)])


def test_out_of_vocabulary_id_fails_naming_the_feature():
    layer = SharedEmbedding(SPEC.to_dict())
    bad = dict(BATCH, hour=np.array([0, 4, 1], np.int64), user=np.array([0, -1, 2], np.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocabulary_size") as error:
        layer(bad)
    message = str(error.value).split("Call arguments")[0]  # Keras appends the call's inputs
    assert "b'hour'" in message and "b'user'" in message and "other_user" not in message
    # The check is part of the graph too, not only of eager calls.
    model = _model()
    with pytest.raises(tf.errors.InvalidArgumentError, match="hour"):
        model.predict({k: v for k, v in bad.items() if k in SPEC.names}, verbose=0)


def test_bad_inputs_raise_value_errors():
    layer = SharedEmbedding(SPEC.to_dict())
    with pytest.raises(ValueError, match="'hour'.*missing"):
        layer({k: v for k, v in BATCH.items() if k != "hour"})
    with pytest.raises(ValueError, match="'user'.*integer ids"):
        layer(dict(BATCH, user=np.array([0.0, 1.0, 2.0], np.float32)))
    with pytest.raises(ValueError, match="'site'.*integer or string"):
        layer(dict(BATCH, site=np.array([0.5, 1.0, 2.0], np.float32)))
    with pytest.raises(ValueError, match="'hour'.*shape"):
        layer(dict(BATCH, hour=np.zeros((3, 2), np.int64)))
    with pytest.raises(ValueError, match="feature_spec"):
        SharedEmbedding(["user"])
    with pytest.raises(ValueError, match="vocabulary_size or hash_buckets"):
        SharedEmbedding({"categorical": [{"name": "x"}]})


def _model(spec=SPEC):
    inputs = {f.name: keras.Input((), dtype=tf.int64, name=f.name) for f in spec.categorical}
    inputs.update({f.name: keras.Input((1,), dtype=tf.float32, name=f.name) for f in spec.numeric})
    return keras.Model(inputs, keras.layers.Dense(1)(SharedEmbedding(spec)(inputs)))


def test_config_and_save_roundtrips(tmp_path):
    layer = SharedEmbedding(SPEC.to_dict(), embeddings_initializer="glorot_uniform")
    layer(BATCH)
    assert json.loads(json.dumps(layer.get_config()))["feature_spec"] == SPEC.to_dict()
    check_config_roundtrip(layer, BATCH)
    features = {k: v for k, v in BATCH.items() if k in SPEC.names}
    features = {k: v.reshape(-1, 1) if k in ("price", "age") else v.reshape(-1).astype(np.int64)
                for k, v in features.items()}
    check_save_roundtrips(_model(), features, tmp_path)


def test_fit_step():
    spec = FeatureSpec(categorical=[CategoricalFeature("a", vocabulary_size=10, embedding_dim=4),
                                    CategoricalFeature("b", hash_buckets=20, embedding_dim=4)],
                       numeric=[NumericFeature("n")])
    rng = np.random.default_rng(0)
    features = {"a": rng.integers(0, 10, 64), "b": rng.integers(0, 1000, 64), "n": rng.normal(size=(64, 1))}
    labels = (features["a"] >= 5).astype(np.float32)
    check_fit_lowers_loss(_model(spec), features, labels)


def test_numeric_only_spec():
    spec = FeatureSpec(numeric=[NumericFeature("x", mean=2.0, std=4.0)])
    layer = SharedEmbedding(spec.to_dict())
    np.testing.assert_allclose(layer({"x": np.array([[6.0], [2.0]], np.float64)}).numpy(), [[1.0], [0.0]])
    assert layer.output_dim == 1 and not layer.weights


def test_mixed_bfloat16_policy_outputs_compute_dtype():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        out = SharedEmbedding(SPEC.to_dict())(BATCH)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out.dtype == tf.bfloat16 and out.shape == (3, 13)
    np.testing.assert_allclose(out.numpy()[:, -2:].astype(np.float32), [[1.0, 2.0], [2.0, 0.0], [-1.0, 4.0]])


def test_embeddings_l2_penalises_the_looked_up_rows_per_example():
    layer = SharedEmbedding(SPEC.to_dict(), embeddings_l2=0.1)
    out = layer(BATCH)
    # The penalty is 0.1 · mean over the batch of Σ (squared entries of the rows each example looked up),
    # i.e. of the squared categorical part of the output.
    categorical = out.numpy()[:, :3 + 2 + 3 + 3]
    expected = 0.1 * np.mean(np.sum(categorical ** 2, axis=1))
    assert len(layer.losses) == 2  # one per embedding_dim block (3 and 2)
    assert float(tf.add_n(layer.losses)) == pytest.approx(expected, rel=1e-5)
    with tf.GradientTape() as tape:
        layer(BATCH)
        loss = tf.add_n(layer.losses)
    (gradient,) = [g for g in tape.gradient(loss, layer.trainable_weights) if isinstance(g, tf.IndexedSlices)][:1]
    assert isinstance(gradient, tf.IndexedSlices)  # sparse: only the looked-up rows
    assert SharedEmbedding.from_config(layer.get_config()).embeddings_l2 == 0.1
    assert SharedEmbedding(SPEC.to_dict())(BATCH) is not None and not SharedEmbedding(SPEC.to_dict()).losses
    with pytest.raises(ValueError, match="embeddings_l2"):
        SharedEmbedding(SPEC.to_dict(), embeddings_l2=-1.0)
