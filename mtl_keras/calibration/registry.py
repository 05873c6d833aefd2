"""Calibrators by kind: build one from a name, or load any saved one from its dict."""
from __future__ import annotations

from mtl_keras.calibration import names
from mtl_keras.calibration.histogram import HistogramCalibrator
from mtl_keras.calibration.isotonic import IsotonicCalibrator
from mtl_keras.calibration.platt import PlattCalibrator

CALIBRATORS = {names.ISOTONIC: IsotonicCalibrator, names.PLATT: PlattCalibrator,
               names.HISTOGRAM: HistogramCalibrator}


def calibrator_class(kind: str):
    if kind not in CALIBRATORS:
        raise ValueError(f"calibrator kind must be one of {list(CALIBRATORS)}, got {kind!r}.")
    return CALIBRATORS[kind]


def make_calibrator(kind: str, **kwargs):
    """An unfitted calibrator of `kind` ("isotonic", "platt" or "histogram")."""
    return calibrator_class(kind)(**kwargs)


def calibrator_from_dict(data: dict):
    """Any calibrator (isotonic, platt, histogram or slice) from its `to_dict()`, dispatched on "kind"."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError("calibrator_from_dict: expected a dict with a 'kind' key, as written by to_dict(); "
                         f"got {type(data).__name__}{' without kind' if isinstance(data, dict) else ''}.")
    kind = data["kind"]
    if kind == names.SLICE:
        from mtl_keras.calibration.slice_calibrator import SliceCalibrator  # it builds calibrators from here

        return SliceCalibrator.from_dict(data)
    if kind not in CALIBRATORS:
        raise ValueError(f"calibrator_from_dict: unknown kind {kind!r}; known: "
                         f"{list(CALIBRATORS) + [names.SLICE]}.")
    return CALIBRATORS[kind].from_dict(data)
