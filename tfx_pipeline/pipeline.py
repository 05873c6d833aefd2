"""create_pipeline: the TFX DAG, as a pure function of paths and options (the runners fill them in)."""
from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Sequence

from tfx import v1 as tfx
from tfx.dsl.components.base.base_beam_component import BaseBeamComponent

from mtl_keras import names
from mtl_keras.config import ModelConfig
from transform.config import TransformConfig
from transform.preprocessing import FEATURE_SPEC_KEY, TRANSFORM_CONFIG_KEY
from tfx_pipeline.components.gate import DataValidationGate
from tfx_pipeline.components.win_propensity import WinPropensity
from tfx_pipeline.eval_config import make_eval_config
from tfx_pipeline.trainer import trainer_custom_config
from mtl_keras.propensity.factory import WIN_MODEL_KINDS

DATA_FORMATS = {"tfrecord": "*.tfrecord*", "csv": "*.csv"}  # format -> default file pattern
PREPROCESSING_FN = "transform.preprocessing.preprocessing_fn"
RUN_FN = "tfx_pipeline.trainer.run_fn"
DEFAULT_WIN_MODEL = {"kind": "lognormal_aft", "max_fit_rows": 20_000}

# Component ids, in DAG order (tests and summaries refer to them).
EXAMPLE_GEN = "ExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
GATE = "DataValidationGate"
WIN_PROPENSITY = "WinPropensity"
TRANSFORM = "Transform"
TRAINER = "Trainer"
BASELINE_RESOLVER = "latest_blessed_model_resolver"
EVALUATOR = "Evaluator"
PUSHER = "Pusher"


def beam_args(mode: str = "in_memory", workers: int = 1, extra: Sequence[str] = ()) -> list:
    """DirectRunner arguments: in_memory (default; fastest on few cores) or multi_processing."""
    if mode not in ("in_memory", "multi_processing", "multi_threading"):
        raise ValueError(f"Beam mode {mode!r} is unknown; use in_memory, multi_processing or multi_threading.")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"Beam workers must be a positive int, got {workers!r}.")
    return [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}", *extra]


