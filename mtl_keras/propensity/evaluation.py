"""Evaluation of win models on censored auction data (and on simulated ground truth)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.censored_metrics import integrated_brier, restricted_concordance
from mtl_keras.propensity.data import survival_arrays

_PROBABILITY_FLOOR = 1e-12  # log of a zero probability mass would be infinite


def concordance(model: WinPropensityModel, frame: pd.DataFrame) -> float:
    """Harrell's c-index of the predicted median market price against the censored prices.

    0.5 is chance (and what any feature-blind model such as KM gets), 1 is a perfect ranking.
    """
    from lifelines.utils import concordance_index

    durations, events = survival_arrays(frame)
    return float(concordance_index(durations, model.predict_median(frame), events))


def anlp(model: WinPropensityModel, frame: pd.DataFrame, bin_width: float = 1.0) -> float:
    """Average negative log probability of the observed market price z on won requests.

    The probability is that of the price bin [z, z + bin_width): F(z + bin_width) - F(z), with
    F(b) = P(price < b | x). With integer prices (iPinYou) and bin_width 1 it is P(price = z).
    """
    mass = _price_bin_mass(model, frame, bin_width)
    return float(-np.mean(np.log(np.clip(mass, _PROBABILITY_FLOOR, None))))


def zero_mass_fraction(model: WinPropensityModel, frame: pd.DataFrame, bin_width: float = 1.0) -> float:
    """Share of won requests whose price bin gets (almost) no probability, each costing
    -log(1e-12) ≈ 27.6 in ANLP: step-function models (KM) put mass only on prices seen in training."""
    return float(np.mean(_price_bin_mass(model, frame, bin_width) < _PROBABILITY_FLOOR))


def _price_bin_mass(model: WinPropensityModel, frame: pd.DataFrame, bin_width: float) -> np.ndarray:
    if not bin_width > 0:
        raise ValueError(f"bin_width must be > 0, got {bin_width!r}.")
    won = frame[names.WON].to_numpy() == 1
    if not won.any():
        raise ValueError("ANLP needs won requests (observed market prices); the data have none.")
    rows = frame[won]
    z = rows[names.MARKET_PRICE].to_numpy(np.float64)
    cdf = model.predict_p_win(rows, np.stack([z, z + bin_width], axis=1))
    return cdf[:, 1] - cdf[:, 0]


def brier(model: WinPropensityModel, frame: pd.DataFrame) -> float:
    """Brier score at the bid: mean squared error of P(win | x, own bid) against the auction outcome
    (always observed, no censoring weights). Over a price grid: censored_metrics.integrated_brier."""
    p = model.predict_p_win(frame)
    return float(np.mean((p - frame[names.WON].to_numpy()) ** 2))


def win_rate_calibration(model: WinPropensityModel, frame: pd.DataFrame, num_buckets: int = 10) -> List[Dict[str, Any]]:
    """Predicted vs observed win rate in bid buckets (quantiles of the bid; ties share a bucket)."""
    if not isinstance(num_buckets, int) or num_buckets < 1:
        raise ValueError(f"num_buckets must be an int >= 1, got {num_buckets!r}.")
    bids = frame[names.BID_PRICE].to_numpy(np.float64)
    p = model.predict_p_win(frame)
    won = frame[names.WON].to_numpy()
    edges = np.unique(np.quantile(bids, np.linspace(0, 1, num_buckets + 1)))
    bucket = np.clip(np.searchsorted(edges, bids, side="right") - 1, 0, max(len(edges) - 2, 0))
    table = []
    for j in np.unique(bucket):
        rows = bucket == j
        table.append({
            "bid_low": float(bids[rows].min()),
            "bid_high": float(bids[rows].max()),
            "count": int(rows.sum()),
            "predicted": float(p[rows].mean()),
            "observed": float(won[rows].mean()),
        })
    return table


def p_win_mae(model: WinPropensityModel, frame: pd.DataFrame) -> Optional[float]:
    """Mean |P(win | x, bid) - true_p_win| (simulated data only; None without the column)."""
    if names.TRUE_P_WIN not in frame.columns:
        return None
    return float(np.mean(np.abs(model.predict_p_win(frame) - frame[names.TRUE_P_WIN].to_numpy())))


def evaluate_model(model: WinPropensityModel, frame: pd.DataFrame, bin_width: float = 1.0,
                   num_buckets: int = 10, price_grid=None) -> Dict[str, Any]:
    """All metrics of one model on one evaluation frame, plus its fit information.

    integrated_brier (over `price_grid`, default censored_metrics.default_price_grid) is None when
    the frame has no lost request; c_index ranks by the median, c_index_restricted by the mean price
    restricted to the largest observed one (see censored_metrics)."""
    calibration = win_rate_calibration(model, frame, num_buckets)
    censored = bool((frame[names.WON].to_numpy() == 0).any())
    counts = np.array([b["count"] for b in calibration])
    gaps = np.array([abs(b["predicted"] - b["observed"]) for b in calibration])
    return {
        "kind": model.kind,
        "c_index": concordance(model, frame),
        "c_index_restricted": restricted_concordance(model, frame),
        "anlp": anlp(model, frame, bin_width),
        "anlp_zero_mass_fraction": zero_mass_fraction(model, frame, bin_width),
        "brier": brier(model, frame),
        "integrated_brier": integrated_brier(model, frame, price_grid) if censored else None,
        "win_rate_calibration": calibration,
        "calibration_error": float(np.sum(counts * gaps) / counts.sum()),  # count-weighted |pred - obs|
        "p_win_mae": p_win_mae(model, frame),
        "fit": model.fit_info,
    }
