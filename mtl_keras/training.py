"""Fit and evaluate a MultiTaskModel on DataFrames (the path behind `mtl-ads train` and notebooks)."""
from __future__ import annotations

import dataclasses
import logging
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd

from mtl_keras import data, early_stopping, names, row_weights, sample_spaces
from mtl_keras.config import ModelConfig
# Re-exported: training.predict / evaluate / binary_report are the documented entry points.
from mtl_keras.evaluation import binary_report, evaluate, predict  # noqa: F401

logger = logging.getLogger(__name__)


def _click_propensity_column(config: ModelConfig) -> Optional[str]:
    """The data column the ESCM² click weights read, if the objective has them and one is set."""
    return getattr(config.objective, "click_propensity_column", None)


def _check_funnel(frame: pd.DataFrame, config: ModelConfig) -> None:
    """`won` and `click` hold only 0/1 and no lost request has a click, before rows are chosen by them."""
    if names.WON in frame.columns:
        won = frame[names.WON]
        bad = int((~won.isin([0, 1])).sum())
        if bad:
            raise ValueError(f"Column {names.WON!r} must hold only 0 (lost auction) and 1 (won); {bad} of {len(frame)} "
                             f"rows hold other values (e.g. {won[~won.isin([0, 1])].iloc[0]!r}) or NaN. Fix the log "
                             "join; rows are not dropped silently.")
    if names.CLICK in frame.columns and (names.CLICK in config.objective.labels or config.objective.clicked_rows_only):
        click = frame[names.CLICK]
        if click.isna().any() or not click.isin([0, 1]).all():
            raise ValueError(f"Label column {names.CLICK!r} must hold only 0 and 1; it has "
                             f"{int((~click.isin([0, 1])).sum())} other values (or NaN).")
        if names.CONVERSION in frame.columns:
            bad = int(((frame[names.CONVERSION] == 1) & (click == 0)).sum())
            if bad:
                raise ValueError(f"{bad} rows have conversion=1 but click=0; conversions are observed only after "
                                 "clicks. Fix the log join.")
        if names.WON in frame.columns:
            lost_clicks = int(((frame[names.WON] == 0) & (click == 1)).sum())
            if lost_clicks:
                raise ValueError(f"{lost_clicks} rows have click=1 on a lost auction (won=0); a click needs an "
                                 "impression. Fix the log join.")


def prepare(frame: pd.DataFrame, config: ModelConfig):
    """Validated arrays of `frame`'s rows for `config`: the union of the tasks' sample spaces
    (`mtl_keras.sample_spaces`; by default the impressions, lost requests dropped: no labels), plus a
    0/1 mask column per task whose space is not every kept row.

    Only the objective's labels (`config.objective.labels`) must be columns: CTR-only data needs no
    conversion column; CVR-only data (objective `cvr`) needs no click column, and when it has one,
    its click=0 rows are dropped (the count is logged at WARNING on `mtl_keras.training`).
    """
    _check_funnel(frame, config)
    if names.WON in frame.columns and not (frame[names.WON] == 1).any() and all(
            sample_spaces.resolve(config.sample_spaces, t, config.objective) in (sample_spaces.IMPRESSION,
                                                                                 sample_spaces.CLICK)
            for t in config.task_names):
        raise ValueError("The data has no won impressions (won=1); the model trains on impressions only.")
    kept, masks = sample_spaces.select(frame, config)
    if config.objective.clicked_rows_only and names.CLICK in frame.columns and len(kept) < len(frame):
        logger.warning("Objective %r trains on clicked rows only: dropped %d of %d rows with click=0.",
                       config.objective.name, len(frame) - len(kept), len(frame))
    frame = kept
    data.validate_frame(frame, config.features, labels=config.objective.labels,
                        p_win_column=config.p_win_column if config.win_weighting else None)
    column = _click_propensity_column(config)
    if column:
        if column not in frame.columns:
            raise ValueError(f"click_propensity_column {column!r} is not a column of the data; add it or set "
                             "click_propensity_column=None to use the model's pCTR.")
        values = frame[column].to_numpy(np.float64)
        if not np.all((values > 0) & (values <= 1)):
            raise ValueError(f"click_propensity_column {column!r} must hold probabilities in (0, 1]; found values "
                             f"in [{np.nanmin(values)}, {np.nanmax(values)}] or NaN.")
    row_weights.validate_frame_weights(frame, config.weight_columns)
    arrays = data.to_arrays(frame, config.features, extra=config.data_columns)
    arrays.update({sample_spaces.mask_column(task): mask for task, mask in masks.items()})
    return arrays


