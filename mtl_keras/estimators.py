"""Numpy reference estimators of the task losses in `mtl_keras/tasks/` (no TensorFlow).

Each function mirrors one task's loss exactly (tests/mtl_keras/test_estimators.py ties them to the
TF tasks); docs/estimators.md states what each one estimates. Arrays share one shape [..., n]:
rows are examples (impressions, as the tasks see them) on the last axis, and every sum or mean runs
over that axis, so a [reps, n] array gives one estimate per replicate dataset.

Rows may also be all requests: pass `example_weight = win_weights(p_win, ..., won=won)`, which is 0
on lost auctions (whose click and conversion are 0), and N becomes the number of requests.
"""
from __future__ import annotations

import numpy as np

from mtl_keras.propensity_weights import inverse_propensity_np

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] inside the cross-entropies, as in losses.py


def _array(name: str, value, probability: bool = False, binary: bool = False) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim < 1 or array.shape[-1] == 0:
        raise ValueError(f"{name}: need an array with examples on the last axis, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or inf.")
    if probability and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(f"{name}: probabilities must lie in [0, 1], got range [{array.min()}, {array.max()}].")
    if binary and not np.all((array == 0.0) | (array == 1.0)):
        raise ValueError(f"{name}: must hold only 0 and 1.")
    return array


def _same_shape(**arrays: np.ndarray) -> None:
    shapes = {name: a.shape for name, a in arrays.items() if a is not None}
    first_name, first = next(iter(shapes.items()))
    for name, shape in shapes.items():
        if shape != first:
            raise ValueError(f"{name}: shape {shape} differs from {first_name}'s shape {first}.")


def _weights(example_weight, like: np.ndarray) -> np.ndarray:
    if example_weight is None:
        return np.ones_like(like)
    weight = _array("example_weight", example_weight)
    if weight.min() < 0.0:
        raise ValueError(f"example_weight: must be >= 0, got minimum {weight.min()}.")
    return weight


def _floor_clip(floor: float, clip: float, floor_name: str, clip_name: str) -> None:
    if not 0.0 < floor <= 1.0:
        raise ValueError(f"{floor_name}: must be in (0, 1], got {floor}.")
    if not clip >= 1.0:
        raise ValueError(f"{clip_name}: must be >= 1, got {clip}.")


