"""Fitting a MultiTaskCalibration on held-out impressions: which rows, labels and weights each output gets."""
from __future__ import annotations

from typing import Mapping, NamedTuple, Optional

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.calibration import names as cal_names
from mtl_keras.calibration.multitask import MultiTaskCalibration
from mtl_keras.calibration.registry import make_calibrator
from mtl_keras.calibration.slice_calibrator import SliceCalibrator
from mtl_keras.calibration.space import (
    CTR_CLIP, CTR_FLOOR, WIN_CLIP, WIN_FLOOR, CalibrationSpace, describe_space_weights, space_weights)

_OWNER = "fit_multitask_calibration"
_SLICE_ONLY = ("slice_min_rows", "slice_min_positives")


class CalibrationRows(NamedTuple):
    """The rows (a boolean mask over the frame), labels, weights and space of one output's calibration."""

    mask: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    space: str
    weights_description: str


def _label(frame: pd.DataFrame, column: str, output: str, mask: np.ndarray) -> np.ndarray:
    """The column over every row (0 outside `mask`), checked on the rows of `mask` (lost requests may lack labels)."""
    if column not in frame.columns:
        raise ValueError(f"{_OWNER}: label column {column!r} is missing from the frame; {output!r} is calibrated "
                         "on it. Fix: pass held-out rows with their labels "
                         f"(columns: {sorted(map(str, frame.columns))}).")
    values = frame[column][mask]
    bad = ~values.isin([0, 1])
    if bad.any():
        raise ValueError(f"{_OWNER}: label column {column!r} must hold only 0 and 1; {int(bad.sum())} of the "
                         f"{len(values)} rows calibrating {output!r} hold other values or NaN. Fix: binarise it.")
    out = np.zeros(len(frame))
    out[mask] = values.to_numpy(dtype=np.float64)
    return out


def _impressions(frame: pd.DataFrame) -> np.ndarray:
    # Predictions stay aligned with the frame, so impressions are a mask, not a filtered frame.
    if names.WON not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return frame[names.WON].fillna(0).to_numpy().astype(int) == 1


def calibration_rows(model_outputs: Mapping[str, np.ndarray], frame: pd.DataFrame, output: str, space,
                     win_floor: float = WIN_FLOOR, win_clip: float = WIN_CLIP,
                     ctr_floor: float = CTR_FLOOR, ctr_clip: float = CTR_CLIP) -> CalibrationRows:
    """Rows, labels and weights on which `output` is calibrated (and evaluated) in `space`.

    p_ctr / p_ctcvr: impressions (won rows), labels click / click*conversion, weighted 1/p_win in
    space request (else 1: click_do concerns the CVR only, so those two stay in impression space).
    p_cvr: clicked impressions, label conversion; weights 1/pCTR in click_do (towards P(conversion |
    do(click)) over impressions), (1/pCTR)*(1/p_win) in request, 1 in impression. pCTR is the model's
    raw p_ctr, the click propensity its CVR tower was trained against; floors and clips as training's.
    """
    space = CalibrationSpace.parse(space)
    impressions = _impressions(frame)
    click = _label(frame, names.CLICK, output, impressions)
    if output in (names.P_CTR, names.P_CTCVR):
        mask = impressions
        labels = click if output == names.P_CTR else click * _label(frame, names.CONVERSION, output, mask)
        used = CalibrationSpace.REQUEST if space is CalibrationSpace.REQUEST else CalibrationSpace.IMPRESSION
        p_win = _p_win(frame, mask) if used is CalibrationSpace.REQUEST else None
        weights = space_weights(used, p_win=p_win, floor=win_floor, clip=win_clip) if p_win is not None \
            else np.ones(int(mask.sum()))
        description = describe_space_weights(used, win_floor, win_clip)
    elif output == names.P_CVR:
        mask = impressions & (click == 1)
        labels = _label(frame, names.CONVERSION, output, mask)
        used = space
        if space is CalibrationSpace.IMPRESSION:
            weights, description = np.ones(int(mask.sum())), describe_space_weights(space)
        else:
            if names.P_CTR not in model_outputs:
                raise ValueError(f"{_OWNER}: space {space.value!r} weights the CVR by 1/pCTR, but the model outputs "
                                 f"have no {names.P_CTR!r}. Fix: use space 'impression' for a CVR-only model.")
            p_win = _p_win(frame, mask) if space is CalibrationSpace.REQUEST else None
            p_ctr = np.asarray(model_outputs[names.P_CTR], dtype=np.float64).reshape(-1)[mask]
            weights = space_weights(CalibrationSpace.CLICK_DO, p_ctr=p_ctr, p_win=p_win, floor=ctr_floor,
                                    clip=ctr_clip, win_floor=win_floor, win_clip=win_clip)
            description = describe_space_weights(CalibrationSpace.CLICK_DO, ctr_floor, ctr_clip, p_win is not None,
                                                 win_floor, win_clip) + " on clicked impressions"
    else:
        raise ValueError(f"{_OWNER}: unknown output {output!r}; calibrated outputs are "
                         f"{list(cal_names.CALIBRATED_OUTPUTS)}.")
    return CalibrationRows(mask, labels[mask], weights, used.value, description)


