"""Per-row example weights: a weight column per task (`ModelConfig.weight_columns`) and 1/p_win.

Producers of a row's weight, multiplied together for each task:
  * the win weight 1/max(p_win, floor) capped at clip (`ModelConfig.win_weighting`), or 1;
  * the task's weight column (`weight_columns[task]`, else `weight_columns["*"]`), or 1: any
    importance or business weight >= 0, for example a row standing for c identical rows.

A task without a weight column gets exactly the weights of a model without weight columns (win
weights self-normalised to batch mean 1 with `win_self_normalize`, raw otherwise, or ones). A task
with one gets u_i = win_i · c_i divided by its batch mean, or, when win weights are not
self-normalised, by the batch mean of c: every impression-space mean (1/N) Σ u_i L_i is then
Σ win_i c_i L_i / Σ win_i c_i (resp. Σ win_i c_i L_i / Σ c_i), so a row of weight 2 contributes
exactly as that row duplicated (same loss, same gradients), and the losses' N becomes Σ c.

Metrics (`ModelConfig.weighted_metrics`): False (default) keeps every metric unweighted, as
without weight columns; True gives each task's metrics the raw per-row weight win_i · c_i (never
batch-normalised, so batches are weighted consistently), times the task's own metric mask.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional

import numpy as np

ALL_TASKS = "*"


def check_weight_columns(weight_columns, task_names: Iterable[str], objective: str) -> Optional[Dict[str, str]]:
    """The config's `weight_columns` as a dict, or None; raises naming a bad key or column."""
    if weight_columns is None:
        return None
    if not isinstance(weight_columns, dict):
        raise ValueError("ModelConfig.weight_columns must be a dict task -> column ('*': every task), got "
                         f"{weight_columns!r}.")
    tasks = list(task_names)
    for task, column in weight_columns.items():
        if task != ALL_TASKS and task not in tasks:
            raise ValueError(f"ModelConfig.weight_columns names task {task!r}, which objective {objective!r} does "
                             f"not have; its tasks are {sorted(tasks)}, or use '*' for every task.")
        if not isinstance(column, str) or not column:
            raise ValueError(f"ModelConfig.weight_columns[{task!r}] must be a column name, got {column!r}.")
    return dict(weight_columns)


def task_column(weight_columns: Optional[Dict[str, str]], task: str) -> Optional[str]:
    """The weight column of `task`: its own entry, else the '*' entry, else None."""
    if not weight_columns:
        return None
    return weight_columns.get(task, weight_columns.get(ALL_TASKS))


def columns(weight_columns: Optional[Dict[str, str]]) -> List[str]:
    """The distinct weight columns, in the order given."""
    return list(dict.fromkeys((weight_columns or {}).values()))


def validate_frame_weights(frame, weight_columns: Optional[Dict[str, str]]) -> None:
    """Every weight column exists, is numeric, finite and >= 0, and not all zero; else a ValueError naming it."""
    for column in columns(weight_columns):
        tasks = sorted(t for t, c in weight_columns.items() if c == column)
        where = f"weight column {column!r} (ModelConfig.weight_columns, tasks {tasks})"
        if column not in frame.columns:
            raise ValueError(f"The {where} is not a column of the data; add it or remove it from weight_columns.")
        values = frame[column]
        if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise ValueError(f"The {where} must be numeric, got dtype {values.dtype}; cast it to float.")
        values = values.to_numpy(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"The {where} has {int(bad.sum())} NaN or infinite values (first at row "
                             f"{int(np.argmax(bad))}); fill or drop those rows.")
        if (values < 0).any():
            raise ValueError(f"The {where} has {int((values < 0).sum())} negative values (min {values.min()}); "
                             "weights must be >= 0.")
        if len(values) and not (values > 0).any():
            raise ValueError(f"The {where} is 0 on every row: nothing would be learned; give some rows weight > 0.")


def combine_np(win_raw, column_weight, normalize_product: bool) -> np.ndarray:
    """The numpy twin of `combine` (for mtl_keras.estimators' example_weight), mean over the last axis."""
    column_weight = np.asarray(column_weight, np.float64)
    product = column_weight if win_raw is None else np.asarray(win_raw, np.float64) * column_weight
    scale = (product if normalize_product else column_weight).mean(axis=-1, keepdims=True)
    return np.divide(product, scale, out=np.zeros_like(product), where=scale != 0)


def combine(win_raw, column_weight, normalize_product: bool):
    """Per-row task weight u = win_raw · c over its batch mean (normalize_product) or over mean(c)."""
    import tensorflow as tf

    column_weight = tf.reshape(tf.cast(column_weight, tf.float32), [-1])
    product = column_weight if win_raw is None else win_raw * column_weight
    scale = product if normalize_product else column_weight
    return tf.math.divide_no_nan(product, tf.reduce_mean(scale))
