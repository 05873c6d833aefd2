"""Fit and evaluate a MultiTaskModel on DataFrames (the path behind `mtl-ads train` and notebooks)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from mtl_keras import data, names
from mtl_keras.config import ModelConfig
from mtl_keras.metrics import calibration_ratio, expected_calibration_error, log_loss, roc_auc


def _click_propensity_column(config: ModelConfig) -> Optional[str]:
    """The data column the ESCM² click weights read, if the objective has them and one is set."""
    return getattr(config.objective, "click_propensity_column", None)


def prepare(frame: pd.DataFrame, config: ModelConfig):
    """Validated impression arrays of `frame` for `config` (lost requests are dropped: no labels)."""
    frame = data.impressions(frame)
    if frame.empty:
        raise ValueError("The data has no won impressions (won=1); the model trains on impressions only.")
    data.validate_frame(frame, config.features, p_win_column=config.p_win_column if config.win_weighting else None)
    column = _click_propensity_column(config)
    if column:
        if column not in frame.columns:
            raise ValueError(f"click_propensity_column {column!r} is not a column of the data; add it or set "
                             "click_propensity_column=None to use the model's pCTR.")
        values = frame[column].to_numpy(np.float64)
        if not np.all((values > 0) & (values <= 1)):
            raise ValueError(f"click_propensity_column {column!r} must hold probabilities in (0, 1]; found values "
                             f"in [{np.nanmin(values)}, {np.nanmax(values)}] or NaN.")
    return data.to_arrays(frame, config.features, extra=config.data_columns)


def train(config: ModelConfig, train_frame: pd.DataFrame, eval_frame: Optional[pd.DataFrame] = None,
          verbose: int = 1, callbacks=None):
    """Builds, fits and returns (model, keras History).

    With `config.validation_fraction` > 0, that share of the training impressions (drawn with
    `config.seed`) is held out: the validation loss is computed `evaluations_per_epoch` times per
    epoch, training stops after `early_stopping_patience` evaluations without improvement and the
    best weights are restored. Otherwise `eval_frame`, when given, is evaluated after every epoch
    (reported in the History, never steering training).
    """
    import tf_keras as keras

    from mtl_keras.models import build_model

    # Python, NumPy and TF seeds: tf_keras draws unseeded initializer seeds from Python's `random`.
    keras.utils.set_random_seed(config.seed)
    train_arrays = prepare(train_frame, config)
    fit_args = dict(epochs=config.epochs, verbose=verbose, callbacks=list(callbacks or []))
    validation = None
    if config.validation_fraction > 0:
        train_arrays, validation = _hold_out(train_arrays, config.validation_fraction, config.seed)
        fit_args["callbacks"].append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True))
    elif eval_frame is not None:
        validation = prepare(eval_frame, config)
    train_ds = data.make_dataset(train_arrays, config.batch_size, shuffle=True, seed=config.seed)
    if config.evaluations_per_epoch > 1:
        # Keras validates at the end of its epochs: cut each pass over the data into that many.
        steps = int(train_ds.cardinality())
        train_ds = train_ds.repeat()
        fit_args.update(epochs=config.epochs * config.evaluations_per_epoch,
                        steps_per_epoch=-(-steps // config.evaluations_per_epoch))
    if validation is not None:
        fit_args["validation_data"] = data.make_dataset(validation, max(config.batch_size, 4096))
    model = build_model(config)
    history = model.fit(train_ds, **fit_args)
    if config.validation_fraction > 0 and config.intercept_refit_steps:
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


def predict(model, frame: pd.DataFrame, batch_size: int = 8192) -> Dict[str, np.ndarray]:
    """Predictions for every row of `frame` (requests or impressions) as flat numpy arrays."""
    spec = model.model_config.features
    data.validate_frame(frame, spec, labels=())
    dataset = data.make_dataset(data.to_arrays(frame, spec), batch_size)
    outputs = model.predict(dataset, verbose=0)
    return {k: np.asarray(v).reshape(-1) for k, v in outputs.items()}


def binary_report(labels, preds, num_bins: int = 10) -> Dict[str, float]:
    labels = np.asarray(labels, dtype=np.float64)
    return {
        "count": int(labels.size),
        "positives": int(labels.sum()),
        "auc": roc_auc(labels, preds),
        "log_loss": log_loss(labels, preds),
        "ece": expected_calibration_error(labels, preds, num_bins=num_bins),
        "calibration_ratio": calibration_ratio(labels, preds),
    }


def evaluate(model, frame: pd.DataFrame, num_bins: int = 10) -> Dict[str, Dict[str, float]]:
    """Exact per-task metrics on the impressions of `frame`: CTR and CTCVR over impressions, CVR over clicks."""
    frame = data.impressions(frame)
    preds = predict(model, frame)
    click = frame[names.CLICK].to_numpy(np.float64)
    conversion = frame[names.CONVERSION].to_numpy(np.float64)
    clicked = click == 1
    return {
        names.CTR: binary_report(click, preds[names.P_CTR], num_bins),
        names.CTCVR: binary_report(click * conversion, preds[names.P_CTCVR], num_bins),
        names.CVR: binary_report(conversion[clicked], preds[names.P_CVR][clicked], num_bins),
    }


def split(frame: pd.DataFrame, eval_fraction: float, seed: int) -> Tuple[pd.DataFrame, pd.DataFrame]:
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}.")
    rng = np.random.default_rng(seed)
    is_eval = rng.random(len(frame)) < eval_fraction
    return frame[~is_eval].reset_index(drop=True), frame[is_eval].reset_index(drop=True)
