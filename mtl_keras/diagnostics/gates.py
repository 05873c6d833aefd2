"""Gate usage of an MMoE or PLE model on a batch: mean gate weight per gate and expert, and entropy.

No retraining: the gates are read from the model as it is. `gate_usage` returns

    {"backbone": "mmoe" | "ple" | ..., "rows": int,
     "levels": [{"name": "level_0", "gates": [...], "experts": [...],
                 "mean": {gate: {expert: float}}, "entropy": {gate: float}}, ...],
     "mean": {tower: {expert: float}}, "entropy": {tower: float}}

`levels` has one entry for MMoE and one per CGC level for PLE (gates: the towers, then "shared"
in non-final levels; experts: "<tower>_<j>" task experts, then "shared_<j>"). A gate's `mean` only
lists the experts it mixes. Top-level `mean` / `entropy` are the final level's tower gates, those
of `MultiTaskModel.gate_weights`. Entropy is in nats, averaged over rows (uniform over n: ln n).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Sequence, Union

import numpy as np
import pandas as pd
import tensorflow as tf

from mtl_keras import data

SHARED_GATE = "shared"


def _check_model(model) -> None:
    config = getattr(model, "model_config", None)
    if config is None or not hasattr(model, "gate_weights"):
        raise ValueError(f"gate_usage: `model` must be a mtl_keras MultiTaskModel, got {type(model).__name__}; "
                         "build one with mtl_keras.models.build_model.")
    if not config.backbone.has_gates:
        raise ValueError(f"gate_usage: the model's backbone {config.backbone.name!r} has no gates; train a model "
                         "with a gated backbone (mmoe or ple) to look at gate usage.")


def feature_batch(model, features: Union[Mapping[str, Any], pd.DataFrame]) -> Dict[str, tf.Tensor]:
    """The model's feature columns of `features` as tensors, checked (ValueError naming the problem).

    A DataFrame holds raw rows, encoded as training encodes them (`mtl_keras.data.to_arrays`, with
    the vocabularies of the model's config); a dict holds model inputs as they are.
    """
    is_frame = isinstance(features, pd.DataFrame)
    if not (is_frame or isinstance(features, Mapping)) or len(features) == 0:
        raise ValueError("gate_usage: `features` must be a non-empty dict of feature name -> [batch] values or a "
                         f"DataFrame of rows, got {type(features).__name__}.")
    missing = [n for n in model.model_config.features.names if n not in features]
    if missing:
        raise ValueError(f"gate_usage: `features` lacks the model's features {missing}; pass a batch holding "
                         f"every feature of the model ({model.model_config.features.names}).")
    if is_frame:
        features = data.to_arrays(features, model.model_config.features)
    tensors = {n: tf.convert_to_tensor(features[n]) for n in model.model_config.features.names}
    sizes = {n: int(t.shape[0]) if t.shape.rank else 0 for n, t in tensors.items()}
    if len(set(sizes.values())) != 1 or 0 in sizes.values():
        raise ValueError(f"gate_usage: every feature of `features` must be a non-empty [batch] column of one "
                         f"length; got rows {sizes}.")
    return tensors


def _ple_levels(layer, towers: Sequence[str], raw: Sequence[Sequence[tf.Tensor]]) -> List[dict]:
    task_experts = [f"{t}_{j}" for t in towers for j in range(layer.num_task_experts)]
    shared = [f"{SHARED_GATE}_{j}" for j in range(layer.num_shared_experts)]
    levels = []
    for index, weights in enumerate(raw):
        gates = {t: weights[k] for k, t in enumerate(towers)}
        sees = {t: [f"{t}_{j}" for j in range(layer.num_task_experts)] + shared for t in towers}
        if len(weights) > len(towers):  # non-final levels: the shared gate over every expert
            gates[SHARED_GATE] = weights[len(towers)]
            sees[SHARED_GATE] = task_experts + shared
        levels.append(_level(f"level_{index}", gates, sees, task_experts + shared))
    return levels


def _level(name: str, gates: Mapping[str, tf.Tensor], sees: Mapping[str, List[str]],
           experts: List[str]) -> dict:
    mean, entropy = {}, {}
    for gate, weights in gates.items():
        p = np.asarray(weights, dtype=np.float64)
        mean[gate] = dict(zip(sees[gate], (float(v) for v in p.mean(axis=0))))
        logs = np.log(np.where(p > 0, p, 1.0))
        entropy[gate] = float(np.mean(-np.sum(p * logs, axis=1)))
    return {"name": name, "gates": list(gates), "experts": list(experts), "mean": mean, "entropy": entropy}


def gate_usage(model, features: Union[Mapping[str, Any], pd.DataFrame]) -> Dict[str, Any]:
    """Mean gate weight per gate and expert, and mean gate entropy, of `model` on the batch `features`.

    `model`: a MultiTaskModel with a gated backbone (mmoe, ple). `features`: dict of [batch]
    columns holding the model's features, or a DataFrame of raw rows (see `feature_batch`); extra
    columns such as labels are ignored.
    """
    from mtl_keras.layers import MMoE, PLE

    _check_model(model)
    tensors = feature_batch(model, features)
    towers = list(model.model_config.tower_names)
    layer = model.backbone
    if isinstance(layer, PLE):
        # Every CGC level, not only the final one MultiTaskModel.gate_weights returns.
        _, raw = layer(model._bottom(tensors), return_gate_weights=True)
        levels = _ple_levels(layer, towers, raw)
    else:
        final = model.gate_weights(tensors)
        count = layer.num_experts if isinstance(layer, MMoE) else int(next(iter(final.values())).shape[-1])
        experts = [f"expert_{i}" for i in range(count)]
        levels = [_level("level_0", final, {t: experts for t in final}, experts)]
    last = levels[-1]
    return {
        "backbone": model.model_config.backbone.name,
        "rows": int(next(iter(tensors.values())).shape[0]),
        "levels": levels,
        "mean": {t: dict(last["mean"][t]) for t in towers},
        "entropy": {t: last["entropy"][t] for t in towers},
    }


def usage_scalars(usage: Mapping[str, Any], prefix: str = "gates") -> Dict[str, float]:
    """Flat scalar names of `usage`: `<prefix>/<gate>/<expert>` and `<prefix>/<gate>/entropy`, with
    `level_<j>/` after the prefix when there are several levels (PLE with num_levels > 1)."""
    levels = _check_usage(usage)
    out = {}
    for level in levels:
        base = f"{prefix}/{level['name']}" if len(levels) > 1 else prefix
        for gate in level["gates"]:
            for expert, value in level["mean"][gate].items():
                out[f"{base}/{gate}/{expert}"] = value
            out[f"{base}/{gate}/entropy"] = level["entropy"][gate]
    return out


def _check_usage(usage: Mapping[str, Any]) -> List[dict]:
    levels = usage.get("levels") if isinstance(usage, Mapping) else None
    if not levels:
        raise ValueError("`usage` must be the dict gate_usage(model, features) returns (with a non-empty 'levels' "
                         f"list); got {type(usage).__name__}.")
    return list(levels)


def plot_gate_usage(usage: Mapping[str, Any], path: str) -> str:
    """Writes a heatmap PNG of `usage` (gates x experts, one panel per level) to `path`; returns it.

    Cells a gate does not mix are left blank. Uses matplotlib's Agg canvas (no display needed, the
    pyplot backend is left alone).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    levels = _check_usage(usage)
    if not isinstance(path, (str, os.PathLike)) or not str(path).lower().endswith(".png"):
        raise ValueError(f"plot_gate_usage: `path` must be a .png file name, got {path!r}.")
    width = sum(max(3.0, 0.9 * len(level["experts"]) + 2.5) for level in levels) + 1.0
    height = max(2.5, 0.6 * max(len(level["gates"]) for level in levels) + 1.5)
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(levels), squeeze=False)[0]
    image = None
    for ax, level in zip(axes, levels):
        matrix = np.full((len(level["gates"]), len(level["experts"])), np.nan)
        for i, gate in enumerate(level["gates"]):
            for expert, value in level["mean"][gate].items():
                matrix[i, level["experts"].index(expert)] = value
        image = ax.imshow(np.ma.masked_invalid(matrix), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if value < 0.6 else "black")
        ax.set_xticks(range(len(level["experts"])), level["experts"], rotation=45, ha="right")
        ax.set_yticks(range(len(level["gates"])),
                      [f"{g} (H={level['entropy'][g]:.2f})" for g in level["gates"]])
        ax.set_title(f"{usage.get('backbone', '')} {level['name']}".strip())
    figure.colorbar(image, ax=list(axes), label="mean gate weight")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return str(path)