def train(config: ModelConfig, train_frame: pd.DataFrame, eval_frame: Optional[pd.DataFrame] = None,
          verbose: int = 1, callbacks=None, validation_frame: Optional[pd.DataFrame] = None,
          first_step: int = 0):
    """Builds, fits and returns (model, keras History).

    Validation rows steer training when `config.validation_fraction` > 0 (that share of the
    training impressions, drawn with `config.seed`, is held out) or when `validation_frame` is
    given (its impressions; not both): `config.early_stopping_metric` (default the loss) is
    computed on them `evaluations_per_epoch` times per epoch, training stops after
    `early_stopping_patience` evaluations without improvement, the best weights are restored and
    then, with `intercept_refit_steps`, the output biases are refitted on them. Otherwise
    `eval_frame`, when given, is evaluated after every epoch (reported in the History, never
    steering training; ignored when validation_fraction > 0).

    Vocabularies still to learn (features with `num_oov_buckets` and no `vocabulary`) are learned
    from `train_frame`: use the returned `model.model_config` afterwards.

    `first_step`: the optimizer steps a killed run already took (resuming with a
    keras.callbacks.BackupAndRestore callback): the data stream continues at that batch, so the
    resumed run sees the batches an uninterrupted one would.

    With `config.learning_rate_schedule`, the schedule runs over the planned optimizer steps
    (epochs x batches per epoch), whether or not early stopping ends training sooner.
    """
    import tf_keras as keras

    from mtl_keras.models import build_model

    if validation_frame is not None and config.validation_fraction > 0:
        raise ValueError(f"Give either validation_frame or validation_fraction > 0 (got "
                         f"{config.validation_fraction}), not both: both choose the rows that steer early stopping.")
    if validation_frame is not None and eval_frame is not None:
        raise ValueError("Give either validation_frame (steers early stopping) or eval_frame (only reported), "
                         "not both.")
    steered = config.validation_fraction > 0 or validation_frame is not None
    if not steered and config.early_stopping_metric != early_stopping.DEFAULT_METRIC:
        raise ValueError(f"early_stopping_metric={config.early_stopping_metric!r} needs validation rows: set "
                         "validation_fraction > 0 or pass validation_frame.")
    # Features declared with num_oov_buckets and no vocabulary yet learn it from the training
    # rows; the returned model's config holds it, and so does everything saved from it.
    if any(f.learns_vocabulary and f.vocabulary is None for f in config.features.categorical):
        from mtl_keras.vocabulary import learn_vocabularies

        config = dataclasses.replace(config, features=learn_vocabularies(config.features, train_frame))
    # Python, NumPy and TF seeds: tf_keras draws unseeded initializer seeds from Python's `random`.
    keras.utils.set_random_seed(config.seed)
    train_arrays = prepare(train_frame, config)
    fit_args = dict(epochs=config.epochs, verbose=verbose, callbacks=list(callbacks or []))
    validation = None
    if config.validation_fraction > 0:
        train_arrays, validation = _hold_out(train_arrays, config.validation_fraction, config.seed)
    elif validation_frame is not None:
        validation = prepare(validation_frame, config)
    elif eval_frame is not None:
        validation = prepare(eval_frame, config)
    if steered:
        fit_args["callbacks"].append(early_stopping.callback(config))
    repeat = config.evaluations_per_epoch > 1
    train_ds = data.make_dataset(train_arrays, config.batch_size, shuffle=True, seed=config.seed,
                                 first_step=first_step, repeat=repeat)
    steps = -(-len(next(iter(train_arrays.values()))) // config.batch_size)
    total_steps = config.epochs * steps
    if repeat:
        # Keras validates at the end of its epochs: cut each pass over the data into that many.
        fit_args.update(epochs=config.epochs * config.evaluations_per_epoch,
                        steps_per_epoch=-(-steps // config.evaluations_per_epoch))
        total_steps = fit_args["epochs"] * fit_args["steps_per_epoch"]
    if validation is not None:
        fit_args["validation_data"] = data.make_dataset(validation, max(config.batch_size, 4096))
    model = build_model(config, total_steps=total_steps)
    history = model.fit(train_ds, **fit_args)
    if steered and config.intercept_refit_steps:
        refit_intercepts(model, validation, config.intercept_refit_steps)
    return model, history


# Rows of the held-out split used to refit the intercepts (one full batch per step).
_REFIT_ROWS = 262_144


def refit_intercepts(model, arrays: Dict[str, np.ndarray], steps: int, learning_rate: float = 0.05,
                     seed: int = 0) -> Dict[str, float]:
    """Refits only the towers' output biases on held-out rows, every other weight frozen.

    The loss is the model's own training objective (same task weights, same 1/p_win and 1/pCTR
    weighting), so at the optimum its score equation in each intercept holds on held-out rows:
    e.g. for the CTR tower Σ w_i (click_i − pCTR_i) = 0, i.e. the weighted mean prediction equals
    the weighted mean label in the space the weights target. Early stopping leaves the intercepts
    wherever the rest of the model started to overfit (and an overfit model under-predicts rare
    positives out of sample); this puts them back on held-out evidence. Full-batch Adam over at
    most 262,144 rows (a seeded subsample beyond that). Returns the biases' shifts by tower.
    """
    import tensorflow as tf
    import tf_keras as keras

    n = len(next(iter(arrays.values())))
    if n > _REFIT_ROWS:
        keep = np.sort(np.random.default_rng([seed, 2]).choice(n, _REFIT_ROWS, replace=False))
        arrays = {k: v[keep] for k, v in arrays.items()}
    batch = {k: tf.constant(v) for k, v in arrays.items()}
    biases = [tower.logit.bias for tower in model.towers]
    before = [b.numpy().copy() for b in biases]
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = model.compute_loss(batch, training=False)
        optimizer.apply_gradients(zip(tape.gradient(loss, biases), biases))
        return loss

    for _ in range(steps):
        step()
    model.reset_metrics()  # compute_loss(training=False) updated the task metrics
    return {tower: float(b.numpy()[0] - b0[0]) for tower, b, b0 in zip(model.model_config.tower_names, biases, before)}


def _hold_out(arrays: Dict[str, np.ndarray], fraction: float, seed: int):
    n = len(next(iter(arrays.values())))
    held = np.random.default_rng([seed, 1]).random(n) < fraction
    if held.all() or not held.any():
        raise ValueError(f"validation_fraction={fraction} holds out {int(held.sum())} of {n} impressions; "
                         "give more data or a validation_fraction that leaves rows on both sides.")
    return {k: v[~held] for k, v in arrays.items()}, {k: v[held] for k, v in arrays.items()}


def split(frame: pd.DataFrame, eval_fraction: float, seed: int) -> Tuple[pd.DataFrame, pd.DataFrame]:
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}.")
    rng = np.random.default_rng(seed)
    is_eval = rng.random(len(frame)) < eval_fraction
    return frame[~is_eval].reset_index(drop=True), frame[is_eval].reset_index(drop=True)
