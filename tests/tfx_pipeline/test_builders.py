"""Each stage builder alone, on placeholder input channels: its real TFX components, ids and options."""
import json

import pytest
from tfx import v1 as tfx

from mtl_keras import names
from mtl_keras.simulation import feature_spec
from transform.config import TransformConfig
from tfx_pipeline import builders as b
from tfx_pipeline.components.artifacts import DataValidation
from tfx_pipeline.presets import tiny_model_config, tiny_simulation

ARTIFACTS = tfx.types.standard_artifacts


def _channel(artifact_type):
    return tfx.dsl.Channel(type=artifact_type)


@pytest.fixture(scope="module")
def config():
    return tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))


def _ids(stage):
    return [c.id for c in stage.components]


def test_data_stage_splits_validates_and_hands_on_examples_schema_and_verdict(config):
    data = b.build_data("/logs", config.features, train_split_buckets=3, eval_split_buckets=2)
    assert _ids(data) == [b.EXAMPLE_GEN, b.STATISTICS_GEN, b.SCHEMA_GEN, b.EXAMPLE_VALIDATOR, b.GATE]
    example_gen, statistics_gen, schema_gen, validator, gate = data.components
    assert isinstance(example_gen, tfx.components.ImportExampleGen)
    assert example_gen.exec_properties["input_base"] == "/logs"
    assert '"*.tfrecord*"' in example_gen.exec_properties["input_config"]
    splits = json.loads(example_gen.exec_properties["output_config"])["split_config"]["splits"]
    assert splits == [{"name": "train", "hash_buckets": 3}, {"name": "eval", "hash_buckets": 2}]
    assert isinstance(schema_gen, tfx.components.SchemaGen) and schema_gen.exec_properties["infer_feature_shape"]
    assert validator.inputs["statistics"] is statistics_gen.outputs["statistics"]
    assert gate.inputs["anomalies"] is validator.outputs["anomalies"]
    assert json.loads(gate.exec_properties["feature_spec_json"]) == json.loads(config.features.to_json())
    assert data.examples is example_gen.outputs["examples"]
    assert data.schema is schema_gen.outputs["schema"] and data.validation is gate.outputs["validation"]


def test_data_stage_reads_csv_with_a_curated_schema(config):
    data = b.build_data("/logs", config.features, data_format="csv", input_pattern="day-*.csv",
                        schema_path="/schema.pbtxt")
    example_gen, _, schema_gen = data.components[:3]
    assert isinstance(example_gen, tfx.components.CsvExampleGen)
    assert '"day-*.csv"' in example_gen.exec_properties["input_config"]
    assert isinstance(schema_gen, tfx.components.ImportSchemaGen) and schema_gen.id == b.SCHEMA_GEN
    assert schema_gen.exec_properties["schema_file"] == "/schema.pbtxt"
    with pytest.raises(ValueError, match="data_format"):
        b.build_data("/logs", config.features, data_format="parquet")


def test_propensity_stage_scores_validated_examples(config):
    examples, schema, validation = _channel(ARTIFACTS.Examples), _channel(ARTIFACTS.Schema), _channel(DataValidation)
    stage = b.build_propensity(examples, schema, validation, config)
    [win] = stage.components
    assert win.id == b.WIN_PROPENSITY
    assert win.inputs["examples"] is examples and win.inputs["validation"] is validation
    props = win.exec_properties
    assert json.loads(props["win_model_json"]) == b.DEFAULT_WIN_MODEL
    assert props["propensity_floor"] == config.win_propensity_floor
    assert props["weight_clip"] == config.win_weight_clip
    assert stage.scored_examples is win.outputs["scored_examples"]
    assert stage.scored_schema is win.outputs["scored_schema"] and stage.impressions is win.outputs["impressions"]
    custom = b.build_propensity(examples, schema, validation, config, win_model={"kind": "km"})
    assert json.loads(custom.components[0].exec_properties["win_model_json"]) == {"kind": "km"}
    with pytest.raises(ValueError, match="win_model kind"):
        b.build_propensity(examples, schema, validation, config, win_model={"kind": "magic"})


def test_transform_stage_runs_the_preprocessing_fn_by_import_path(config):
    examples, schema = _channel(ARTIFACTS.Examples), _channel(ARTIFACTS.Schema)
    stage = b.build_transform(examples, schema, config.features, TransformConfig(num_buckets=7))
    [transform] = stage.components
    assert transform.id == b.TRANSFORM and transform.inputs["examples"] is examples
    props = transform.exec_properties
    assert props["preprocessing_fn"] == b.PREPROCESSING_FN and not props.get("module_file")
    assert props["disable_statistics"]
    custom = json.loads(props["custom_config"])
    assert custom["feature_spec"] == config.features.to_dict() and custom["transform"]["num_buckets"] == 7
    assert stage.transformed_examples is transform.outputs["transformed_examples"]
    assert json.loads(transform.exec_properties["splits_config"]) == {"analyze": ["train"],
                                                                      "transform": ["train_won", "eval_won"]}
    assert stage.transform_graph is transform.outputs["transform_graph"]


