"""A SavedModel that runs the transform graph keeps working once the Transform output is deleted."""
import shutil

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
import tf_keras as keras
from tensorflow_transform.tf_metadata.dataset_metadata import DatasetMetadata

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from transform.config import TransformConfig
from transform.feature_spec import transformed_feature_spec
from transform.preprocessing import make_preprocessing_fn

SPEC = FeatureSpec(categorical=[CategoricalFeature("ad", vocabulary_size=100)], numeric=[NumericFeature("price")])
RAW_SPEC = {
    "ad": tf.io.FixedLenFeature([], tf.int64),
    "price": tf.io.FixedLenFeature([], tf.float32),
    names.CLICK: tf.io.FixedLenFeature([], tf.int64),
}


def _example(ad, price):
    return tf.train.Example(features=tf.train.Features(feature={
        "ad": tf.train.Feature(int64_list=tf.train.Int64List(value=[ad])),
        "price": tf.train.Feature(float_list=tf.train.FloatList(value=[price])),
    })).SerializeToString()


def test_serving_model_survives_deleting_the_transform_output(tmp_path):
    rows = [{"ad": a, "price": p, names.CLICK: c} for a, p, c in [(5, 1.0, 1), (5, 2.0, 0), (7, 3.0, 0), (9, 6.0, 1)]]
    tft_dir = tmp_path / "transform_output"
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(tmp_path / "tmp")):
        data = pipeline | beam.Create(rows)
        transform_fn = (data, DatasetMetadata.from_feature_spec(RAW_SPEC)) | tft_beam.AnalyzeDataset(
            make_preprocessing_fn(SPEC)
        )
        _ = transform_fn | tft_beam.WriteTransformFn(str(tft_dir))

    tft_output = tft.TFTransformOutput(str(tft_dir))
    model_spec = transformed_feature_spec(SPEC, TransformConfig(), tft_output)
    assert model_spec.categorical[0].vocabulary_size == 3 + 1  # ids 5, 7, 9 and one OOV bucket

    ad = keras.Input(shape=(), dtype=tf.int64, name="ad")
    price = keras.Input(shape=(), dtype=tf.float32, name="price")
    embedded = keras.layers.Embedding(model_spec.categorical[0].vocabulary_size, 4)(ad)
    hidden = keras.layers.Concatenate()([embedded, keras.layers.Reshape((1,))(price)])
    model = keras.Model({"ad": ad, "price": price}, keras.layers.Dense(1, activation="sigmoid")(hidden))
    # Attached so that the vocabulary assets are saved with the model (DESIGN.md, known pitfalls).
    model.tft_layer = tft_output.transform_features_layer()
    serving_spec = {k: v for k, v in RAW_SPEC.items() if k not in names.LABEL_COLUMNS}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(examples):
        transformed = model.tft_layer(tf.io.parse_example(examples, serving_spec))
        return {names.P_CTR: model(transformed), "ad_id": transformed["ad"], "price_z": transformed["price"]}

    export_dir = tmp_path / "export"
    tf.saved_model.save(model, str(export_dir), signatures={"serving_default": serve})
    batch = tf.constant([_example(5, 1.0), _example(7, 3.0), _example(9, 6.0), _example(42, 3.0)])
    before = serve(batch)
    shutil.rmtree(tft_dir)

    after = tf.saved_model.load(str(export_dir)).signatures["serving_default"](examples=batch)
    # Vocabulary by count then id: 5 -> 0, 9 -> 1, 7 -> 2; 42 was never seen -> OOV bucket 3.
    np.testing.assert_array_equal(after["ad_id"].numpy(), [0, 2, 1, 3])
    std = np.std([1.0, 2.0, 3.0, 6.0])
    np.testing.assert_allclose(after["price_z"].numpy(), (np.array([1.0, 3.0, 6.0, 3.0]) - 3.0) / std, rtol=1e-5)
    np.testing.assert_allclose(after[names.P_CTR].numpy(), before[names.P_CTR].numpy(), rtol=1e-6)
    assert np.all((after[names.P_CTR].numpy() > 0) & (after[names.P_CTR].numpy() < 1))
