"""make_win_model / load_win_model: win models by kind name."""
from __future__ import annotations

import json
import pathlib
from typing import Any, Dict

from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.cox import CoxWinModel
from mtl_keras.propensity.kaplan_meier import KaplanMeierWinModel
from mtl_keras.propensity.km_segment import SegmentedKaplanMeierWinModel
from mtl_keras.propensity.lognormal_aft import LogNormalAFTWinModel
from mtl_keras.propensity.neural import NeuralWinModel
from mtl_keras.propensity.weibull_aft import WeibullAFTWinModel

MODEL_CLASSES = {
    cls.kind: cls
    for cls in (KaplanMeierWinModel, SegmentedKaplanMeierWinModel, CoxWinModel, WeibullAFTWinModel, LogNormalAFTWinModel,
                NeuralWinModel)
}
# The kinds accepted by make_win_model (and the CLI, the pipeline's WinPropensity component).
WIN_MODEL_KINDS = tuple(MODEL_CLASSES)


def make_win_model(kind: str, **kwargs: Any) -> WinPropensityModel:
    """A new, unfitted win model: kind one of km, km_segment, cox, weibull_aft, lognormal_aft, neural."""
    if kind not in MODEL_CLASSES:
        raise ValueError(f"Unknown win model kind {kind!r}; use one of {list(MODEL_CLASSES)}.")
    try:
        return MODEL_CLASSES[kind](**kwargs)
    except TypeError as err:  # an argument the model does not take
        raise ValueError(f"Win model {kind!r}: {err}.") from None


def win_model_from_dict(data: Dict[str, Any]) -> WinPropensityModel:
    kind = data.get("kind")
    if kind not in MODEL_CLASSES:
        raise ValueError(f"Saved win model has kind {kind!r}; expected one of {list(MODEL_CLASSES)}.")
    return MODEL_CLASSES[kind].from_dict(data)


def load_win_model(path) -> WinPropensityModel:
    """Loads a model written by `WinPropensityModel.save`."""
    return win_model_from_dict(json.loads(pathlib.Path(path).read_text()))
