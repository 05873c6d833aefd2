"""Learned vocabularies in the export: raw strings/ints in, the same ids (and OOV ids) as the library path."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras import data, names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.vocabulary import learn_vocabularies
from serving import names as serving_names
from serving.export import warmup
from serving.export.exporter import export_serving_model
from serving.export.signatures import ServingModule, raw_feature_spec
from serving_fixtures import build_small_model

TRAIN = pd.DataFrame({"site": ["news", "games", "news", "shop", "games", "news"],
                      "slot": [3, 3, 9, 9, 9, 4], "price": [1.0, 2.0, 0.5, 0.0, 1.5, 2.5]})
# Seen values, an unseen string, an unseen int and the empty string.
ROWS = [{"site": "news", "slot": 9, "price": 1.0},
        {"site": "shop", "slot": 3, "price": 0.0},
        {"site": "never-seen", "slot": 4, "price": 2.0},
        {"site": "", "slot": 12345, "price": -1.0},
        {"site": "other-unseen", "slot": -7, "price": 0.5}]


@pytest.fixture(scope="module")
def vocab_spec():
    spec = FeatureSpec(
        categorical=[CategoricalFeature("site", num_oov_buckets=1, embedding_dim=4),
                     CategoricalFeature("slot", num_oov_buckets=3, embedding_dim=4)],
        numeric=[NumericFeature("price")])
    return learn_vocabularies(spec, TRAIN)


@pytest.fixture(scope="module")
def vocab_export(tmp_path_factory, vocab_spec):
    model = build_small_model(vocab_spec, seed=5)
    path = export_serving_model(model, vocab_spec, str(tmp_path_factory.mktemp("vocab_models")), version=1)
    return model, path


def _keras(model, spec, rows):
    arrays = data.to_arrays(pd.DataFrame(rows), spec)
    outputs = model({k: tf.constant(v) for k, v in arrays.items()}, training=False)
    return arrays, {k: outputs[k].numpy().reshape(-1) for k in names.PREDICTION_KEYS}


def test_ids_hand_checked(vocab_spec):
    site, slot = vocab_spec.categorical
    assert site.vocabulary == ("news", "games", "shop") and slot.vocabulary == (9, 3, 4)
    arrays = data.to_arrays(pd.DataFrame(ROWS), vocab_spec)
    np.testing.assert_array_equal(arrays["site"], [1, 3, 0, 0, 0])  # OOV 0, then news 1, games 2, shop 3
    hashed = tf.strings.to_hash_bucket_fast(["12345", "-7"], 3).numpy()
    np.testing.assert_array_equal(arrays["slot"], [3, 4, 5, hashed[0], hashed[1]])  # 3 OOV ids first


def test_raw_signature_takes_raw_values(vocab_export):
    _, path = vocab_export
    loaded = tf.saved_model.load(path)
    raw = loaded.signatures[serving_names.SIGNATURE_PREDICT_RAW].structured_input_signature[1]
    assert {k: v.dtype for k, v in raw.items()} == {"site": tf.string, "slot": tf.int64, "price": tf.float32}


def test_export_maps_raw_values_like_the_library(vocab_export, vocab_spec):
    model, path = vocab_export
    _, want = _keras(model, vocab_spec, ROWS)
    # Unseen values with one OOV bucket are indistinguishable from each other.
    assert want[names.P_CTR][2] != want[names.P_CTR][0]
    loaded = tf.saved_model.load(path)
    spec = raw_feature_spec(vocab_spec)
    assert spec["site"].dtype == tf.string
    examples = warmup.serialize_examples(ROWS, spec)
    assert tf.train.Example.FromString(examples[2]).features.feature["site"].bytes_list.value == [b"never-seen"]
    got = loaded.signatures[serving_names.SERVING_DEFAULT](examples=tf.constant(examples))
    columns = warmup.columns(ROWS, spec)
    got_raw = loaded.signatures[serving_names.SIGNATURE_PREDICT_RAW](**{k: tf.constant(v) for k, v in columns.items()})
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(got[key].numpy(), want[key], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got_raw[key].numpy(), want[key], rtol=1e-6, atol=1e-7)


def test_export_oov_equals_an_explicit_oov_id(vocab_export, vocab_spec):
    """An unseen site served raw scores like the Keras model fed the OOV id 0 directly."""
    model, path = vocab_export
    arrays, _ = _keras(model, vocab_spec, ROWS[:1])
    arrays["site"] = np.array([0], np.int64)
    want = model({k: tf.constant(v) for k, v in arrays.items()}, training=False)[names.P_CTR].numpy().reshape(-1)
    loaded = tf.saved_model.load(path)
    got = loaded.signatures[serving_names.SIGNATURE_PREDICT_RAW](
        site=tf.constant(["brand-new"]), slot=tf.constant([9], tf.int64), price=tf.constant([1.0]))
    np.testing.assert_allclose(got[names.P_CTR].numpy(), want, rtol=1e-6, atol=1e-7)


def test_vocabulary_features_with_a_transform_are_refused(vocab_spec):
    class FakeTransform:
        def transform_features_layer(self):
            return None

        def raw_feature_spec(self):
            return {"site": tf.io.FixedLenFeature([], tf.string)}

    with pytest.raises(ValueError, match="have a vocabulary in the FeatureSpec.*tf.Transform"):
        ServingModule(build_small_model(vocab_spec), vocab_spec, tft_output=FakeTransform())


def test_tf1_session_loader_initialises_the_tables(vocab_export, vocab_spec):
    """TF Serving's C++ loader: graph mode, a Session; the vocabulary tables are initialised on load."""
    model, path = vocab_export
    _, want = _keras(model, vocab_spec, ROWS)
    examples = warmup.serialize_examples(ROWS, raw_feature_spec(vocab_spec))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        sig = meta.signature_def[serving_names.SERVING_DEFAULT]
        got = sess.run(sig.outputs[names.P_CTR].name, {sig.inputs[serving_names.SERVING_INPUT_EXAMPLES].name: examples})
    np.testing.assert_allclose(got, want[names.P_CTR], rtol=1e-6, atol=1e-7)
