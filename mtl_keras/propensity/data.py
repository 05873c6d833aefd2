"""Censored survival data from a bid-request log, with the checks every win model shares.

A won request is an event at its market price; a lost one is right-censored at its bid (the
market price was at least the bid). Documented behaviour for bad input:
- a missing/NaN, zero or negative bid on any request -> ValueError (a lost request needs its bid);
- a won request without a positive, finite market price -> ValueError;
- all requests won (nothing censored) -> fitted as uncensored data, which is valid;
- all requests lost (no market price ever seen) -> ValueError: the price distribution is not identified.
NaN features are rejected by FeatureEncoder, naming the column.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pandas as pd

from mtl_keras import names

# Columns that are never model features: funnel labels, ground truth, estimated propensities.
NON_FEATURE_COLUMNS = set(names.FUNNEL_COLUMNS) | set(names.GROUND_TRUTH_COLUMNS)


def survival_arrays(frame: pd.DataFrame, require_events: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """(durations, events): market price for won requests, bid for lost ones; events = won."""
    for column in (names.BID_PRICE, names.WON):
        if column not in frame.columns:
            raise ValueError(f"Column {column!r} is missing from the data (columns: {sorted(frame.columns)}); "
                             "win models need the bid and the auction outcome of every request.")
    if len(frame) == 0:
        raise ValueError("The data have no rows; give at least one won request.")
    won = frame[names.WON].to_numpy()
    if not np.isin(won, (0, 1)).all():
        raise ValueError(f"Column {names.WON!r} must hold only 0/1; found {sorted(set(np.unique(won)) - {0, 1})[:5]}.")
    won = won.astype(bool)
    bids = frame[names.BID_PRICE].to_numpy(np.float64)
    bad_bid = ~(np.isfinite(bids) & (bids > 0))
    if bad_bid.any():
        lost_without = int((bad_bid & ~won).sum())
        raise ValueError(
            f"{int(bad_bid.sum())} requests have a missing, zero or negative {names.BID_PRICE!r} "
            f"({lost_without} of them lost, which leaves their censoring point unknown); first bad row "
            f"{int(np.flatnonzero(bad_bid)[0])}. Fix: drop those rows or fill in the bid (> 0)."
        )
    if won.any():
        if names.MARKET_PRICE not in frame.columns:
            raise ValueError(f"Column {names.MARKET_PRICE!r} is missing but some requests are won; "
                             "a won request is an event at its market price.")
        market = frame[names.MARKET_PRICE].to_numpy(np.float64)
        bad_market = won & ~(np.isfinite(market) & (market > 0))
        if bad_market.any():
            raise ValueError(
                f"{int(bad_market.sum())} won requests have a missing, zero or negative {names.MARKET_PRICE!r}; "
                f"first bad row {int(np.flatnonzero(bad_market)[0])}. Fix: drop them or give the price paid (> 0)."
            )
        durations = np.where(won, market, bids)
    else:
        if require_events:
            raise ValueError(f"All requests were lost ({names.WON!r} is 0 on every row): no market price is observed, "
                             "so its distribution cannot be estimated. Fix: include won requests.")
        durations = bids
    return durations, won.astype(np.int64)


def infer_feature_columns(frame: pd.DataFrame) -> Tuple[List[str], List[str]]:
    """(categorical, numeric) feature columns: integer columns are ids, float columns numeric."""
    categorical, numeric = [], []
    for column in frame.columns:
        if column in NON_FEATURE_COLUMNS:
            continue
        if pd.api.types.is_integer_dtype(frame[column]):
            categorical.append(column)
        elif pd.api.types.is_float_dtype(frame[column]):
            numeric.append(column)
    return categorical, numeric


def check_prices(values, field: str) -> np.ndarray:
    """Prices as float64, rejecting non-finite and non-positive values."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError(f"{field} must be finite and > 0; got min {np.nanmin(values) if values.size else 'n/a'} "
                         f"and {int((~np.isfinite(values)).sum())} non-finite values.")
    return values
