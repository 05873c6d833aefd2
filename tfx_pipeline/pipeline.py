"""create_pipeline: the TFX DAG, as a pure function of paths and options (the runners fill them in).

The stages are built by `tfx_pipeline.builders`; this module chains them and sets the
pipeline-wide options (Beam arguments, caching, ML Metadata).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from tfx import v1 as tfx
from tfx.dsl.components.base.base_beam_component import BaseBeamComponent

from mtl_keras.config import ModelConfig
from transform.config import TransformConfig
from tfx_pipeline import beam_runners, builders
# Re-exported: callers and tests read the component ids, paths and defaults from this module.
from tfx_pipeline.builders import (  # noqa: F401
    BASELINE_RESOLVER, DATA_FORMATS, DEFAULT_WIN_MODEL, EVALUATOR, EXAMPLE_GEN, EXAMPLE_VALIDATOR, GATE,
    PREPROCESSING_FN, PUSHER, RUN_FN, SCHEMA_GEN, STATISTICS_GEN, TRAINER, TRANSFORM, WIN_PROPENSITY,
    vertex_trainer_config,
)


def beam_args(mode: str = "in_memory", workers: int = 1, extra: Sequence[str] = ()) -> list:
    """DirectRunner arguments: in_memory (default; fastest on few cores) or multi_processing."""
    if mode not in ("in_memory", "multi_processing", "multi_threading"):
        raise ValueError(f"Beam mode {mode!r} is unknown; use in_memory, multi_processing or multi_threading.")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"Beam workers must be a positive int, got {workers!r}.")
    return [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}", *extra]


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
    calibration: Optional[Dict[str, Any]] = None,
) -> tfx.dsl.Pipeline:
    """The pipeline of DESIGN.md: validate → win propensity → transform → train → evaluate → push.

    `model_config.features` is the raw FeatureSpec: it drives validation, the win model's
    features, Transform and the model. `schema_path` imports a curated schema instead of inferring
    one. `win_model` holds `make_win_model` arguments ({"kind": ..., ...}). `metadata_path` is a
    SQLite ML Metadata file for local runs (None for Vertex, which brings its own).
    `component_beam_args` maps a Beam component's id to arguments that override the pipeline's
    `beam_pipeline_args` for it alone, e.g. {WIN_PROPENSITY: beam_args("multi_processing", 2)}.
    Both are checked as Beam would parse them (beam_runners.check_beam_args); beam_runners builds
    them for Dataflow, Flink and Spark.
    `vertex_training` ({"project", "region", "worker_pool_specs"}) runs the Trainer as a Vertex AI
    CustomJob; with several replicas Vertex sets TF_CONFIG and `run_fn` trains multi-worker.
    `calibration` ({"kind": "isotonic", "space": "impression", ...}; tfx_pipeline.calibration_step)
    fits calibrators on the eval split in the Trainer: the pushed model serves calibrated p_ctr,
    p_cvr, p_ctcvr and the raw `_uncalibrated` ones. None: no calibration.
    """
    if not isinstance(model_config, ModelConfig):
        raise ValueError(f"model_config must be a ModelConfig, got {type(model_config).__name__}.")
    transform_config = transform_config or TransformConfig()
    features = model_config.features
    data = builders.build_data(data_root, features, data_format=data_format, input_pattern=input_pattern,
                               schema_path=schema_path, train_split_buckets=train_split_buckets,
                               eval_split_buckets=eval_split_buckets)
    win = builders.build_propensity(data.examples, data.schema, data.validation, model_config, win_model=win_model)
    transform = builders.build_transform(win.scored_examples, win.scored_schema, features, transform_config)
    # The Trainer gets the schema Transform read: the scored one (raw columns + p_win).
    train = builders.build_train(transform.transformed_examples, transform.transform_graph, win.scored_schema,
                                 model_config, transform_config, train_steps=train_steps,
                                 vertex_training=vertex_training, calibration=calibration,
                                 win_model=win.trainer_win_model)
    evaluate = builders.build_evaluate(win.impressions, train.model, features, eval_ipw=eval_ipw, min_auc=min_auc,
                                       max_auc_drop=max_auc_drop, slice_features=slice_features)
    push = builders.build_push(train.model, evaluate.blessing, serving_dir)
    beam_runners.check_beam_args(beam_pipeline_args)
    for args in (component_beam_args or {}).values():
        beam_runners.check_beam_args([*beam_pipeline_args, *args])
    components = [c for stage in (data, win, transform, train, evaluate, push) for c in stage.components]
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
