"""Calibrators for a multi-task model's outputs, applied together so that the funnel stays consistent."""
from __future__ import annotations

import json
import os
from typing import Dict, Mapping, Optional

import numpy as np

from mtl_keras import names
from mtl_keras.calibration import names as cal_names
from mtl_keras.calibration.base import Calibrator
from mtl_keras.calibration.registry import calibrator_from_dict
from mtl_keras.calibration.slice_calibrator import SliceCalibrator

FORMAT = "mtl_ads.calibration/1"


class MultiTaskCalibration:
    """Calibrators keyed by output name (`p_ctr`, `p_cvr`, optionally `p_ctcvr`).

    `apply` (numpy) and `tf_apply` (TF ops, for a serving signature) return the model's outputs with
    each calibrated output replaced, the raw values added as `<output>_uncalibrated`, and every other
    output (e.g. `p_imp`) passed through. pCTCVR is the product of the calibrated pCTR and pCVR
    (raw ones where an output has no calibrator) unless a `p_ctcvr` calibrator was given: the product
    keeps the funnel consistent (pCTCVR <= pCTR, and pCTCVR / pCTR is the served pCVR), which a
    separately calibrated pCTCVR does not guarantee. A raw pCTCVR the model does not output is
    reported as raw pCTR x raw pCVR. Slice calibrators read their field from `features`.
    """

    def __init__(self, calibrators: Mapping[str, object], metadata: Optional[dict] = None):
        owner = "MultiTaskCalibration"
        if not isinstance(calibrators, Mapping) or not calibrators:
            raise ValueError(f"{owner}: calibrators must be a non-empty dict keyed by output name "
                             f"({list(cal_names.CALIBRATED_OUTPUTS)}), got {calibrators!r}.")
        for key, calibrator in calibrators.items():
            if key not in cal_names.CALIBRATED_OUTPUTS:
                raise ValueError(f"{owner}: unknown output {key!r}; calibrated outputs are "
                                 f"{list(cal_names.CALIBRATED_OUTPUTS)}.")
            if not isinstance(calibrator, (Calibrator, SliceCalibrator)) or not calibrator.fitted:
                raise ValueError(f"{owner}: the calibrator of {key!r} must be a fitted calibrator, got {calibrator!r}.")
        self.calibrators = dict(calibrators)
        self.metadata = dict(metadata or {})

    @property
    def slice_fields(self) -> Dict[str, str]:
        """Output -> the feature its slice calibrator reads."""
        return {k: c.field for k, c in self.calibrators.items() if isinstance(c, SliceCalibrator)}

    def _slice_values(self, key: str, field: str, features):
        if features is None or field not in features:
            available = [] if features is None else sorted(map(str, features.keys()))
            raise ValueError(f"MultiTaskCalibration: the calibrator of {key!r} is sliced by field {field!r}, but the "
                             f"features {'were not passed' if features is None else f'have no {field!r}'} "
                             f"(features: {available}). Fix: pass features=... holding the {field!r} column.")
        return features[field]

    def _combine(self, outputs, features, tf_mode: bool):
        if not isinstance(outputs, Mapping):
            raise ValueError(f"MultiTaskCalibration: outputs must be a dict of model outputs, got "
                             f"{type(outputs).__name__}.")
        raw = {k: outputs[k] for k in cal_names.CALIBRATED_OUTPUTS if k in outputs}
        if names.P_CTCVR not in raw and names.P_CTR in raw and names.P_CVR in raw:
            raw[names.P_CTCVR] = raw[names.P_CTR] * raw[names.P_CVR]
        missing = [k for k in self.calibrators if k not in raw]
        if missing:
            raise ValueError(f"MultiTaskCalibration: outputs {missing} have calibrators but are not in the model "
                             f"outputs (got {sorted(outputs)}). Fix: pass the model's output dict.")
        result = dict(outputs)
        for key, value in raw.items():
            result[key + cal_names.UNCALIBRATED_SUFFIX] = value
        for key, calibrator in self.calibrators.items():
            if isinstance(calibrator, SliceCalibrator):
                slices = self._slice_values(key, calibrator.field, features)
                result[key] = (calibrator.tf_transform(raw[key], slices) if tf_mode
                               else calibrator.transform(raw[key], slices))
            else:
                result[key] = calibrator.tf_transform(raw[key]) if tf_mode else calibrator.transform(raw[key])
        funnel = (names.P_CTR, names.P_CVR)
        if names.P_CTCVR not in self.calibrators and all(k in raw for k in funnel) and \
                any(k in self.calibrators for k in funnel):
            result[names.P_CTCVR] = result[names.P_CTR] * result[names.P_CVR]
        return result

    def apply(self, outputs: Mapping[str, np.ndarray], features=None) -> Dict[str, np.ndarray]:
        """Calibrated numpy outputs; `features`: a DataFrame or dict of arrays (needed by slice calibrators)."""
        arrays = {k: np.asarray(v) for k, v in outputs.items()} if isinstance(outputs, Mapping) else outputs
        return self._combine(arrays, features, tf_mode=False)

    def tf_apply(self, outputs, features=None):
        """`apply` in TF ops: a dict of tensors, for a tf.function / serving signature."""
        return self._combine(outputs, features, tf_mode=True)

    # ---- saving ----

    def to_dict(self) -> dict:
        return {"format": FORMAT, "metadata": self.metadata,
                "calibrators": {k: c.to_dict() for k, c in self.calibrators.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "MultiTaskCalibration":
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("calibrators"), dict):
            raise ValueError(f"MultiTaskCalibration.from_dict: expected a dict with format {FORMAT!r} and a "
                             "'calibrators' dict, as written by to_dict() / save().")
        return cls({k: calibrator_from_dict(v) for k, v in data["calibrators"].items()}, data.get("metadata"))

    def save(self, path: str) -> str:
        """Writes the JSON file `path` (its directory is created); returns the path."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1, allow_nan=False)
        return path

    @classmethod
    def load(cls, path: str) -> "MultiTaskCalibration":
        if not os.path.isfile(path):
            raise ValueError(f"MultiTaskCalibration.load: {path!r} is not a file; give a calibration JSON written "
                             "by save() (or `mtl-ads calibrate`).")
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"MultiTaskCalibration.load: {path!r} is not valid JSON: {err}") from None
        return cls.from_dict(data)

    def __repr__(self) -> str:
        return f"MultiTaskCalibration({ {k: type(c).__name__ for k, c in self.calibrators.items()} })"