def _p_win(frame: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
    if names.P_WIN not in frame.columns:
        raise ValueError(f"{_OWNER}: space 'request' weights impressions by 1/p_win, but the frame has no "
                         f"{names.P_WIN!r} column. Fix: add the win propensity (`mtl-ads propensity fit`), or use "
                         "space 'impression'.")
    return frame[names.P_WIN].to_numpy(dtype=np.float64)[mask]


def model_output(model_outputs: Mapping[str, np.ndarray], output: str, size: int) -> np.ndarray:
    """One output over the frame's rows (p_ctcvr: the product when the model does not output it)."""
    if output == names.P_CTCVR and output not in model_outputs and \
            names.P_CTR in model_outputs and names.P_CVR in model_outputs:
        value = np.asarray(model_outputs[names.P_CTR], np.float64).reshape(-1) * \
            np.asarray(model_outputs[names.P_CVR], np.float64).reshape(-1)
    elif output in model_outputs:
        value = np.asarray(model_outputs[output], dtype=np.float64).reshape(-1)
    else:
        raise ValueError(f"{_OWNER}: the model outputs have no {output!r} (got {sorted(model_outputs)}).")
    if value.size != size:
        raise ValueError(f"{_OWNER}: model output {output!r} has {value.size} values but the frame has {size} rows. "
                         "Fix: predict on the same frame (every row, in order).")
    return value


def fit_multitask_calibration(model_outputs: Mapping[str, np.ndarray], frame: pd.DataFrame, space="impression",
                              kind: str = "isotonic", slice_field: Optional[str] = None, fit_ctcvr: bool = False,
                              prior_strength: float = 1000.0, calibrator_kwargs: Optional[dict] = None,
                              win_floor: float = WIN_FLOOR, win_clip: float = WIN_CLIP,
                              ctr_floor: float = CTR_FLOOR, ctr_clip: float = CTR_CLIP) -> MultiTaskCalibration:
    """Fits a calibrator of `kind` for p_ctr and p_cvr (those the model outputs) and, with `fit_ctcvr`,
    p_ctcvr, each on its rows and weights in `space` (see `calibration_rows`).

    `model_outputs`: the model's predictions for every row of `frame`, in order (`evaluation.predict`).
    `slice_field`: a column of `frame`; each output then gets a SliceCalibrator shrunk to the global
    map with `prior_strength`. `calibrator_kwargs` go to each calibrator (e.g. eps, min_rows,
    num_bins, temperature; slice_min_rows / slice_min_positives when slicing).
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{_OWNER}: frame must be a pandas DataFrame, got {type(frame).__name__}.")
    if not isinstance(model_outputs, Mapping):
        raise ValueError(f"{_OWNER}: model_outputs must be a dict of arrays, got {type(model_outputs).__name__}.")
    space = CalibrationSpace.parse(space)
    if slice_field is not None and slice_field not in frame.columns:
        raise ValueError(f"{_OWNER}: slice field {slice_field!r} is not a column of the frame (columns: "
                         f"{sorted(map(str, frame.columns))}). Fix: add it or pass another slice_field.")
    outputs = [o for o in (names.P_CTR, names.P_CVR) if o in model_outputs]
    if fit_ctcvr:
        outputs.append(names.P_CTCVR)
    if not outputs:
        raise ValueError(f"{_OWNER}: the model outputs have neither {names.P_CTR!r} nor {names.P_CVR!r} "
                         f"(got {sorted(model_outputs)}).")
    kwargs = dict(calibrator_kwargs or {})
    for key in ("space", "weights_description"):
        if key in kwargs:
            raise ValueError(f"{_OWNER}: calibrator_kwargs must not set {key!r}; the space argument sets it.")
    slice_only = {k: kwargs.pop(k) for k in _SLICE_ONLY if k in kwargs}
    if slice_only and slice_field is None:
        raise ValueError(f"{_OWNER}: {sorted(slice_only)} apply to sliced calibration only; pass slice_field.")
    calibrators = {}
    for output in outputs:
        rows = calibration_rows(model_outputs, frame, output, space, win_floor, win_clip, ctr_floor, ctr_clip)
        p = model_output(model_outputs, output, len(frame))[rows.mask]
        common = {"space": rows.space, "weights_description": rows.weights_description}
        if slice_field is None:
            calibrator = make_calibrator(kind, **common, **kwargs)
            fit_args = ()
        else:
            top = {k: kwargs[k] for k in ("min_rows", "min_positives") if k in kwargs}
            base = {k: v for k, v in kwargs.items() if k not in top}
            calibrator = SliceCalibrator(slice_field, kind, prior_strength, **common, **top, **slice_only,
                                         base_kwargs=base)
            fit_args = (frame[slice_field].to_numpy()[rows.mask],)
        try:
            calibrators[output] = calibrator.fit(p, rows.labels, *fit_args, sample_weight=rows.weights)
        except ValueError as err:
            raise ValueError(f"{_OWNER}: calibrating {output!r}: {err}") from None
    metadata = {"space": space.value, "kind": kind, "slice_field": slice_field, "rows": int(len(frame)),
                "impressions": int(_impressions(frame).sum())}
    return MultiTaskCalibration(calibrators, metadata)
