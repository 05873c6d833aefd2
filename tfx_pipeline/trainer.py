"""The Trainer's `run_fn`: a MultiTaskModel on the transformed won impressions, exported for serving.

custom_config (JSON-able, see `trainer_custom_config`) holds the ModelConfig (its `features` is the
raw FeatureSpec) and the TransformConfig; the model is built on the transformed FeatureSpec.
Losses are weighted from p_win when the ModelConfig says `win_weighting`. The input is
`trainer_input.make_dataset` (whole parsed blocks, no per-row stage); the ModelConfig's
`steps_per_execution` and `precision` reach `build_model`'s compile and layers.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from mtl_keras.config import ModelConfig
from transform.config import TransformConfig
from transform.feature_spec import transformed_feature_spec
# The Trainer's custom_config keeps the TransformConfig under the key the Transform component reads.
from transform.preprocessing import TRANSFORM_CONFIG_KEY
from tfx_pipeline import calibration_step, distribution, trainer_input, training_strategies
from tfx_pipeline import names as pipeline_names
from tfx_pipeline.trainer_input import make_dataset  # noqa: F401  (the Trainer's input, re-exported)

MODEL_CONFIG_KEY = "model_config"
PS_MIN_SHARD_BYTES_KEY = "ps_min_shard_bytes"


def trainer_custom_config(model_config: ModelConfig, transform_config: TransformConfig,
                          ps_min_shard_bytes: int = distribution.PS_MIN_SHARD_BYTES) -> Dict[str, Any]:
    """`ps_min_shard_bytes`: under ParameterServerStrategy, variables larger than this are split
    over the parameter servers (embedding tables), smaller ones stay whole."""
    return {MODEL_CONFIG_KEY: model_config.to_dict(), TRANSFORM_CONFIG_KEY: transform_config.to_dict(),
            PS_MIN_SHARD_BYTES_KEY: int(ps_min_shard_bytes)}


def parse_custom_config(custom_config: Optional[Dict[str, Any]]):
    if not custom_config or MODEL_CONFIG_KEY not in custom_config:
        raise ValueError(f"Trainer custom_config must hold {MODEL_CONFIG_KEY!r} (a ModelConfig.to_dict()); "
                         f"got keys {sorted(custom_config or {})}.")
    model_config = ModelConfig.from_dict(dict(custom_config[MODEL_CONFIG_KEY]))
    transform_config = TransformConfig.from_dict(custom_config.get(TRANSFORM_CONFIG_KEY) or {})
    return model_config, transform_config


def train_and_export(train_files: List[str], transform_output: str,
                     serving_model_dir: str, custom_config: Dict[str, Any], train_steps: Optional[int] = None,
                     environ: Optional[Dict[str, str]] = None,
                     callbacks: Sequence[keras.callbacks.Callback] = (),
                     eval_files: Optional[List[str]] = None,
                     tensorboard_dir: Optional[str] = None,
                     win_model: Optional[Dict[str, Any]] = None,
                     backup_dir: Optional[str] = None,
                     won_rows: Optional[int] = None) -> Optional[Dict[str, float]]:
    """Trains on this replica's role (see distribution) and, on the chief, exports to `serving_model_dir`.

    `train_steps` is the total number of steps, as TFX's TrainArgs.num_steps: each of the
    `epochs` epochs runs ceil(train_steps / epochs) steps. None: every epoch is one pass over the data.
    The strategy picks the fit function (training_strategies.fit_for).
    Returns the final training logs on replicas that trained, None on parameter-server replicas.
    `tensorboard_dir` (run_fn passes fn_args.model_run_dir) receives per-epoch TensorBoard scalars.
    `win_model` (the WinPropensity model's to_dict(), run_fn reads it from fn_args.hyperparameters)
    adds the `win_probability` signature: P(win | raw features, bids).
    `backup_dir` (run_fn: one per training input, shared by reruns) holds an epoch checkpoint
    (keras BackupAndRestore): a Trainer killed mid-run and rerun on the same inputs continues from
    its last finished epoch (same weights and optimizer state; the data order of the remaining
    epochs is drawn afresh). Not under ParameterServerStrategy.
    With `calibration` settings in custom_config (`tfx_pipeline.calibration_step`), calibrators are
    fitted on `eval_files` and the export serves calibrated and `_uncalibrated` outputs.
    `won_rows`: the won rows in `train_files` when known upstream (run_fn: WinPropensity's counts),
    which fixes the batch count without a counting pass; None: counted when needed.
    """
    raw_config, transform_config = parse_custom_config(custom_config)
    if distribution.replica_role(environ) == distribution.SERVER:
        # Workers and parameter servers of a PS cluster only serve the chief: no data, no model here.
        distribution.run_server(environ)
        return None
    if train_steps is not None and (not isinstance(train_steps, int) or train_steps < 1):
        raise ValueError(f"train_steps (TrainArgs.num_steps) must be a positive int or unset, received {train_steps!r}.")

    import tensorflow_transform as tft

    from mtl_keras.models import build_model
    from serving.export.exporter import export_serving_model

    tft_output = tft.TFTransformOutput(transform_output)
    raw_config.features.check_columns(list(tft_output.raw_feature_spec()), where="the schema Transform read")
    spec = transformed_feature_spec(raw_config.features, transform_config, tft_output)
    config = ModelConfig.from_dict({**raw_config.to_dict(), "features": spec.to_dict()})

    strategy, role = distribution.strategy_from_tf_config(
        environ, min_shard_bytes=custom_config.get(PS_MIN_SHARD_BYTES_KEY, distribution.PS_MIN_SHARD_BYTES))
    fit = training_strategies.fit_for(strategy)
    steps_per_epoch = -(-train_steps // config.epochs) if train_steps else None
    won_rows = _won_rows_if_needed(train_files, tft_output, config, fit, steps_per_epoch,
                                   resumable=backup_dir is not None, known=won_rows)
    dataset_fn = functools.partial(make_dataset, train_files, tft_output, config, won_rows=won_rows)
    total_steps = None
    if config.learning_rate_schedule is not None:  # a cosine schedule decays over every step
        total_steps = config.epochs * (steps_per_epoch or training_strategies.count_batches(dataset_fn))
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():  # compiled with config.steps_per_execution, layers in config.precision
        model = build_model(config, total_steps=total_steps)
    if backup_dir and fit is not training_strategies.fit_parameter_server:
        from mtl_keras.checkpointing import EpochAndStepBackup

        callbacks = [EpochAndStepBackup(backup_dir), *callbacks]
    if tensorboard_dir and role == distribution.CHIEF:
        # fn_args.model_run_dir: where TFX users open TensorBoard (per-task metrics, λ, gate usage).
        from mtl_keras.diagnostics import MultiTaskTensorBoard

        sample = None
        if fit is not training_strategies.fit_parameter_server:  # gates read on the coordinator otherwise
            sample = next(iter(make_dataset(train_files, tft_output, config, shuffle=False, batch_size=1024)))
        callbacks = [*callbacks, MultiTaskTensorBoard(tensorboard_dir, sample_features=sample)]
    history = fit(model, dataset_fn, steps_per_epoch=steps_per_epoch, epochs=config.epochs, verbose=2,
                  callbacks=list(callbacks))
    logs = {k: float(v[-1]) for k, v in history.history.items()}

    if fit is training_strategies.fit_parameter_server:
        model = _unsharded_copy(model, config)  # its tables are sharded over the parameter servers
    # Every MultiWorkerMirrored replica must take part in saving; only the chief keeps its copy.
    # Export locally first: the serving export writes with os calls, the artifact may be on GCS.
    calibration, report = _calibrate(model, config, tft_output, custom_config, eval_files)
    local_base = tempfile.mkdtemp(prefix="export-")
    try:
        version_dir = export_serving_model(model, spec, local_base, version=1, tft_output_dir=transform_output,
                                           calibration=calibration, win_model=_win_module(win_model, raw_config))
        if report is not None:
            calibration_step.write_report(report, version_dir)
        if role == distribution.CHIEF:
            _move_tree(version_dir, serving_model_dir)
    finally:
        shutil.rmtree(local_base, ignore_errors=True)
    return logs


def _won_rows_if_needed(train_files, tft_output, config: ModelConfig, fit, steps_per_epoch,
                        resumable: bool = False, known: Optional[int] = None) -> Optional[int]:
    """The won training rows for one pass's batch count: `known` (counted upstream) whenever one
    pass is an epoch; otherwise counted by trainer_input.count_won_rows (a read of the `won` column)
    only when needed: a cosine schedule's total steps, `steps_per_execution` > 1 (Keras then needs
    the dataset's length to run the last batches) or a cluster's fixed epochs."""
    if steps_per_epoch is not None:
        return None
    if known is not None:
        if not isinstance(known, int) or isinstance(known, bool) or known < 1:
            raise ValueError(f"The won training rows counted upstream must be a positive int, received {known!r}; "
                             "check the WinPropensity output's example_counts.")
        return known
    # BackupAndRestore finds the epoch to resume from through the epoch's length (`resumable`).
    if (config.learning_rate_schedule is None and config.steps_per_execution == 1 and not resumable
            and fit is training_strategies.fit_single_process):
        return None
    won_rows = trainer_input.count_won_rows(train_files, tft_output)
    if not won_rows:
        raise ValueError(f"The training files {list(train_files)[:3]} hold no won impressions (won=1); check the "
                         "ExampleGen train split and the WinPropensity output the Transform read.")
    return won_rows


def _win_module(win_model: Optional[Dict[str, Any]], raw_config: ModelConfig):
    """The WinPropensity model (a `to_dict()`) as a tf.Module over raw features, or None."""
    if not win_model:
        return None
    from mtl_keras.propensity.factory import win_model_from_dict

    return win_model_from_dict(win_model).to_tf_module(raw_config.features)


def _calibrate(model, config: ModelConfig, tft_output, custom_config: Dict[str, Any],
               eval_files: Optional[List[str]]):
    """(MultiTaskCalibration, report) fitted on the eval split, or (None, None) without settings."""
    settings = calibration_step.check_settings(custom_config.get(calibration_step.CALIBRATION_KEY),
                                               config.win_weighting)
    if settings is None:
        return None, None
    if not eval_files:
        raise ValueError("calibration needs the Trainer's eval split (fn_args.eval_files), which is empty.")
    dataset = make_dataset(eval_files, tft_output, config, shuffle=False, batch_size=4096)
    outputs, frame = calibration_step.eval_predictions(model, dataset, config.p_win_column)
    return calibration_step.fit(outputs, frame, settings, seed=config.seed)


def _unsharded_copy(model, config: ModelConfig):
    """The trained values in a model built outside the strategy, for export: a SavedModel of
    partitioned (ShardedVariable) tables does not load back; a checkpoint re-assembles them."""
    from mtl_keras.models import build_model

    directory = tempfile.mkdtemp(prefix="ps-model-")
    try:
        path = tf.train.Checkpoint(model=model).write(os.path.join(directory, "model"))
        copy = build_model(config, compile=False)
        copy(copy.dummy_features())
        tf.train.Checkpoint(model=copy).read(path).expect_partial().assert_existing_objects_matched()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return copy


def _move_tree(source: str, target: str) -> None:
    if "://" not in target:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        shutil.move(source, target)
        return
    for root, _, files in os.walk(source):
        relative = os.path.relpath(root, source)
        out = target if relative == "." else f"{target}/{relative}"
        tf.io.gfile.makedirs(out)
        for name in files:
            tf.io.gfile.copy(os.path.join(root, name), f"{out}/{name}", overwrite=True)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point: `Trainer(run_fn='tfx_pipeline.trainer.run_fn', custom_config=...)`."""
    train_and_export(
        train_files=fn_args.train_files,
        transform_output=fn_args.transform_output,
        serving_model_dir=fn_args.serving_model_dir,
        custom_config=fn_args.custom_config,
        train_steps=fn_args.train_steps or None,
        eval_files=fn_args.eval_files,
        tensorboard_dir=fn_args.model_run_dir,
        win_model=(fn_args.hyperparameters or {}).get(pipeline_names.TRAINER_WIN_MODEL_KEY),
        backup_dir=backup_dir_for(fn_args),
        won_rows=upstream_won_rows(fn_args.hyperparameters),
    )


def upstream_won_rows(hyperparameters: Optional[Dict[str, Any]]) -> Optional[int]:
    """The won rows of the train split, as counted by WinPropensity while writing them, or None."""
    counts = (hyperparameters or {}).get(pipeline_names.EXAMPLE_COUNTS_KEY) or {}
    return (counts.get(pipeline_names.TRAIN_SPLIT) or {}).get("won")


def backup_dir_for(fn_args) -> Optional[str]:
    """<Trainer dir>/backup/<hash of the inputs>: a rerun after a kill finds the killed run's checkpoint
    (each execution gets a new model_run_dir, so it cannot live there)."""
    if not fn_args.model_run_dir:
        return None
    key = json.dumps([fn_args.custom_config, sorted(fn_args.train_files or []), fn_args.transform_output,
                      fn_args.train_steps], sort_keys=True, default=str)
    trainer_dir = os.path.dirname(os.path.dirname(fn_args.model_run_dir.rstrip("/")))
    return f"{trainer_dir}/backup/{hashlib.sha256(key.encode()).hexdigest()[:16]}"
