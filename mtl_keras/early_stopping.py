"""Early stopping on the validation loss or on one task metric (`ModelConfig.early_stopping_metric`).

The model logs, for every task of its objective, `<task>_auc`, `<task>_log_loss`, `<task>_ece`,
`<task>_calibration_ratio` and `<task>_loss` (the task's own loss), plus `loss` (the weighted
objective); Keras prefixes the validation values with `val_`. Early stopping can follow `loss` or
a task's AUC (higher is better), log loss, ECE or loss (lower is better). The calibration ratio is
best at 1, neither a minimum nor a maximum, so it cannot steer early stopping.

The task metrics are the streaming Keras metrics (AUC over 200 thresholds), computed as the tasks
define them: e.g. CVR metrics on clicked rows, CTR and CTCVR on every validation impression.
"""
from __future__ import annotations

from typing import Iterable, List

DEFAULT_METRIC = "loss"
# Task metric -> whether lower ("min") or higher ("max") is better.
TASK_METRIC_MODES = {"auc": "max", "log_loss": "min", "ece": "min", "loss": "min"}


def metric_names(task_names: Iterable[str]) -> List[str]:
    """The values early stopping can follow for these tasks: "loss" and "<task>_<metric>"."""
    return [DEFAULT_METRIC] + [f"{task}_{metric}" for task in task_names for metric in TASK_METRIC_MODES]


def check_metric(metric, task_names: Iterable[str], objective: str) -> None:
    """Raises a ValueError unless `metric` is one that a model with these tasks logs and can steer by."""
    task_names = list(task_names)
    allowed = metric_names(task_names)
    if metric in allowed:
        return
    hint = ""
    if isinstance(metric, str) and metric.startswith("val_"):
        hint = f" Write it without the 'val_' prefix ({metric[4:]!r}); the validation value is used."
    elif isinstance(metric, str) and metric.endswith("_calibration_ratio"):
        hint = " The calibration ratio is best at 1, neither a minimum nor a maximum: it cannot steer early stopping."
    elif isinstance(metric, str) and metric.split("_", 1)[0] not in task_names:
        hint = f" Objective {objective!r} has the tasks {task_names}."
    raise ValueError(f"ModelConfig.early_stopping_metric must be one of {allowed}, got {metric!r}.{hint}")


def mode(metric: str) -> str:
    """"min" or "max": the direction in which `metric` improves."""
    if metric == DEFAULT_METRIC:
        return "min"
    for name, direction in TASK_METRIC_MODES.items():
        if metric.endswith(f"_{name}"):
            return direction
    raise ValueError(f"Unknown early stopping metric {metric!r}.")


def callback(config):
    """The Keras EarlyStopping callback for `config`: follows `val_<early_stopping_metric>`, waits
    `early_stopping_patience` evaluations and restores the best weights."""
    import tf_keras as keras

    metric = config.early_stopping_metric
    return keras.callbacks.EarlyStopping(monitor=f"val_{metric}", mode=mode(metric),
                                         patience=config.early_stopping_patience, restore_best_weights=True)
