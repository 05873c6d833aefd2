"""Fit and evaluate a MultiTaskModel on DataFrames (the path behind `mtl-ads train` and notebooks)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from mtl_keras import data, names
from mtl_keras.config import ModelConfig
from mtl_keras.metrics import calibration_ratio, expected_calibration_error, log_loss, roc_auc


def _columns(config: ModelConfig) -> List[str]:
    extra = list(names.LABEL_COLUMNS)
    return extra + [config.p_win_column] if config.win_weighting else extra


def prepare(frame: pd.DataFrame, config: ModelConfig):
    """Validated impression arrays of `frame` for `config` (lost requests are dropped: no labels)."""
    frame = data.impressions(frame)
    if frame.empty:
        raise ValueError("The data has no won impressions (won=1); the model trains on impressions only.")
    data.validate_frame(frame, config.features, p_win_column=config.p_win_column if config.win_weighting else None)
    return data.to_arrays(frame, config.features, extra=_columns(config))


def train(config: ModelConfig, train_frame: pd.DataFrame, eval_frame: Optional[pd.DataFrame] = None,
          verbose: int = 1, callbacks=None):
    """Builds, fits and returns (model, keras History)."""
    import tf_keras as keras

    from mtl_keras.models import build_model

    # Python, NumPy and TF seeds: tf_keras draws unseeded initializer seeds from Python's `random`.
    keras.utils.set_random_seed(config.seed)
    train_arrays = prepare(train_frame, config)
    train_ds = data.make_dataset(train_arrays, config.batch_size, shuffle=True, seed=config.seed)
    eval_ds = None
    if eval_frame is not None:
        eval_ds = data.make_dataset(prepare(eval_frame, config), config.batch_size)
    model = build_model(config)
    history = model.fit(train_ds, validation_data=eval_ds, epochs=config.epochs, verbose=verbose,
                        callbacks=callbacks)
    return model, history


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
