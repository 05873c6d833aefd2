"""The population a calibrator is calibrated on, and the sample weights that reach it.

A calibrator fitted on impressions makes predictions calibrated on impressions; to be calibrated
on another population the held-out rows must be reweighted towards it. The space is recorded in
each calibrator so that a served value says what it is a probability of.
"""
from __future__ import annotations

import enum
from typing import Mapping, Optional, Tuple, Union

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.calibration import names as cal_names
from mtl_keras.propensity_weights import propensity_weights_np

# The training defaults (ModelConfig.win_propensity_floor / win_weight_clip and the ESCM² click
# weights, escm2_ips ctr_propensity_floor / ctr_weight_clip), so that calibration and training
# weight a row alike; tests/mtl_keras/calibration/test_space_weights.py holds them equal.
WIN_FLOOR, WIN_CLIP = 0.05, 20.0
CTR_FLOOR, CTR_CLIP = 0.01, 100.0


class CalibrationSpace(str, enum.Enum):
    """impression: P(y | x) on won impressions, unweighted.
    request: P(y | x) on every bid request, impressions weighted by 1/max(p_win, floor), clipped.
    click_do: P(conversion | x, do(click)) on impressions, clicked rows weighted by 1/max(pCTR, floor),
    clipped (times the request weight when p_win is given)."""

    IMPRESSION = cal_names.SPACE_IMPRESSION
    REQUEST = cal_names.SPACE_REQUEST
    CLICK_DO = cal_names.SPACE_CLICK_DO

    @classmethod
    def parse(cls, value) -> "CalibrationSpace":
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"space must be one of {list(cal_names.SPACES)}, got {value!r}.") from None

    def default_floor_clip(self) -> Tuple[Optional[float], Optional[float]]:
        return {self.IMPRESSION: (None, None), self.REQUEST: (WIN_FLOOR, WIN_CLIP),
                self.CLICK_DO: (CTR_FLOOR, CTR_CLIP)}[self]


def _column(frame_or_arrays, key: str):
    if frame_or_arrays is None:
        return None
    if isinstance(frame_or_arrays, pd.DataFrame):
        return frame_or_arrays[key].to_numpy() if key in frame_or_arrays.columns else None
    if isinstance(frame_or_arrays, Mapping):
        return frame_or_arrays.get(key)
    raise ValueError(f"space_weights: frame_or_arrays must be a DataFrame, a dict of arrays or None, got "
                     f"{type(frame_or_arrays).__name__}.")


def _propensity(field: str, given, frame_or_arrays, space: str) -> np.ndarray:
    values = given if given is not None else _column(frame_or_arrays, field)
    if values is None:
        raise ValueError(f"space_weights: space {space!r} needs {field!r}: pass {field}=... or a frame with a "
                         f"{field!r} column. Fix: add it (p_win: `mtl-ads propensity`), or use space 'impression'.")
    try:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"space_weights: {field!r} must be numeric.") from None
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        raise ValueError(f"space_weights: {field!r} must be probabilities in [0, 1]; {int(bad.sum())} of "
                         f"{values.size} values are NaN, infinite or out of range. Fix: repair those rows.")
    return values


def _check_floor_clip(field: str, floor: float, clip: float) -> None:
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0.0 < floor < 1.0:
        raise ValueError(f"space_weights: the floor of {field!r} must be in (0, 1), got {floor!r}.")
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip >= 1.0:
        raise ValueError(f"space_weights: the clip of 1/{field} must be >= 1, got {clip!r}.")


def _row_count(frame_or_arrays, *arrays) -> int:
    for a in arrays:
        if a is not None:
            return int(np.asarray(a).size)
    if isinstance(frame_or_arrays, pd.DataFrame):
        return len(frame_or_arrays)
    if isinstance(frame_or_arrays, Mapping) and frame_or_arrays:
        return int(np.asarray(next(iter(frame_or_arrays.values()))).size)
    raise ValueError("space_weights: cannot tell the number of rows; pass a frame or arrays.")


def space_weights(space: Union[str, CalibrationSpace], frame_or_arrays=None, p_win=None, p_ctr=None,
                  floor: Optional[float] = None, clip: Optional[float] = None,
                  win_floor: float = WIN_FLOOR, win_clip: float = WIN_CLIP) -> np.ndarray:
    """Per-row sample weights (float64) that move held-out rows to `space`.

    impression: 1. request: min(1/max(p_win, floor), clip), defaults floor 0.05, clip 20.
    click_do: min(1/max(p_ctr, floor), clip), defaults 0.01 / 100, times the request weight
    min(1/max(p_win, win_floor), win_clip) when `p_win` is passed (the request space's CVR).
    `p_win` / `p_ctr` are arrays; when None, the frame's `p_win` / `p_ctr` columns are read (for
    click_do only p_ctr is: a log's p_win column alone does not change the click_do weights).
    """
    space = CalibrationSpace.parse(space)
    default_floor, default_clip = space.default_floor_clip()
    floor = default_floor if floor is None else floor
    clip = default_clip if clip is None else clip
    if space is CalibrationSpace.IMPRESSION:
        return np.ones(_row_count(frame_or_arrays, p_win, p_ctr))
    if space is CalibrationSpace.REQUEST:
        _check_floor_clip(names.P_WIN, floor, clip)
        return propensity_weights_np(_propensity(names.P_WIN, p_win, frame_or_arrays, space.value), floor, clip)
    _check_floor_clip(names.P_CTR, floor, clip)
    weights = propensity_weights_np(_propensity(names.P_CTR, p_ctr, frame_or_arrays, space.value), floor, clip)
    if p_win is not None:
        _check_floor_clip(names.P_WIN, win_floor, win_clip)
        win = propensity_weights_np(_propensity(names.P_WIN, p_win, None, space.value), win_floor, win_clip)
        if win.size != weights.size:
            raise ValueError(f"space_weights: p_win has {win.size} values but p_ctr has {weights.size}.")
        weights = weights * win
    return weights


def describe_space_weights(space: Union[str, CalibrationSpace], floor: Optional[float] = None,
                           clip: Optional[float] = None, with_win: bool = False,
                           win_floor: float = WIN_FLOOR, win_clip: float = WIN_CLIP) -> str:
    """The formula `space_weights` applies with these arguments, for a calibrator's weights_description."""
    space = CalibrationSpace.parse(space)
    default_floor, default_clip = space.default_floor_clip()
    floor = default_floor if floor is None else floor
    clip = default_clip if clip is None else clip
    if space is CalibrationSpace.IMPRESSION:
        return "1 (unweighted impressions)"
    if space is CalibrationSpace.REQUEST:
        return f"min(1/max(p_win, {floor:g}), {clip:g})"
    text = f"min(1/max(p_ctr, {floor:g}), {clip:g})"
    if with_win:
        text += f" * min(1/max(p_win, {win_floor:g}), {win_clip:g})"
    return text
