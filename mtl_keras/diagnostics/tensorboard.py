"""MultiTaskTensorBoard: per-epoch TensorBoard scalars of a MultiTaskModel, grouped by task.

Writes with `tf.summary` to two runs, `LOG_DIR/train` and `LOG_DIR/validation` (as keras'
TensorBoard does, so TensorBoard overlays the curves), at step = epoch:

- every numeric entry of the epoch logs: `<task>/<metric>` for a key `<task>_<metric>` (e.g.
  `ctr/auc`, `ctcvr/ece`, `cvr/calibration_ratio`, `ctr/loss`), `overall/<key>` for the others
  (`overall/loss`); `val_` keys go to the validation run under the same tag;
- the task weights (train run): `task_weights/<task>`, the effective weight of the task's loss
  (λ_k, or λ_k·exp(-s_k) with uncertainty weighting) and `task_log_variances/<task>` (s_k);
- with `sample_features` and a gated backbone (train run): `gates/<tower>/expert_<i>` and
  `gates/<tower>/entropy` (PLE: see `mtl_keras.diagnostics.gates.usage_scalars`).

It works alone and next to `keras.callbacks.TensorBoard` on the same LOG_DIR (its tags are
`epoch_*`, these are not).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras as keras

from mtl_keras.diagnostics.gates import feature_batch, gate_usage, usage_scalars

TRAIN_RUN = "train"
VALIDATION_RUN = "validation"
_log = logging.getLogger(__name__)


class MultiTaskTensorBoard(keras.callbacks.Callback):
    """Per-epoch scalars of a MultiTaskModel: metrics by task, task weights and gate usage.

    `log_dir`: where the `train` and `validation` runs go. `sample_features`: a fixed batch (dict
    of [batch] model inputs, or a DataFrame of raw rows encoded with the vocabularies of the model
    being trained) on which gate usage is computed each epoch; ignored (with a log line) when the
    backbone has no gates. `gates_every`: epochs between two gate computations (1: every epoch).
    """

    def __init__(self, log_dir: str, sample_features: Union[Mapping[str, Any], pd.DataFrame, None] = None,
                 gates_every: int = 1):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise ValueError(f"MultiTaskTensorBoard: `log_dir` must be a directory path, got {log_dir!r}.")
        if sample_features is not None and (not isinstance(sample_features, (Mapping, pd.DataFrame))
                                            or len(sample_features) == 0):
            raise ValueError("MultiTaskTensorBoard: `sample_features` must be a non-empty dict of feature name -> "
                             "[batch] values or a DataFrame of rows (or None for no gate usage), got "
                             f"{type(sample_features).__name__}.")
        if not isinstance(gates_every, int) or isinstance(gates_every, bool) or gates_every < 1:
            raise ValueError(f"MultiTaskTensorBoard: `gates_every` must be an int >= 1, got {gates_every!r}.")
        self.log_dir = str(log_dir)
        self.sample_features = sample_features
        self.gates_every = gates_every
        self._writers: Dict[str, Any] = {}
        self._with_gates = False
        self._sample: Optional[Dict[str, tf.Tensor]] = None

    def on_train_begin(self, logs=None):
        model = self.model
        if not hasattr(model, "task_weighting") or not hasattr(model, "model_config"):
            raise ValueError(f"MultiTaskTensorBoard: the model must be a mtl_keras MultiTaskModel, got "
                             f"{type(model).__name__}; use keras.callbacks.TensorBoard for other models.")
        self._with_gates = self.sample_features is not None and model.model_config.backbone.has_gates
        if self.sample_features is not None and not self._with_gates:
            _log.info("MultiTaskTensorBoard: backbone %r has no gates; sample_features are not used.",
                      model.model_config.backbone.name)
        if self._with_gates:
            # Checks the batch before an epoch is spent, without calling (building) the model.
            self._sample = feature_batch(model, self.sample_features)

    def _writer(self, run: str):
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_epoch_end(self, epoch, logs=None):
        train, validation = self.metric_scalars(logs or {})
        train.update(self.task_weight_scalars())
        if self._with_gates and epoch % self.gates_every == 0:
            train.update(usage_scalars(gate_usage(self.model, self._sample)))
        for run, scalars in ((TRAIN_RUN, train), (VALIDATION_RUN, validation)):
            if not scalars:
                continue
            with self._writer(run).as_default(step=epoch):
                for tag, value in scalars.items():
                    tf.summary.scalar(tag, value)
            self._writers[run].flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def metric_scalars(self, logs: Mapping[str, Any]):
        """(train, validation) dicts tag -> value of the numeric, finite-or-not entries of `logs`."""
        tasks = sorted(self.model.model_config.task_names, key=len, reverse=True)
        train, validation = {}, {}
        for key, value in logs.items():
            number = _scalar(value)
            if number is None:
                continue
            target, name = (validation, key[len("val_"):]) if key.startswith("val_") else (train, key)
            task = next((t for t in tasks if name.startswith(f"{t}_")), None)
            target[f"{task}/{name[len(task) + 1:]}" if task else f"overall/{name}"] = number
        return train, validation

    def task_weight_scalars(self) -> Dict[str, float]:
        """`task_weights/<task>`: the factor on the task's loss now; `task_log_variances/<task>`: s_k."""
        weighting = self.model.task_weighting
        out = {}
        for task in weighting.task_names:
            weight = weighting.task_weights[task]
            if weighting.method == "uncertainty" and getattr(weighting, "log_variances", None):
                s = float(weighting.log_variances[task].numpy())
                out[f"task_log_variances/{task}"] = s
                weight = weight * float(np.exp(-s))
            out[f"task_weights/{task}"] = float(weight)
        return out


def _scalar(value) -> Optional[float]:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array) if array.ndim == 0 else None
