"""Gate usage read back from the Trainer's TensorBoard logdir (the ModelRun artifact).

`MultiTaskTensorBoard` writes `gates/<gate>/<expert>` and `gates/<gate>/entropy` per epoch to the
`train` run (`gates/level_<j>/...` with several PLE levels). `gate_usage_from_logdir` turns the last
epoch's scalars back into the dict `mtl_keras.diagnostics.gates.gate_usage` returns, so
`plot_gate_usage` draws it without loading the model.
"""
from __future__ import annotations

import glob
import os
from typing import Any, Dict, Optional

from mtl_keras.diagnostics.tensorboard import TRAIN_RUN

PREFIX = "gates/"


def last_scalars(logdir: str, prefix: str = PREFIX) -> Dict[str, float]:
    """tag -> value at the highest step, for the tags under `prefix` in `logdir`'s event files."""
    import tensorflow as tf

    if not isinstance(logdir, (str, os.PathLike)) or not os.path.isdir(logdir):
        raise ValueError(f"last_scalars: `logdir` {logdir!r} is not a directory; pass the TensorBoard run directory "
                         "(the Trainer's ModelRun URI + '/train').")
    latest: Dict[str, tuple] = {}
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if not value.tag.startswith(prefix):
                    continue
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                if value.tag not in latest or event.step >= latest[value.tag][0]:
                    latest[value.tag] = (event.step, number)
    return {tag: number for tag, (_, number) in latest.items()}


def gate_usage_from_logdir(model_run_uri: str, backbone: str = "") -> Optional[Dict[str, Any]]:
    """The last epoch's gate usage of a Trainer's ModelRun as a `gate_usage` dict; None without gate scalars."""
    logdir = os.path.join(model_run_uri, TRAIN_RUN)
    if not os.path.isdir(logdir):
        return None
    scalars = last_scalars(logdir)
    levels: Dict[str, Dict[str, Any]] = {}
    for tag, value in scalars.items():
        parts = tag[len(PREFIX):].split("/")
        level = parts.pop(0) if len(parts) == 3 and parts[0].startswith("level_") else "level_0"
        if len(parts) != 2:
            continue
        gate, name = parts
        entry = levels.setdefault(level, {"name": level, "gates": [], "experts": [], "mean": {}, "entropy": {}})
        if gate not in entry["gates"]:
            entry["gates"].append(gate)
        if name == "entropy":
            entry["entropy"][gate] = value
            continue
        if name not in entry["experts"]:
            entry["experts"].append(name)
        entry["mean"].setdefault(gate, {})[name] = value
    if not levels:
        return None
    ordered = [levels[k] for k in sorted(levels, key=lambda k: int(k.split("_")[-1]))]
    for level in ordered:
        for gate in level["gates"]:
            level["entropy"].setdefault(gate, float("nan"))
            level["mean"].setdefault(gate, {})
    last = ordered[-1]
    return {"backbone": backbone, "levels": ordered, "mean": dict(last["mean"]), "entropy": dict(last["entropy"])}
