"""WinPropensityModel: the interface of every win model, P(win | x, b) = P(market price < b | x)."""
from __future__ import annotations

import abc
import json
import pathlib
import time
from typing import Any, Dict, Optional

import numpy as np
import pandas as pd

from mtl_keras import names
from mtl_keras.propensity.data import check_prices, survival_arrays

SCORE_BATCH_ROWS = 65_536


class WinPropensityModel(abc.ABC):
    """A survival model of the market price fitted on censored auctions.

    `max_fit_rows`: fit on a random subsample of at most this many requests (None: all), because
    lifelines' Cox and AFT fits are slow on millions of rows; scoring always covers every row.
    The subsample is drawn with `seed`, independently of the row order, and recorded in `fit_info`.
    """

    kind: str = ""

    def __init__(self, max_fit_rows: Optional[int] = 200_000, seed: int = 0):
        if max_fit_rows is not None and (not isinstance(max_fit_rows, int) or max_fit_rows < 2):
            raise ValueError(f"max_fit_rows must be None or an int >= 2, got {max_fit_rows!r}.")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}.")
        self.max_fit_rows = max_fit_rows
        self.seed = seed
        self.fit_info: Optional[Dict[str, Any]] = None

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> "WinPropensityModel":
        """Fits on `frame` (bid_price, won, market_price and the model's features)."""
        durations, events = survival_arrays(frame)
        # Rows in an order fixed by their content: the same requests in any order (Beam writes them
        # in no fixed order) give the same subsample and the same fit, to the last bit.
        rows = np.argsort(pd.util.hash_pandas_object(frame, index=False).to_numpy(), kind="stable")
        if self.max_fit_rows is not None and len(frame) > self.max_fit_rows:
            rng = np.random.default_rng(self.seed)
            rows = rows[np.sort(rng.choice(len(frame), self.max_fit_rows, replace=False))]
            if not events[rows].any():
                raise ValueError("The fit subsample holds no won request; raise max_fit_rows.")
        start = time.perf_counter()
        self._fit(frame.iloc[rows], durations[rows], events[rows])
        self.fit_info = {
            "rows": int(len(frame)),
            "fit_rows": int(len(rows)),
            "subsampled": bool(len(rows) < len(frame)),
            "events": int(events[rows].sum()),
            "censored": int(len(rows) - events[rows].sum()),
            "min_price": float(durations.min()),
            "max_price": float(durations.max()),
            "seconds": time.perf_counter() - start,
        }
        return self

    @abc.abstractmethod
    def _fit(self, frame: pd.DataFrame, durations: np.ndarray, events: np.ndarray) -> None:
        """Fits the model on the (possibly subsampled) rows."""

    # --- scoring -------------------------------------------------------------------------------
    def predict_p_win(self, frame: pd.DataFrame, bids=None, floor: float = 0.0, clip: float = 1.0) -> np.ndarray:
        """P(win | x, b) = P(market price < b | x) for every row, vectorised.

        bids: None (each row's `bid_price`), a scalar, a [rows] array (one bid per row) or a
        [rows, num_bids] matrix (a bid landscape per row). The result has the shape of the bids.
        floor / clip: the result is clipped into [floor, clip], e.g. floor=0.01 keeps the inverse
        propensity weights 1/p_win of IPW below 100.
        """
        self._check_fitted()
        if not (0.0 <= floor < clip <= 1.0):
            raise ValueError(f"Need 0 <= floor < clip <= 1, got floor={floor!r}, clip={clip!r}.")
        if bids is None:
            if names.BID_PRICE not in frame.columns:
                raise ValueError(f"bids=None scores at column {names.BID_PRICE!r}, which the data lack; pass bids.")
            bids = frame[names.BID_PRICE].to_numpy()
        bids = check_prices(bids, "bids")
        shape = bids.shape
        if bids.ndim == 0:
            matrix = np.full((len(frame), 1), float(bids))
            shape = (len(frame),)
        elif bids.ndim in (1, 2) and bids.shape[0] == len(frame):
            matrix = bids[:, None] if bids.ndim == 1 else bids
        else:
            raise ValueError(f"bids must be a scalar, [rows] or [rows, num_bids] with rows={len(frame)}, got shape {bids.shape}.")
        p = np.empty_like(matrix)
        # Row batches bound the temporaries of the models' formulas on large logs.
        for start in range(0, len(frame), SCORE_BATCH_ROWS):
            stop = start + SCORE_BATCH_ROWS
            p[start:stop] = self._cdf(frame.iloc[start:stop], matrix[start:stop])
        return np.clip(p, floor, clip).reshape(shape)

    @abc.abstractmethod
    def _cdf(self, frame: pd.DataFrame, prices: np.ndarray) -> np.ndarray:
        """P(market price < prices[i, j] | x_i) for a [rows, k] matrix of positive prices."""

    def predict_median(self, frame: pd.DataFrame) -> np.ndarray:
        """Median market price per row (bisection on log price, vectorised over rows)."""
        self._check_fitted()
        lo = np.full(len(frame), np.log(self.fit_info["min_price"]) - np.log(100.0))
        hi = np.full(len(frame), np.log(self.fit_info["max_price"]) + np.log(100.0))
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            below = self.predict_p_win(frame, np.exp(mid)) < 0.5
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return np.exp(0.5 * (lo + hi))

    @abc.abstractmethod
    def to_tf_module(self, feature_spec=None, floor: float = 0.0, clip: float = 1.0):
        """The fitted model for serving: a tf.Module whose `__call__(features, bids)` (a dict of [batch]
        feature tensors, [batch, num_bids] bids) returns [batch, num_bids] float32 P(win) equal to
        predict_p_win (clipped into [floor, clip]). `feature_spec`: when given, every feature the
        model reads must be in it with the same kind. Its `input_specs()` give a serving signature."""

    # --- persistence ---------------------------------------------------------------------------
    @abc.abstractmethod
    def _get_params(self) -> Dict[str, Any]:
        """Everything `_set_params` needs to score, as JSON-able values."""

    @abc.abstractmethod
    def _set_params(self, params: Dict[str, Any]) -> None:
        pass

    def get_config(self) -> Dict[str, Any]:
        return {"max_fit_rows": self.max_fit_rows, "seed": self.seed}

    def to_dict(self) -> Dict[str, Any]:
        self._check_fitted()
        return {"kind": self.kind, "config": self.get_config(), "params": self._get_params(), "fit_info": self.fit_info}

    def save(self, path) -> None:
        """Writes the fitted model as JSON (no lifelines objects: loading needs numpy only)."""
        pathlib.Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "WinPropensityModel":
        if data.get("kind") != cls.kind:
            raise ValueError(f"Saved model kind {data.get('kind')!r} is not {cls.kind!r}; use load_win_model.")
        model = cls(**data["config"])
        model._set_params(data["params"])
        model.fit_info = data["fit_info"]
        return model

    @property
    def is_fitted(self) -> bool:
        return self.fit_info is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise ValueError(f"The {self.kind!r} win model is not fitted; call fit(frame) or load a saved model.")