def vertex_trainer_config(project: str, region: str, worker_pool_specs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """custom_config entries that make the Trainer a Vertex AI CustomJob (one pool per replica kind)."""
    if not project or not region:
        raise ValueError("vertex_training needs a project and a region.")
    if not worker_pool_specs:
        raise ValueError("vertex_training needs worker_pool_specs (chief first, then workers / parameter servers).")
    ai_platform = tfx.extensions.google_cloud_ai_platform
    return {
        ai_platform.ENABLE_VERTEX_KEY: True,
        ai_platform.VERTEX_REGION_KEY: region,
        ai_platform.TRAINING_ARGS_KEY: {"project": project, "worker_pool_specs": list(worker_pool_specs)},
    }


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    serving_dir: str,
    model_config: ModelConfig,
    transform_config: Optional[TransformConfig] = None,
    data_format: str = "tfrecord",
    input_pattern: Optional[str] = None,
    schema_path: Optional[str] = None,
    win_model: Optional[Dict[str, Any]] = None,
    eval_ipw: bool = False,
    min_auc: float = 0.5,
    max_auc_drop: float = 0.05,
    slice_features: Sequence[str] = (),
    train_steps: Optional[int] = None,
    eval_split_buckets: int = 1,
    train_split_buckets: int = 4,
    metadata_path: Optional[str] = None,
    beam_pipeline_args: Sequence[str] = (),
    component_beam_args: Optional[Mapping[str, Sequence[str]]] = None,
    enable_cache: bool = True,
    vertex_training: Optional[Dict[str, Any]] = None,
) -> tfx.dsl.Pipeline:
    """The pipeline of DESIGN.md: validate → win propensity → transform → train → evaluate → push.

    `model_config.features` is the raw FeatureSpec: it drives validation, the win model's
    features, Transform and the model. `schema_path` imports a curated schema instead of inferring
    one. `win_model` holds `make_win_model` arguments ({"kind": ..., ...}). `metadata_path` is a
    SQLite ML Metadata file for local runs (None for Vertex, which brings its own).
    `component_beam_args` maps a Beam component's id to arguments that override the pipeline's
    `beam_pipeline_args` for it alone, e.g. {WIN_PROPENSITY: beam_args("multi_processing", 2)}.
    `vertex_training` ({"project", "region", "worker_pool_specs"}) runs the Trainer as a Vertex AI
    CustomJob; with several replicas Vertex sets TF_CONFIG and `run_fn` trains multi-worker.
    """
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format={data_format!r} is not supported; use one of {sorted(DATA_FORMATS)}.")
    if not isinstance(model_config, ModelConfig):
        raise ValueError(f"model_config must be a ModelConfig, got {type(model_config).__name__}.")
    transform_config = transform_config or TransformConfig()
    win_model = dict(win_model or DEFAULT_WIN_MODEL)
    if win_model.get("kind") not in WIN_MODEL_KINDS:
        raise ValueError(f"win_model kind {win_model.get('kind')!r} is unknown; use one of {WIN_MODEL_KINDS}.")
    unknown_slices = [f for f in slice_features if f not in model_config.features.names + [names.CLICK]]
    if unknown_slices:
        raise ValueError(f"slice_features {unknown_slices} are neither features nor 'click'.")
    spec_json = model_config.features.to_json()
    eval_config = make_eval_config(ipw=eval_ipw, min_auc=min_auc, max_auc_drop=max_auc_drop,
                                   slice_features=slice_features)

    input_config = tfx.proto.Input(splits=[
        tfx.proto.Input.Split(name="single_split", pattern=input_pattern or DATA_FORMATS[data_format])
    ])
    output_config = tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
        tfx.proto.SplitConfig.Split(name="train", hash_buckets=train_split_buckets),
        tfx.proto.SplitConfig.Split(name="eval", hash_buckets=eval_split_buckets),
    ]))
    gen_class = tfx.components.ImportExampleGen if data_format == "tfrecord" else tfx.components.CsvExampleGen
    example_gen = gen_class(input_base=data_root, input_config=input_config, output_config=output_config)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    if schema_path:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path).with_id(SCHEMA_GEN)
    else:
        schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = DataValidationGate(
        anomalies=validator.outputs["anomalies"], schema=schema_gen.outputs["schema"], feature_spec_json=spec_json
    ).with_id(GATE)
    win = WinPropensity(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        validation=gate.outputs["validation"],
        feature_spec_json=spec_json,
        win_model_json=json.dumps(win_model, sort_keys=True),
        propensity_floor=float(model_config.win_propensity_floor),
        weight_clip=float(model_config.win_weight_clip),
    ).with_id(WIN_PROPENSITY)
    transform = tfx.components.Transform(
        examples=win.outputs["scored_examples"],
        schema=win.outputs["scored_schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={FEATURE_SPEC_KEY: model_config.features.to_dict(),
                       TRANSFORM_CONFIG_KEY: transform_config.to_dict()},
        # StatisticsGen/ExampleValidator already cover the data; Transform's own pre/post statistics
        # and analyzer cache would double its run time for nothing the pipeline reads.
        disable_statistics=True,
        disable_analyzer_cache=True,
    )
    trainer_config = trainer_custom_config(model_config, transform_config)
    trainer_class = tfx.components.Trainer
    if vertex_training is not None:
        trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer
        trainer_config.update(vertex_trainer_config(**vertex_training))
    trainer = trainer_class(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=win.outputs["scored_schema"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps) if train_steps else tfx.proto.TrainArgs(),
        eval_args=tfx.proto.EvalArgs(),
        custom_config=trainer_config,
    )
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER)
    evaluator = tfx.components.Evaluator(
        examples=win.outputs["impressions"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        eval_config=eval_config,
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    )
    components = [example_gen.with_id(EXAMPLE_GEN), statistics_gen, schema_gen, validator, gate, win, transform,
                  trainer, baseline, evaluator, pusher]
    _add_component_beam_args(components, component_beam_args or {})
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=(
            tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path) if metadata_path else None
        ),
        beam_pipeline_args=list(beam_pipeline_args),
    )


def _add_component_beam_args(components, by_id: Mapping[str, Sequence[str]]) -> None:
    beam_components = {c.id: c for c in components if isinstance(c, BaseBeamComponent)}
    unknown = sorted(set(by_id) - set(beam_components))
    if unknown:
        raise ValueError(f"component_beam_args names {unknown}, which are not Beam components of the pipeline; "
                         f"use ids from {sorted(beam_components)}.")
    for component_id, args in by_id.items():
        # TFX puts component arguments after the pipeline's, and Beam keeps the last value of a flag.
        beam_components[component_id].with_beam_pipeline_args(list(args))
