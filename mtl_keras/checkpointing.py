"""Resumable training: a BackupAndRestore that saves at every epoch end and every N steps, and keeps
the finished epochs' logs, so that a killed `fit` rerun with the same backup directory trains only
what is left and reports the whole history.

Resuming after epoch k restores the weights, the optimizer (moments, step count, so the
learning-rate schedule) and the epoch counter; Keras then runs epochs k+1... A checkpoint taken
mid-epoch resumes at the next step of that epoch. What a resumed run cannot restore by itself is
the order of the data: see `mtl_keras.cli.train` for when a resumed run equals an uninterrupted one.
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, List, Optional, Tuple

import tf_keras as keras

HISTORY_FILE = "history.jsonl"
# WorkerTrainingState resumes at (epoch, batch + 1) only when save_freq is an int; a step count
# never reached stands for "epoch ends only" (epoch-end saves are made by this class).
_EPOCH_ENDS_ONLY = 2 ** 62


class EpochAndStepBackup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore(backup_dir)` saving after every epoch and, with
    `every_steps`, after every that many training steps; each finished epoch's logs are appended to
    `history_path` (JSON lines, one per epoch, before the checkpoint is written, so a checkpointed
    epoch always has its logs). The checkpoint is deleted when `fit` ends normally.

    Relies on tf_keras 2.16's WorkerTrainingState (its saved epoch/batch variables)."""

    def __init__(self, backup_dir: str, every_steps: Optional[int] = None, history_path: Optional[str] = None):
        if every_steps is not None and (isinstance(every_steps, bool) or not isinstance(every_steps, int)
                                        or every_steps < 1):
            raise ValueError(f"checkpoint every_steps must be a positive int or None, got {every_steps!r}.")
        super().__init__(backup_dir, save_freq=every_steps or _EPOCH_ENDS_ONLY)
        self.every_steps = every_steps
        self.history_path = history_path
        self._steps_since_save = 0
        self._last_batch = -1

    def _implements_train_batch_hooks(self):
        return self.every_steps is not None

    def on_train_batch_begin(self, batch, logs=None):
        self._last_batch = batch - 1  # the saved batch is set when saving: the last step finished

    def on_train_batch_end(self, batch, logs=None):
        if self.every_steps is None:  # called anyway when another callback has batch hooks
            return
        self._steps_since_save += batch - self._last_batch
        self._last_batch = batch
        if self._steps_since_save >= self.every_steps:
            self._save(self._current_epoch, batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.history_path:
            append_history(self.history_path, epoch, logs or {})
        steps = self.params.get("steps")
        self._save(epoch, steps - 1 if steps else self._last_batch)

    def _save(self, epoch: int, batch: int) -> None:
        self._steps_since_save = 0
        self._training_state._ckpt_saved_batch.assign(batch)
        self._backup(epoch=epoch, batch=batch)


def checkpoint_dir(backup_dir: str) -> str:
    """Where BackupAndRestore writes its checkpoint inside `backup_dir` (single worker)."""
    return os.path.join(backup_dir, "chief")


def resume_point(backup_dir: str) -> Optional[Tuple[int, int]]:
    """(epoch, batch) of the last step the checkpoint in `backup_dir` holds (0-based), None without one."""
    import tensorflow as tf

    path = tf.train.latest_checkpoint(checkpoint_dir(backup_dir))
    if path is None:
        return None
    reader = tf.train.load_checkpoint(path)
    return (int(reader.get_tensor("ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE")),
            int(reader.get_tensor("ckpt_saved_batch/.ATTRIBUTES/VARIABLE_VALUE")))


def saved_steps(backup_dir: str) -> int:
    """Optimizer steps the checkpoint in `backup_dir` holds (batches trained so far), 0 without one: where
    a resumed run's data must start for it to equal an uninterrupted one."""
    import tensorflow as tf

    path = tf.train.latest_checkpoint(checkpoint_dir(backup_dir))
    if path is None:
        return 0
    reader = tf.train.load_checkpoint(path)
    keys = sorted((k for k in reader.get_variable_to_shape_map()
                   if k.endswith("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")), key=len)
    return int(reader.get_tensor(keys[0])) if keys else 0


def describe_resume(backup_dir: str, history_path: str, epochs: int) -> str:
    """Where a resumed run continues, in words (an epoch with logs in `history_path` was finished)."""
    point = resume_point(backup_dir)
    if point is None:
        return "from the start (no checkpoint)"
    epoch, batch = point
    if epoch < len(read_history(history_path).get("loss", [])):
        return f"after epoch {epoch + 1}: training continues with epoch {epoch + 2} of {epochs}"
    return f"in epoch {epoch + 1} of {epochs} after step {batch + 1}: training continues with step {batch + 2}"


def _json_value(value) -> Optional[float]:
    value = float(value)
    return value if math.isfinite(value) else None


def append_history(path: str, epoch: int, logs: Dict) -> None:
    """Appends one epoch's logs as a JSON line (non-finite values as null)."""
    line = json.dumps({"epoch": int(epoch), "logs": {k: _json_value(v) for k, v in logs.items()}})
    needs_newline = os.path.exists(path) and os.path.getsize(path) > 0 and _last_byte(path) != b"\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(("\n" if needs_newline else "") + line + "\n")


def _last_byte(path: str) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def read_history(path: str) -> Dict[str, List[Optional[float]]]:
    """{metric: [value per epoch]} from `append_history` lines; a rerun epoch keeps its last record and a
    line cut short by a kill is skipped."""
    if not os.path.exists(path):
        return {}
    by_epoch: Dict[int, Dict] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
                by_epoch[int(record["epoch"])] = dict(record["logs"])
            except (ValueError, KeyError, TypeError):
                continue
    history: Dict[str, List[Optional[float]]] = {}
    for epoch in sorted(by_epoch):
        for key, value in by_epoch[epoch].items():
            history.setdefault(key, []).append(value)
    return history
