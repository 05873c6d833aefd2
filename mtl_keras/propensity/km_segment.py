"""SegmentedKaplanMeierWinModel: one Kaplan–Meier curve per level of a segment column."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import pandas as pd

from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.kaplan_meier import kaplan_meier_curve, step_cdf


class SegmentedKaplanMeierWinModel(WinPropensityModel):
    """Kaplan–Meier per segment (e.g. `device`, `site_id`).

    Levels with fewer than `min_events` won requests, and levels unseen at fit time, use the
    overall curve. Scoring loops over segments, never over rows.
    """

    kind = "km_segment"

    def __init__(self, segment: Optional[str] = None, min_events: int = 50, max_segments: int = 100,
                 max_fit_rows: Optional[int] = None, seed: int = 0):
        super().__init__(max_fit_rows=max_fit_rows, seed=seed)
        if segment is not None and (not isinstance(segment, str) or not segment):
            raise ValueError(f"segment must be a column name, got {segment!r}.")
        if not isinstance(min_events, int) or min_events < 1:
            raise ValueError(f"min_events must be an int >= 1, got {min_events!r}.")
        if not isinstance(max_segments, int) or max_segments < 1:
            raise ValueError(f"max_segments must be an int >= 1, got {max_segments!r}.")
        self.segment = segment
        self.min_events = min_events
        self.max_segments = max_segments

    def _fit(self, frame: pd.DataFrame, durations: np.ndarray, events: np.ndarray) -> None:
        if self.segment is None or self.segment not in frame.columns:
            raise ValueError(f"km_segment needs segment=<a column of the data>, got {self.segment!r} "
                             f"(columns: {sorted(frame.columns)}).")
        values = frame[self.segment].to_numpy()
        if pd.isna(values).any():
            raise ValueError(f"Segment column {self.segment!r} has NaN values; fill or drop them.")
        self.overall = kaplan_meier_curve(durations, events)
        levels, inverse = np.unique(values, return_inverse=True)
        event_counts = np.bincount(inverse, weights=events, minlength=len(levels))
        order = np.argsort(-event_counts, kind="stable")[: self.max_segments]
        self.curves = {}
        for j in order:
            if event_counts[j] >= self.min_events:
                rows = inverse == j
                self.curves[levels[j].item()] = kaplan_meier_curve(durations[rows], events[rows])

    def _cdf(self, frame: pd.DataFrame, prices: np.ndarray) -> np.ndarray:
        if self.segment not in frame.columns:
            raise ValueError(f"Segment column {self.segment!r} is missing from the data to score.")
        values = frame[self.segment].to_numpy()
        out = step_cdf(*self.overall, prices)
        for level, (times, survival) in self.curves.items():
            rows = values == level
            if rows.any():
                out[rows] = step_cdf(times, survival, prices[rows])
        return out

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "segment": self.segment, "min_events": self.min_events,
                "max_segments": self.max_segments}

    def _get_params(self) -> Dict[str, Any]:
        curve = lambda c: {"times": c[0].tolist(), "survival": c[1].tolist()}  # noqa: E731
        return {"overall": curve(self.overall), "levels": [[k, curve(c)] for k, c in self.curves.items()]}

    def _set_params(self, params: Dict[str, Any]) -> None:
        curve = lambda c: (np.asarray(c["times"], np.float64), np.asarray(c["survival"], np.float64))  # noqa: E731
        self.overall = curve(params["overall"])
        self.curves = {k: curve(c) for k, c in params["levels"]}
