"""Bad data stop the pipeline at the validation gate, naming the columns, and push nothing."""
import os

import pytest
import tensorflow as tf

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.simulation import feature_spec, simulate_frame
from tfx_pipeline import pipeline as p
from tfx_pipeline import run_summary
from tfx_pipeline.components.gate import schema_problems
from tfx_pipeline.local_runner import run_local
from tfx_pipeline.pipeline import beam_args, create_pipeline
from tfx_pipeline.presets import Workdir, tiny_model_config, tiny_simulation


def _write_bad_log(data_dir, simulation):
    """The tiny log without its `ad_id` column and with `campaign_id` as strings."""
    frame = simulate_frame(simulation.__class__(**{**simulation.to_dict(), "num_requests": 1500}))
    os.makedirs(data_dir, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(data_dir, "requests-00000.tfrecord")) as writer:
        for _, row in frame.iterrows():
            feature = {}
            for column, value in row.items():
                if column == "ad_id" or (column == names.MARKET_PRICE and row[names.WON] == 0):
                    continue
                if column == "campaign_id":
                    feature[column] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"c{value}".encode()]))
                elif frame[column].dtype.kind in "iu":
                    feature[column] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
                else:
                    feature[column] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


@pytest.mark.parametrize("curated_schema", [False, True], ids=["inferred_schema", "curated_schema"])
def test_bad_data_stop_at_the_gate_and_push_nothing(tmp_path, tiny_runs, curated_schema):
    good, _ = tiny_runs
    simulation = tiny_simulation()
    workdir = Workdir(str(tmp_path))
    _write_bad_log(workdir.data_dir, simulation)
    schema_path = None
    if curated_schema:  # the schema inferred from the good tiny log, imported with ImportSchemaGen
        schema_path = os.path.join(run_summary.latest_artifact_uri(good.metadata_path, "Schema"), "schema.pbtxt")
        assert os.path.exists(schema_path)
    pipeline = create_pipeline(
        "bad", workdir.pipeline_root, workdir.data_dir, workdir.serving_dir,
        tiny_model_config(feature_spec(simulation, embedding_dim=4)), schema_path=schema_path,
        metadata_path=workdir.metadata_path, beam_pipeline_args=beam_args(),
    )
    with pytest.raises(Exception) as failure:
        run_local(pipeline, workdir.metadata_path)
    message = str(failure.value)
    assert "'ad_id'" in message and "missing" in message
    assert "'campaign_id'" in message
    runs = {r.component: r.state for r in run_summary.component_runs(workdir.metadata_path)}
    assert runs[p.GATE] == "FAILED"
    assert runs[p.EXAMPLE_VALIDATOR] == "COMPLETE"
    assert not {p.WIN_PROPENSITY, p.TRANSFORM, p.TRAINER, p.PUSHER} & set(runs)
    assert not os.path.exists(workdir.serving_dir) or not os.listdir(workdir.serving_dir)


def _schema(**types):
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    for name, kind in types.items():
        schema.feature.add(name=name, type=schema_pb2.FeatureType.Value(kind))
    return schema


def test_schema_problems_name_each_missing_or_mistyped_column():
    spec = FeatureSpec(categorical=[CategoricalFeature("ad", vocabulary_size=5)], numeric=[NumericFeature("price")])
    funnel = {names.BID_PRICE: "FLOAT", names.WON: "INT", names.MARKET_PRICE: "FLOAT", names.CLICK: "INT",
              names.CONVERSION: "INT"}
    assert schema_problems(_schema(ad="INT", price="INT", **funnel), spec) == []
    problems = schema_problems(_schema(ad="BYTES", **{**funnel, names.CLICK: "FLOAT"}), spec)
    assert len(problems) == 3
    assert any("'ad' has type BYTES but must be INT" in m for m in problems)
    assert any("'price' is missing" in m for m in problems)
    assert any(f"'{names.CLICK}' has type FLOAT" in m for m in problems)


def test_create_pipeline_rejects_bad_options(tmp_path):
    config = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    args = ("x", str(tmp_path), str(tmp_path), str(tmp_path))
    with pytest.raises(ValueError, match="data_format"):
        create_pipeline(*args, config, data_format="parquet")
    with pytest.raises(ValueError, match="win_model kind"):
        create_pipeline(*args, config, win_model={"kind": "magic"})
    with pytest.raises(ValueError, match="slice_features"):
        create_pipeline(*args, config, slice_features=["nope"])
    with pytest.raises(ValueError, match="Beam mode"):
        beam_args("fast")
