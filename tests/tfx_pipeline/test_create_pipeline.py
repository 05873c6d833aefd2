"""create_pipeline is a pure function: its DAG, import paths and options, checked without running it."""
import json

from tfx import v1 as tfx

from mtl_keras.simulation import feature_spec
from tfx_pipeline import pipeline as p
from tfx_pipeline.presets import tiny_model_config, tiny_simulation


def _build(tmp_path, **kwargs):
    config = tiny_model_config(feature_spec(tiny_simulation(), embedding_dim=4))
    return p.create_pipeline("t", str(tmp_path / "root"), str(tmp_path / "data"), str(tmp_path / "serving"), config,
                             **kwargs)


def test_default_dag_uses_import_paths_and_tfrecords(tmp_path):
    pipeline = _build(tmp_path, metadata_path=str(tmp_path / "m.sqlite"), beam_pipeline_args=p.beam_args())
    nodes = {c.id: c for c in pipeline.components}
    assert set(nodes) == {p.EXAMPLE_GEN, p.STATISTICS_GEN, p.SCHEMA_GEN, p.EXAMPLE_VALIDATOR, p.GATE,
                          p.WIN_PROPENSITY, p.TRANSFORM, p.TRAINER, p.BASELINE_RESOLVER, p.EVALUATOR, p.PUSHER}
    assert isinstance(nodes[p.EXAMPLE_GEN], tfx.components.ImportExampleGen)
    assert isinstance(nodes[p.SCHEMA_GEN], tfx.components.SchemaGen)
    transform = nodes[p.TRANSFORM].exec_properties
    assert transform["preprocessing_fn"] == p.PREPROCESSING_FN and not transform.get("module_file")
    trainer = nodes[p.TRAINER].exec_properties
    assert trainer["run_fn"] == p.RUN_FN and not trainer.get("module_file")
    custom = json.loads(trainer["custom_config"])
    assert custom["model_config"]["win_weighting"] is True
    assert pipeline.beam_pipeline_args == ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    assert pipeline.enable_cache
    assert pipeline.metadata_connection_config.sqlite.filename_uri == str(tmp_path / "m.sqlite")


def test_csv_curated_schema_and_multi_processing_options(tmp_path):
    pipeline = _build(tmp_path, data_format="csv", schema_path=str(tmp_path / "schema.pbtxt"),
                      beam_pipeline_args=p.beam_args("multi_processing", 2), enable_cache=False, eval_ipw=True)
    nodes = {c.id: c for c in pipeline.components}
    assert isinstance(nodes[p.EXAMPLE_GEN], tfx.components.CsvExampleGen)
    assert "*.csv" in nodes[p.EXAMPLE_GEN].exec_properties["input_config"]
    assert isinstance(nodes[p.SCHEMA_GEN], tfx.components.ImportSchemaGen)
    assert pipeline.beam_pipeline_args == ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert not pipeline.enable_cache
    eval_config = nodes[p.EVALUATOR].exec_properties["eval_config"]
    assert '"eval_ipw_clicked"' in eval_config  # CVR weighted by click / p_win


def test_component_beam_args_override_the_pipeline_args_for_one_component(tmp_path):
    import pytest

    pipeline = _build(tmp_path, beam_pipeline_args=p.beam_args(),
                      component_beam_args={p.WIN_PROPENSITY: p.beam_args("multi_processing", 2)})
    nodes = {c.id: c for c in pipeline.components}
    # Pipeline arguments first, the component's after them: Beam keeps the last value of a flag.
    assert nodes[p.WIN_PROPENSITY].executor_spec.beam_pipeline_args == p.beam_args() + p.beam_args("multi_processing", 2)
    assert nodes[p.TRANSFORM].executor_spec.beam_pipeline_args == p.beam_args()
    with pytest.raises(ValueError, match=r"\['Trainer'\].*not Beam components"):
        _build(tmp_path, component_beam_args={p.TRAINER: ["--direct_num_workers=2"]})
