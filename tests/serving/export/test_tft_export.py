"""Exports with the tf.Transform graph inside: raw tf.Examples in, labels not needed, assets saved."""
import os
import shutil

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import metadata_io
from tensorflow_transform.tf_metadata.dataset_metadata import DatasetMetadata

from mtl_keras import names
from serving.export import warmup
from serving.export.exporter import export_serving_model
from serving.server.servable import Servable
from serving.export.signatures import raw_feature_spec
from serving_fixtures import build_small_model, sample_rows
from transform.feature_spec import transformed_feature_spec
from transform.config import TransformConfig
from transform.preprocessing import make_preprocessing_fn
from serving import names as serving_names

RAW_SPEC = {
    "user_id": tf.io.FixedLenFeature([], tf.int64),
    "ad_id": tf.io.FixedLenFeature([], tf.int64),
    "price": tf.io.VarLenFeature(tf.float32),  # the schema lets it be missing: the transform imputes it
    names.CLICK: tf.io.FixedLenFeature([], tf.int64),
}


@pytest.fixture(scope="module")
def tft_export(tmp_path_factory, spec):
    tmp = tmp_path_factory.mktemp("tft")
    rows = [{**r, "price": [r["price"]], names.CLICK: i % 2} for i, r in enumerate(sample_rows(40, seed=2))]
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(tmp / "beam_tmp")):
        data = pipeline | beam.Create(rows)
        transform_fn = (data, DatasetMetadata.from_feature_spec(RAW_SPEC)) | tft_beam.AnalyzeDataset(
            make_preprocessing_fn(spec)
        )
        _ = transform_fn | tft_beam.WriteTransformFn(str(tmp / "transform_output"))
    # TFX's Transform writes the raw metadata too; serving reads its parse spec from there.
    metadata_io.write_metadata(
        DatasetMetadata.from_feature_spec(RAW_SPEC),
        str(tmp / "transform_output" / tft.TFTransformOutput.RAW_METADATA_DIR),
    )
    tft_output = tft.TFTransformOutput(str(tmp / "transform_output"))
    model_spec = transformed_feature_spec(spec, TransformConfig(), tft_output)
    model = build_small_model(model_spec, seed=3)
    path = export_serving_model(
        model, model_spec, str(tmp / "models"), tft_output_dir=str(tmp / "transform_output"),
        warmup_examples=sample_rows(2),
    )
    return tmp, tft_output, model, path


@pytest.mark.slow
def test_raw_examples_go_through_the_transform_inside(tft_export):
    tmp, tft_output, model, path = tft_export
    rows = sample_rows(6, seed=30) + [{"user_id": 5, "ad_id": 999, "price": 1.0}]  # ad 999: an OOV id
    serving_spec = {k: v for k, v in RAW_SPEC.items() if k != names.CLICK}
    no_price = tf.train.Example(features=tf.train.Features(feature={
        "user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[7])),
        "ad_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[3])),
    })).SerializeToString()  # price missing: allowed by its VarLen spec, imputed by the transform
    examples = warmup.serialize_examples(rows, serving_spec) + [no_price]
    n = len(rows)
    reference_inputs = {
        "user_id": tf.constant([r["user_id"] for r in rows] + [7], tf.int64),
        "ad_id": tf.constant([r["ad_id"] for r in rows] + [3], tf.int64),
        "price": tf.SparseTensor([[i, 0] for i in range(n)], tf.constant([r["price"] for r in rows], tf.float32),
                                 [n + 1, 1]),
    }
    want = model(tft_output.transform_features_layer()(reference_inputs), training=False)
    assert sorted(raw_feature_spec(None, tft_output)) == ["ad_id", "price", "user_id"]  # no click
    shutil.rmtree(tmp / "transform_output")  # the export must carry its vocabularies
    assert os.listdir(os.path.join(path, "assets"))  # the vocabulary files were saved with it
    servable = Servable("ctr", 1, path)  # TF1 session loader: initialises the tables from the assets
    assert sorted(servable.input_dtypes(serving_names.SIGNATURE_PREDICT_RAW)) == ["ad_id", "price", "user_id"]
    got = servable.predict(serving_names.SERVING_DEFAULT, {serving_names.SERVING_INPUT_EXAMPLES: np.asarray(examples, object)})
    raw = servable.predict(serving_names.SIGNATURE_PREDICT_RAW, warmup.columns(rows, serving_spec))
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(got[key], want[key].numpy().reshape(-1), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(raw[key], got[key][:n], rtol=1e-6)
    assert servable.run_warmup() == 2
    servable.unload()