def _safe_divide(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (as losses.safe_divide)."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    zero = denominator == 0
    return np.where(zero, 0.0, numerator / np.where(zero, 1.0, denominator))


def bce(target, prob) -> np.ndarray:
    """BCE(y, p) = -y log p - (1 - y) log(1 - p), p clipped to [EPS, 1 - EPS]; y may be soft."""
    prob = np.clip(np.asarray(prob, np.float64), EPS, 1.0 - EPS)
    target = np.asarray(target, np.float64)
    return -(target * np.log(prob) + (1.0 - target) * np.log1p(-prob))


def inverse_propensity(propensity, floor: float, clip: float) -> np.ndarray:
    """1 / max(p, floor), capped at clip, in float64: the numpy form of the one formula
    (mtl_keras.propensity_weights)."""
    return inverse_propensity_np(np.asarray(propensity, np.float64), floor, clip)


def win_weights(p_win, floor: float = 0.05, clip: float = 20.0, self_normalize: bool = True,
                won=None) -> np.ndarray:
    """w_i = min(1/max(p_win_i, floor), clip) [· won_i], rescaled to mean 1 over the last axis if self_normalize."""
    p_win = _array("p_win", p_win, probability=True)
    _floor_clip(floor, clip, "floor", "clip")
    weights = inverse_propensity(p_win, floor, clip)
    if won is not None:
        won = _array("won", won, binary=True)
        _same_shape(p_win=p_win, won=won)
        weights = weights * won
    if self_normalize:
        weights = _safe_divide(weights, weights.mean(axis=-1, keepdims=True))
    return weights


def win_target_population(p_win, floor: float = 0.05, clip: float = 20.0) -> np.ndarray:
    """π(x) = p_win · min(1/max(p_win, floor), clip) = min(1, p_win/floor, clip·p_win): the tilt the weights estimate."""
    p_win = _array("p_win", p_win, probability=True)
    _floor_clip(floor, clip, "floor", "clip")
    return p_win * inverse_propensity(p_win, floor, clip)


def ctr_risk(click, p_ctr, example_weight=None) -> np.ndarray:
    """L_CTR = (1/N) Σ_i w_i BCE(click_i, pCTR_i) (CTRTask)."""
    click, p_ctr = _array("click", click, binary=True), _array("p_ctr", p_ctr, probability=True)
    weight = _weights(example_weight, click)
    _same_shape(click=click, p_ctr=p_ctr, example_weight=weight)
    return np.mean(weight * bce(click, p_ctr), axis=-1)


def ctcvr_risk(click, conversion, p_ctr, p_cvr, example_weight=None) -> np.ndarray:
    """L_CTCVR = (1/N) Σ_i w_i BCE(click_i·conversion_i, pCTR_i·pCVR_i), log p kept <= -EPS (CTCVRTask)."""
    click, conversion = _array("click", click, binary=True), _array("conversion", conversion, binary=True)
    p_ctr, p_cvr = _array("p_ctr", p_ctr, probability=True), _array("p_cvr", p_cvr, probability=True)
    weight = _weights(example_weight, click)
    _same_shape(click=click, conversion=conversion, p_ctr=p_ctr, p_cvr=p_cvr, example_weight=weight)
    with np.errstate(divide="ignore"):
        log_p = np.minimum(np.log(p_ctr) + np.log(p_cvr), -EPS)
    target = click * conversion
    per_example = -(np.where(target > 0, target * log_p, 0.0) + (1.0 - target) * np.log(-np.expm1(log_p)))
    return np.mean(weight * per_example, axis=-1)


def naive_cvr_risk(click, conversion, p_cvr, example_weight=None) -> np.ndarray:
    """L_CVR = Σ_clicked w_i e_i / Σ_clicked w_i, e_i = BCE(conversion_i, pCVR_i); 0 without clicks (CVRTask)."""
    click, conversion = _array("click", click, binary=True), _array("conversion", conversion, binary=True)
    p_cvr = _array("p_cvr", p_cvr, probability=True)
    weight = _weights(example_weight, click)
    _same_shape(click=click, conversion=conversion, p_cvr=p_cvr, example_weight=weight)
    clicked_weight = weight * click
    return _safe_divide(np.sum(clicked_weight * bce(conversion, p_cvr), axis=-1), np.sum(clicked_weight, axis=-1))


def _click_stage(click, conversion, p_cvr, p_ctr, example_weight, propensity_floor, weight_clip):
    click, conversion = _array("click", click, binary=True), _array("conversion", conversion, binary=True)
    p_cvr, p_ctr = _array("p_cvr", p_cvr, probability=True), _array("p_ctr", p_ctr, probability=True)
    _floor_clip(propensity_floor, weight_clip, "propensity_floor", "weight_clip")
    if propensity_floor >= 1.0:
        raise ValueError(f"propensity_floor: must be in (0, 1), got {propensity_floor}.")
    weight = _weights(example_weight, click)
    _same_shape(click=click, conversion=conversion, p_cvr=p_cvr, p_ctr=p_ctr, example_weight=weight)
    click_weight = weight * click * inverse_propensity(p_ctr, propensity_floor, weight_clip)
    return click_weight, weight, bce(conversion, p_cvr), p_cvr


def _denominator(click_weight, weight, self_normalize: bool):
    return np.sum(click_weight, axis=-1) if self_normalize else np.full(weight.shape[:-1], weight.shape[-1], float)


def click_weights(click, p_ctr, example_weight=None, propensity_floor: float = 0.01,
                  weight_clip: float = 100.0) -> np.ndarray:
    """w_i · o_i / ô_i with ô_i = max(pCTR_i, floor), 1/ô_i capped at clip (IPSCVRTask.click_weights)."""
    click = np.asarray(click, np.float64)
    return _click_stage(click, np.zeros_like(click), np.zeros_like(click), p_ctr, example_weight,
                        propensity_floor, weight_clip)[0]


def ips_cvr_risk(click, conversion, p_cvr, p_ctr, example_weight=None, propensity_floor: float = 0.01,
                 weight_clip: float = 100.0, self_normalize: bool = False) -> np.ndarray:
    """R_IPS = Σ_i w_i o_i e_i / ô_i / D, D = N or Σ_i w_i o_i / ô_i (SNIPS; 0 without clicks) (IPSCVRTask)."""
    click_weight, weight, error, _ = _click_stage(click, conversion, p_cvr, p_ctr, example_weight,
                                                  propensity_floor, weight_clip)
    return _safe_divide(np.sum(click_weight * error, axis=-1), _denominator(click_weight, weight, self_normalize))


def dr_cvr_risk(click, conversion, p_cvr, p_ctr, p_imp, example_weight=None, propensity_floor: float = 0.01,
                weight_clip: float = 100.0, self_normalize: bool = False) -> np.ndarray:
    """R_DR = Σ_i w_i ê_i / D' + Σ_i w_i o_i (e_i - ê_i) / ô_i / D, ê_i = BCE(p_imp_i, pCVR_i), D' = N or Σ w
    with self_normalize (DRCVRTask's risk)."""
    click_weight, weight, error, p_cvr = _click_stage(click, conversion, p_cvr, p_ctr, example_weight,
                                                      propensity_floor, weight_clip)
    p_imp = _array("p_imp", p_imp, probability=True)
    _same_shape(click=click_weight, p_imp=p_imp)
    imputed = bce(p_imp, p_cvr)
    correction = _safe_divide(np.sum(click_weight * (error - imputed), axis=-1),
                              _denominator(click_weight, weight, self_normalize))
    imputed_mean = (_safe_divide(np.sum(weight * imputed, axis=-1), np.sum(weight, axis=-1)) if self_normalize
                    else np.mean(weight * imputed, axis=-1))
    return imputed_mean + correction


def imputation_risk(click, conversion, p_cvr, p_ctr, p_imp, example_weight=None, propensity_floor: float = 0.01,
                    weight_clip: float = 100.0, self_normalize: bool = False) -> np.ndarray:
    """R_imp = Σ_i w_i o_i (e_i - ê_i)² / ô_i / D: the imputation tower's own loss in DRCVRTask."""
    click_weight, weight, error, p_cvr = _click_stage(click, conversion, p_cvr, p_ctr, example_weight,
                                                      propensity_floor, weight_clip)
    p_imp = _array("p_imp", p_imp, probability=True)
    _same_shape(click=click_weight, p_imp=p_imp)
    squared = np.square(error - bce(p_imp, p_cvr))
    return _safe_divide(np.sum(click_weight * squared, axis=-1), _denominator(click_weight, weight, self_normalize))


def dr_cvr_loss(click, conversion, p_cvr, p_ctr, p_imp, example_weight=None, propensity_floor: float = 0.01,
                weight_clip: float = 100.0, self_normalize: bool = False, imputation_weight: float = 1.0):
    """R_DR + imputation_weight · R_imp: the value DRCVRTask returns."""
    args = (click, conversion, p_cvr, p_ctr, p_imp, example_weight, propensity_floor, weight_clip, self_normalize)
    if not imputation_weight >= 0.0:
        raise ValueError(f"imputation_weight: must be >= 0, got {imputation_weight}.")
    return dr_cvr_risk(*args) + imputation_weight * imputation_risk(*args)


def request_space_risk(target, p_cvr, population_weight=None) -> np.ndarray:
    """R = Σ_x π(x) BCE(r(x), pCVR(x)) / Σ_x π(x) over ALL requests (π = 1: E_x[BCE(r, pCVR)]); the oracle.

    `target` is the potential conversion r (0/1) or the true p_cvr(x) (the exact conditional risk,
    since BCE is affine in its target); `population_weight` π tilts the population (e.g.
    win_target_population for floored/clipped win weights, 1{p_win >= floor} for trimming).
    """
    target, p_cvr = _array("target", target, probability=True), _array("p_cvr", p_cvr, probability=True)
    weight = _weights(population_weight, target)
    _same_shape(target=target, p_cvr=p_cvr, population_weight=weight)
    return _safe_divide(np.sum(weight * bce(target, p_cvr), axis=-1), np.sum(weight, axis=-1))