def test_train_stage_locally_and_as_a_vertex_job(config):
    inputs = (_channel(ARTIFACTS.Examples), _channel(ARTIFACTS.TransformGraph), _channel(ARTIFACTS.Schema))
    stage = b.build_train(*inputs, config, train_steps=12)
    [trainer] = stage.components
    assert trainer.id == b.TRAINER and type(trainer) is tfx.components.Trainer
    assert trainer.inputs["transform_graph"] is inputs[1]
    assert trainer.exec_properties["run_fn"] == b.RUN_FN
    # The won splits WinPropensity writes and Transform transforms (no lost request reaches the Trainer).
    assert json.loads(trainer.exec_properties["train_args"]) == {"num_steps": 12, "splits": ["train_won"]}
    assert json.loads(trainer.exec_properties["eval_args"]) == {"splits": ["eval_won"]}
    custom = json.loads(trainer.exec_properties["custom_config"])
    assert custom["model_config"] == json.loads(json.dumps(config.to_dict()))
    assert stage.model is trainer.outputs["model"]

    pools = [{"replica_count": 1}, {"replica_count": 2}]
    vertex = b.build_train(*inputs, config, vertex_training={"project": "p", "region": "r",
                                                             "worker_pool_specs": pools})
    [trainer] = vertex.components
    assert trainer.id == b.TRAINER and isinstance(trainer, tfx.extensions.google_cloud_ai_platform.Trainer)
    custom = json.loads(trainer.exec_properties["custom_config"])
    assert custom["ai_platform_enable_vertex"] is True
    assert custom["ai_platform_training_args"] == {"project": "p", "worker_pool_specs": pools}
    with pytest.raises(ValueError, match="project and a region"):
        b.build_train(*inputs, config, vertex_training={"project": "", "region": "r", "worker_pool_specs": pools})


def test_train_stage_refuses_what_the_pipeline_cannot_train_yet(config):
    import dataclasses

    inputs = (_channel(ARTIFACTS.Examples), _channel(ARTIFACTS.TransformGraph), _channel(ARTIFACTS.Schema))
    with pytest.raises(ValueError, match=r"objective 'ctr' has towers \['ctr'\]"):
        b.build_train(*inputs, dataclasses.replace(config, objective="ctr", task_weights=None))
    with pytest.raises(ValueError, match="weight_columns .* not carried through the pipeline"):
        b.build_train(*inputs, dataclasses.replace(config, weight_columns={"*": "w"}))
    with pytest.raises(ValueError, match="sample_spaces .* not supported by the pipeline"):
        b.build_train(*inputs, dataclasses.replace(config, sample_spaces={"ctr": "request"}))


def test_evaluate_stage_blesses_against_the_latest_blessed_model(config):
    impressions, model = _channel(ARTIFACTS.Examples), _channel(ARTIFACTS.Model)
    stage = b.build_evaluate(impressions, model, config.features, eval_ipw=True, slice_features=[names.CLICK])
    assert _ids(stage) == [b.BASELINE_RESOLVER, b.EVALUATOR]
    baseline, evaluator = stage.components
    assert evaluator.inputs["examples"] is impressions and evaluator.inputs["model"] is model
    assert evaluator.inputs["baseline_model"] is baseline.outputs["model"]
    eval_config = evaluator.exec_properties["eval_config"]
    assert '"eval_ipw_clicked"' in eval_config and f'"{names.CLICK}"' in eval_config
    assert stage.blessing is evaluator.outputs["blessing"]
    with pytest.raises(ValueError, match="slice_features"):
        b.build_evaluate(impressions, model, config.features, slice_features=["nope"])


def test_push_stage_pushes_a_blessed_model_to_the_serving_dir():
    model, blessing = _channel(ARTIFACTS.Model), _channel(ARTIFACTS.ModelBlessing)
    [pusher] = b.build_push(model, blessing, "/serving").components
    assert pusher.id == b.PUSHER
    assert pusher.inputs["model"] is model and pusher.inputs["model_blessing"] is blessing
    assert json.loads(pusher.exec_properties["push_destination"]) == {"filesystem": {"base_directory": "/serving"}}
