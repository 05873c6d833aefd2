"""The pipeline's stages, one builder each: data → propensity → transform → train → evaluate → push.

A builder makes its stage's TFX components from the channels of the stages before it and returns
them (in DAG order) with the channels the next stages read. Builders only create component objects,
nothing runs, so each one can be built alone on placeholder channels such as
`tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples)`. `create_pipeline` chains them.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Optional, Sequence, Tuple

from tfx import v1 as tfx

from mtl_keras import names
from mtl_keras.config import ModelConfig
from mtl_keras.features import FeatureSpec
from mtl_keras.propensity.factory import WIN_MODEL_KINDS
from transform.config import TransformConfig
from transform.preprocessing import FEATURE_SPEC_KEY, TRANSFORM_CONFIG_KEY
from tfx_pipeline import calibration_step
from tfx_pipeline import names as pipeline_names
from tfx_pipeline.components.gate import DataValidationGate
from tfx_pipeline.components.win_propensity import WinPropensity
from tfx_pipeline.eval_config import make_eval_config
from tfx_pipeline.trainer import trainer_custom_config

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

Channel = tfx.types.BaseChannel


@dataclasses.dataclass(frozen=True)
class Stage:
    components: Tuple[Any, ...]  # TFX nodes, in DAG order


@dataclasses.dataclass(frozen=True)
class DataStage(Stage):
    examples: Channel  # raw examples, train and eval splits
    schema: Channel
    validation: Channel  # the gate's verdict: readers of it never start on data that failed validation


@dataclasses.dataclass(frozen=True)
class PropensityStage(Stage):
    scored_examples: Channel  # every request, with p_win (train, eval), and the won ones (train_won, eval_won)
    scored_schema: Channel
    impressions: Channel  # won impressions with the TFMA weight columns, for the Evaluator
    trainer_win_model: Channel  # the fitted win model as the Trainer's hyperparameters (win_probability)


@dataclasses.dataclass(frozen=True)
class TransformStage(Stage):
    transformed_examples: Channel
    transform_graph: Channel


@dataclasses.dataclass(frozen=True)
class TrainStage(Stage):
    model: Channel


@dataclasses.dataclass(frozen=True)
class EvaluateStage(Stage):
    blessing: Channel


def build_data(data_root: str, features: FeatureSpec, data_format: str = "tfrecord",
               input_pattern: Optional[str] = None, schema_path: Optional[str] = None,
               train_split_buckets: int = 4, eval_split_buckets: int = 1) -> DataStage:
    """ExampleGen (train/eval hash split) → StatisticsGen → SchemaGen → ExampleValidator → gate.

    `schema_path` imports a curated schema instead of inferring one; the gate checks the anomalies
    and that the schema holds the columns of `features`.
    """
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format={data_format!r} is not supported; use one of {sorted(DATA_FORMATS)}.")
    input_config = tfx.proto.Input(splits=[
        tfx.proto.Input.Split(name="single_split", pattern=input_pattern or DATA_FORMATS[data_format])
    ])
    output_config = tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
        tfx.proto.SplitConfig.Split(name="train", hash_buckets=train_split_buckets),
        tfx.proto.SplitConfig.Split(name="eval", hash_buckets=eval_split_buckets),
    ]))
    gen_class = tfx.components.ImportExampleGen if data_format == "tfrecord" else tfx.components.CsvExampleGen
    example_gen = gen_class(input_base=data_root, input_config=input_config,
                            output_config=output_config).with_id(EXAMPLE_GEN)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"]).with_id(STATISTICS_GEN)
    if schema_path:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    else:
        schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    schema_gen.with_id(SCHEMA_GEN)
    validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(EXAMPLE_VALIDATOR)
    gate = DataValidationGate(
        anomalies=validator.outputs["anomalies"], schema=schema_gen.outputs["schema"],
        feature_spec_json=features.to_json(),
    ).with_id(GATE)
    return DataStage(components=(example_gen, statistics_gen, schema_gen, validator, gate),
                     examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
                     validation=gate.outputs["validation"])


def build_propensity(examples: Channel, schema: Channel, validation: Channel, model_config: ModelConfig,
                     win_model: Optional[Dict[str, Any]] = None) -> PropensityStage:
    """WinPropensity: fits the win model (`make_win_model` arguments, {"kind": ..., ...}) and
    scores p_win on every request; the propensity floor and weight clip come from `model_config`."""
    win_model = dict(win_model or DEFAULT_WIN_MODEL)
    if win_model.get("kind") not in WIN_MODEL_KINDS:
        raise ValueError(f"win_model kind {win_model.get('kind')!r} is unknown; use one of {WIN_MODEL_KINDS}.")
    win = WinPropensity(
        examples=examples,
        schema=schema,
        validation=validation,
        feature_spec_json=model_config.features.to_json(),
        win_model_json=json.dumps(win_model, sort_keys=True),
        propensity_floor=float(model_config.win_propensity_floor),
        weight_clip=float(model_config.win_weight_clip),
    ).with_id(WIN_PROPENSITY)
    return PropensityStage(components=(win,), scored_examples=win.outputs["scored_examples"],
                           scored_schema=win.outputs["scored_schema"], impressions=win.outputs["impressions"],
                           trainer_win_model=win.outputs["trainer_win_model"])


def build_transform(examples: Channel, schema: Channel, features: FeatureSpec,
                    transform_config: Optional[TransformConfig] = None) -> TransformStage:
    """Transform with `transform.preprocessing.preprocessing_fn`, configured by custom_config.

    Its analyzers (vocabularies, statistics) see every request of the train split, as serving does;
    it transforms only the won splits the Trainer reads (the lost requests, over half of the rows,
    are filtered once by WinPropensity instead of at every epoch).
    """
    transform = tfx.components.Transform(
        examples=examples,
        schema=schema,
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=tfx.proto.SplitsConfig(analyze=[pipeline_names.TRAIN_SPLIT],
                                             transform=[pipeline_names.TRAIN_WON_SPLIT, pipeline_names.EVAL_WON_SPLIT]),
        custom_config={FEATURE_SPEC_KEY: features.to_dict(),
                       TRANSFORM_CONFIG_KEY: (transform_config or TransformConfig()).to_dict()},
        # StatisticsGen/ExampleValidator already cover the data; Transform's own pre/post statistics
        # and analyzer cache would double its run time for nothing the pipeline reads.
        disable_statistics=True,
        disable_analyzer_cache=True,
    ).with_id(TRANSFORM)
    return TransformStage(components=(transform,), transformed_examples=transform.outputs["transformed_examples"],
                          transform_graph=transform.outputs["transform_graph"])


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


def build_train(examples: Channel, transform_graph: Channel, schema: Channel, model_config: ModelConfig,
                transform_config: Optional[TransformConfig] = None, train_steps: Optional[int] = None,
                vertex_training: Optional[Dict[str, Any]] = None,
                calibration: Optional[Dict[str, Any]] = None,
                win_model: Optional[Channel] = None) -> TrainStage:
    """Trainer running `tfx_pipeline.trainer.run_fn` on the transformed examples.

    `calibration` ({"kind", "space", "min_rows", "min_positives"}, see tfx_pipeline.calibration_step)
    fits calibrators on the eval split inside the Trainer; the model then serves calibrated outputs.
    `win_model` (WinPropensity's trainer_win_model) is exported as the `win_probability` signature.

    `train_steps` is TrainArgs.num_steps (None: one pass per epoch). `vertex_training`
    ({"project", "region", "worker_pool_specs"}) runs it as a Vertex AI CustomJob instead.
    """
    if not {names.CTR, names.CVR} <= set(model_config.tower_names):
        # The Evaluator's EvalConfig and blessing read p_ctr, p_cvr and p_ctcvr.
        raise ValueError(f"The pipeline trains funnel objectives (CTR and CVR towers); objective "
                         f"{model_config.objective.name!r} has towers {model_config.tower_names}. Use one of "
                         "naive, esmm, escm2_ips, escm2_dr, or train a single-task model with mtl_keras.training.")
    if model_config.weight_columns:
        # The Trainer reads features, labels and p_win from the Transform output only.
        raise ValueError(f"weight_columns {model_config.weight_columns} are not carried through the pipeline's "
                         "Transform yet; train with mtl_keras.training (or mtl-ads train), or drop weight_columns.")
    if model_config.sample_spaces:
        # The Trainer keeps the won rows of the Transform output; masks per task are not built there.
        raise ValueError(f"sample_spaces {model_config.sample_spaces} are not supported by the pipeline's Trainer "
                         "yet; train with mtl_keras.training (or mtl-ads train), or drop sample_spaces.")
    custom_config = trainer_custom_config(model_config, transform_config or TransformConfig())
    calibration = calibration_step.check_settings(calibration, model_config.win_weighting)
    if calibration is not None:
        custom_config[calibration_step.CALIBRATION_KEY] = calibration
    trainer_class = tfx.components.Trainer
    if vertex_training is not None:
        trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer
        custom_config.update(vertex_trainer_config(**vertex_training))
    trainer = trainer_class(
        run_fn=RUN_FN,
        examples=examples,
        transform_graph=transform_graph,
        schema=schema,
        train_args=tfx.proto.TrainArgs(splits=[pipeline_names.TRAIN_WON_SPLIT], num_steps=train_steps or None),
        eval_args=tfx.proto.EvalArgs(splits=[pipeline_names.EVAL_WON_SPLIT]),
        custom_config=custom_config,
        hyperparameters=win_model,
    ).with_id(TRAINER)
    return TrainStage(components=(trainer,), model=trainer.outputs["model"])


def build_evaluate(examples: Channel, model: Channel, features: FeatureSpec, eval_ipw: bool = False,
                   min_auc: float = 0.5, max_auc_drop: float = 0.05,
                   slice_features: Sequence[str] = ()) -> EvaluateStage:
    """The latest blessed model as baseline, and the Evaluator that blesses `model` against it.

    `examples` are the won impressions (with the 1/p_win weights `eval_ipw` uses); see
    `make_eval_config` for the thresholds and slices.
    """
    unknown_slices = [f for f in slice_features if f not in features.names + [names.CLICK]]
    if unknown_slices:
        raise ValueError(f"slice_features {unknown_slices} are neither features nor 'click'.")
    eval_config = make_eval_config(ipw=eval_ipw, min_auc=min_auc, max_auc_drop=max_auc_drop,
                                   slice_features=slice_features)
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER)
    evaluator = tfx.components.Evaluator(
        examples=examples,
        model=model,
        baseline_model=baseline.outputs["model"],
        eval_config=eval_config,
    ).with_id(EVALUATOR)
    return EvaluateStage(components=(baseline, evaluator), blessing=evaluator.outputs["blessing"])


def build_push(model: Channel, blessing: Channel, serving_dir: str) -> Stage:
    """Pusher: copies a blessed `model` to `serving_dir/<version>/`."""
    pusher = tfx.components.Pusher(
        model=model,
        model_blessing=blessing,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    ).with_id(PUSHER)
    return Stage(components=(pusher,))
