"""Segments for SegmentedKaplanMeierWinModel: codes per request and the cross-validated choice of
the segment column and prior strength."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from mtl_keras.propensity.data import infer_feature_columns
from mtl_keras.propensity.km_grid import event_grid, global_hazard, heldout_nll, risk_table, shrunk_survival

# Prior strengths (pseudo-requests at risk) tried when prior_strength=None.
PRIOR_GRID = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def segment_levels(values: np.ndarray, column: str, num_buckets: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(levels, bucket edges): distinct values of an id column, or quantile-bucket indices of a float one."""
    if pd.isna(values).any():
        raise ValueError(f"Segment column {column!r} has NaN values; fill or drop them.")
    if np.issubdtype(values.dtype, np.floating):
        inner = np.quantile(values, np.linspace(0.0, 1.0, num_buckets + 1)[1:-1])
        edges = np.unique(inner)
        return np.arange(len(edges) + 1), edges
    return np.unique(values), None


def segment_codes(values: np.ndarray, levels: np.ndarray, edges: Optional[np.ndarray]) -> np.ndarray:
    """Index of each value in `levels` (after bucketing when `edges` is given); -1 for unseen ids."""
    if edges is not None:
        values = np.searchsorted(edges, np.asarray(values, np.float64), side="right")
    return pd.Index(levels).get_indexer(values)


def kept_levels(codes: np.ndarray, events: np.ndarray, num_levels: int, min_count: int, min_events: int,
                max_segments: int) -> np.ndarray:
    """Levels with >= min_count rows and >= min_events won rows, the largest max_segments of them."""
    rows = np.bincount(codes, minlength=num_levels)
    won = np.bincount(codes, weights=events, minlength=num_levels)
    order = np.argsort(-rows, kind="stable")
    return np.sort(np.array([j for j in order if rows[j] >= min_count and won[j] >= min_events],
                            np.int64)[:max_segments])


def candidate_columns(frame: pd.DataFrame, max_levels: int) -> List[str]:
    """Id columns with 2..max_levels values and non-constant float columns, without NaN."""
    categorical, numeric = infer_feature_columns(frame)
    out = [c for c in categorical if 2 <= frame[c].nunique() <= max_levels and not frame[c].isna().any()]
    return out + [c for c in numeric if frame[c].nunique() >= 2 and not frame[c].isna().any()]


def cross_validate(frame: pd.DataFrame, durations: np.ndarray, events: np.ndarray, columns: Sequence[str],
                   priors: Sequence[float], folds: int, seed: int, num_buckets: int, min_count: int,
                   min_events: int, max_segments: int,
                   max_grid_points: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """{column: {str(prior): mean held-out NLL over `folds` folds}} (see km_grid.heldout_nll)."""
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"cv_folds must be an int >= 2, got {folds!r}.")
    fold = np.random.default_rng(seed).permutation(len(frame)) % folds
    table: Dict[str, Dict[str, float]] = {}
    for column in columns:
        values = frame[column].to_numpy()
        levels, edges = segment_levels(values, column, num_buckets)
        codes = segment_codes(values, levels, edges)
        scores = np.zeros(len(priors))
        for k in range(folds):
            train, test = fold != k, fold == k
            grid = event_grid(durations[train], events[train], max_grid_points)
            if len(grid) == 0:
                raise ValueError(f"A cross-validation fold has no won request; use fewer cv_folds than {folds}.")
            d, n = risk_table(grid, durations[train], events[train], codes[train], len(levels))
            base = global_hazard(d, n)
            keep = kept_levels(codes[train], events[train], len(levels), min_count, min_events, max_segments)
            group = np.full(len(levels), len(keep))  # the global curve is the last row
            group[keep] = np.arange(len(keep))
            for i, prior in enumerate(priors):
                curves = np.vstack([shrunk_survival(d[keep], n[keep], base, prior), np.cumprod(1.0 - base)])
                scores[i] += heldout_nll(grid, curves, durations[test], events[test], group[codes[test]]) / folds
        table[column] = {repr(float(p)): float(s) for p, s in zip(priors, scores)}
    return table


def best_choice(table: Dict[str, Dict[str, float]]) -> Tuple[str, float]:
    """(column, prior) with the lowest held-out NLL (ties: the first column, the smallest prior)."""
    column, prior = min(((c, p) for c in table for p in table[c]), key=lambda cp: table[cp[0]][cp[1]])
    return column, float(prior)
