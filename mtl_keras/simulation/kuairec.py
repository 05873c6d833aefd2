"""A semi-synthetic funnel on real outcomes from KuaiRec (user x video watch ratios).

random.txt holds 117,113 (user, video, watch_ratio) pairs of KuaiRec's fully observed small matrix
(83 random videos per user), so the outcome is known on every pair, not only on
recommended ones. Each pair is one bid request with real outcome
potential_conversion = 1[watch_ratio >= conversion_threshold]; exposure (an auction) and clicks are
simulated on top, and the frame has the column contract of `mtl_keras.simulation`, so the bias
benchmark can score models on it.

Features: user_id, item_id (dense ids from 0) and, with y' = log1p(watch_ratio),
  user_activity   = (sum of y' over the user's rows + k mean y') / (rows + k),   k = 10,
  item_popularity = the same over the item's rows,
i.e. per-id means shrunk towards the global mean so that rare items (some have one row) do not carry
their own outcome verbatim. Both are functions of the id, so they add nothing within an id, but they
use all rows, test rows included: a mild leak shared by every method. z_u, z_i are their
request-space z-scores.

Mechanism, with r_j ~ N(0, 0.15²) per item and c_u ~ N(0, 0.3²) per user drawn from world_seed, and
e_b, e_m ~ N(0, 1), U ~ Uniform(0, 1) per row drawn from sample_seed:
  log bid    = a_bid + 0.25 z_u + 0.10 z_i + 0.15 e_b
  mu_m       = log 50 + 0.30 z_i + r_j               (popular videos are more contested)
  log market = mu_m + sigma e_m (sigma = market_price_sigma);  won = bid > market
  true_p_win = Phi((log bid - mu_m) / sigma)   (exact: the market draw is the only randomness left)
  logit p_ctr = a_ctr + 0.4 z_u + 0.4 z_i + c_u + outcome_dependence (y - mean y),  y = potential_conversion
  potential_click = 1[U < p_ctr];  click = won * potential_click;  conversion = click * y
a_bid (given this sample's bid noise: the bidder paces its bids to a target win rate) and a_ctr are
solved so that the request-space means of true_p_win and true_p_ctr equal the base rates exactly.
outcome_dependence = 0 is selection on observables: given the features (ids included), exposure and
clicks are independent of y. Above 0 clicks depend on y itself: missing not at random.

Ground truth: the real conversion probability is unknown, so true_p_cvr is the outcome y itself;
CVR log loss / ECE against it carry Bernoulli noise (no model reaches 0). true_intent is 0: no latent.

Measured at the defaults (117,113 rows, world_seed 0, sample_seed 0): 58,587 exposures, 29,513 clicks,
1,860 conversions among clicks (1,783 to 1,916 over sample seeds 0-19); 1.4% of rows have
true_p_win < 0.05, 0.14% < 0.01. Conversion rate: requests 0.0495, exposures 0.0473 (popular videos
convert more but are more contested), clicks 0.0630 (outcome_dependence 0), 0.0877 (2).
"""
from __future__ import annotations

import dataclasses
import math
import os
import pathlib

import numpy as np
import pandas as pd
from scipy import special

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.simulation.world import solve_intercept

# ../shared/data beside the repository, as tests/conftest.py finds it.
DEFAULT_PATH = str(pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"
                   / "kuairec_small_matrix" / "random.txt")
USER, ITEM, WATCH_RATIO = "user_id", "item_id", "watch_ratio"
USER_ACTIVITY, ITEM_POPULARITY = "user_activity", "item_popularity"
CATEGORICAL, NUMERIC = (USER, ITEM), (USER_ACTIVITY, ITEM_POPULARITY)

_SHRINKAGE_ROWS = 10.0
# Small auction coefficients keep overlap: the spread log bid - mu_m has sd ~0.4 against sigma 0.5, so
# only ~1.4% of requests have true_p_win < 0.05. The market follows item popularity more than the bid
# does, so exposure selects against popular (more often converting) videos while clicks select for
# them: the two funnel stages bias CVR in opposite directions.
_COMPETITION_SD, _CTR_USER_SD = 0.15, 0.3
_BID_USER, _BID_ITEM, _BID_NOISE = 0.25, 0.10, 0.15
_MARKET_ITEM, _MARKET_LOG_MEDIAN = 0.30, math.log(50.0)  # the median only sets the price scale
_CTR_USER, _CTR_ITEM = 0.4, 0.4
# Fixed second entries of the seed sequences keep the world's and the sample's streams apart.
_WORLD_STREAM, _SAMPLE_STREAM = 2**32 - 3, 2**32 - 4


class KuaiRecFileNotFound(FileNotFoundError, ValueError):
    """The KuaiRec file is missing; both kinds, so callers catching bad input as ValueError see it."""


@dataclasses.dataclass(frozen=True)
class KuaiRecSelection:
    """Knobs of the simulated exposure (auction) and click on top of KuaiRec's real outcomes."""

    base_win_rate: float = 0.5
    base_ctr: float = 0.5
    conversion_threshold: float = 2.0
    outcome_dependence: float = 0.0
    market_price_sigma: float = 0.5
    world_seed: int = 0

    def __post_init__(self):
        for field in ("base_win_rate", "base_ctr"):
            value = getattr(self, field)
            if not (_is_number(value) and 0.001 <= value <= 0.999):
                raise ValueError(f"KuaiRecSelection.{field} must be a rate in [0.001, 0.999], got {value!r}.")
        if not (_is_number(self.conversion_threshold) and 0 < self.conversion_threshold < math.inf):
            raise ValueError("KuaiRecSelection.conversion_threshold must be a finite watch ratio > 0 (e.g. 2.0), "
                             f"got {self.conversion_threshold!r}.")
        if not (_is_number(self.outcome_dependence) and -5 <= self.outcome_dependence <= 5):
            raise ValueError("KuaiRecSelection.outcome_dependence must be in [-5, 5] (0: selection on "
                             f"observables), got {self.outcome_dependence!r}.")
        if not (_is_number(self.market_price_sigma) and 0 < self.market_price_sigma < math.inf):
            raise ValueError(f"KuaiRecSelection.market_price_sigma must be > 0, got {self.market_price_sigma!r}.")
        if not (isinstance(self.world_seed, int) and not isinstance(self.world_seed, bool) and self.world_seed >= 0):
            raise ValueError(f"KuaiRecSelection.world_seed must be an int >= 0, got {self.world_seed!r}.")


def load_kuairec(path: str = DEFAULT_PATH) -> pd.DataFrame:
    """KuaiRec pairs as a frame with columns user_id, item_id (int64), watch_ratio (float64)."""
    if not os.path.isfile(path):
        raise KuaiRecFileNotFound(f"KuaiRec file {str(path)!r} does not exist; give the path of random.txt "
                                "(user_id,item_id,watch_ratio, no header).")
    try:
        ratings = pd.read_csv(path, header=None)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as error:
        raise ValueError(f"KuaiRec file {str(path)!r} is not a comma-separated table: {error}") from error
    if ratings.shape[1] != 3:
        raise ValueError(f"KuaiRec file {str(path)!r} has {ratings.shape[1]} columns; expected 3 "
                         "(user_id,item_id,watch_ratio, no header).")
    ratings.columns = [USER, ITEM, WATCH_RATIO]
    return check_ratings(ratings, where=f"KuaiRec file {str(path)!r}")


def check_ratings(ratings: pd.DataFrame, where: str = "ratings") -> pd.DataFrame:
    """The ratings with int64 ids and float64 watch ratios; ValueError naming the problem otherwise."""
    missing = [c for c in (USER, ITEM, WATCH_RATIO) if c not in ratings.columns]
    if missing:
        raise ValueError(f"{where} lacks columns {missing}; expected user_id, item_id, watch_ratio.")
    if ratings.empty:
        raise ValueError(f"{where} has no rows.")
    out = {}
    for column in (USER, ITEM, WATCH_RATIO):
        values = pd.to_numeric(ratings[column], errors="coerce").to_numpy(np.float64)
        bad = int(np.isnan(values).sum())
        if bad:
            raise ValueError(f"{where}: column {column!r} has {bad} NaN or non-numeric values; drop or fix them.")
        out[column] = values
    for column in (USER, ITEM):
        if not np.all(np.mod(out[column], 1) == 0):
            raise ValueError(f"{where}: column {column!r} must hold integer ids.")
        out[column] = out[column].astype(np.int64)
    bad = int(((out[WATCH_RATIO] < 0) | ~np.isfinite(out[WATCH_RATIO])).sum())
    if bad:
        raise ValueError(f"{where}: column 'watch_ratio' has {bad} negative or infinite values; "
                         "a watch ratio is play time / video duration >= 0.")
    return pd.DataFrame(out)


def kuairec_frame(ratings: pd.DataFrame, selection: KuaiRecSelection, sample_seed: int) -> pd.DataFrame:
    """One bid request per rating, in input order, with the simulator's columns (see module docstring)."""
    if not (isinstance(sample_seed, int) and not isinstance(sample_seed, bool) and sample_seed >= 0):
        raise ValueError(f"sample_seed must be an int >= 0, got {sample_seed!r}.")
    ratings = check_ratings(ratings)
    n = len(ratings)
    _, user = np.unique(ratings[USER].to_numpy(), return_inverse=True)
    _, item = np.unique(ratings[ITEM].to_numpy(), return_inverse=True)
    user, item = user.reshape(-1).astype(np.int64), item.reshape(-1).astype(np.int64)
    watch = ratings[WATCH_RATIO].to_numpy()
    outcome = (watch >= selection.conversion_threshold).astype(np.int64)
    if outcome.min() == outcome.max():
        raise ValueError(f"conversion_threshold={selection.conversion_threshold} makes every outcome {outcome[0]}; "
                         f"choose a threshold between the watch ratios' range [{watch.min():.3g}, {watch.max():.3g}].")
    log_watch = np.log1p(watch)
    activity = _shrunk_mean(log_watch, user)
    popularity = _shrunk_mean(log_watch, item)
    z_user, z_item = _standardise(activity), _standardise(popularity)

    world = np.random.default_rng([selection.world_seed, _WORLD_STREAM])
    competition = world.normal(0.0, _COMPETITION_SD, item.max() + 1)[item]
    user_click = world.normal(0.0, _CTR_USER_SD, user.max() + 1)[user]
    sample = np.random.default_rng([sample_seed, _SAMPLE_STREAM])
    eps_bid, eps_market = sample.standard_normal((2, n))
    u_click = sample.random(n)

    sigma = selection.market_price_sigma
    bid_offset = _BID_USER * z_user + _BID_ITEM * z_item + _BID_NOISE * eps_bid
    market_mu = _MARKET_LOG_MEDIAN + _MARKET_ITEM * z_item + competition
    a_bid = solve_intercept((bid_offset - market_mu) / sigma, selection.base_win_rate, special.ndtr, 1.0 / sigma)
    log_bid = a_bid + bid_offset
    log_market = market_mu + sigma * eps_market
    won = log_bid > log_market
    ctr_offset = (_CTR_USER * z_user + _CTR_ITEM * z_item + user_click
                  + selection.outcome_dependence * (outcome - outcome.mean()))
    p_ctr = special.expit(solve_intercept(ctr_offset, selection.base_ctr, special.expit) + ctr_offset)
    potential_click = u_click < p_ctr
    click = won & potential_click

    return pd.DataFrame({
        USER: user,
        ITEM: item,
        USER_ACTIVITY: activity.astype(np.float32),
        ITEM_POPULARITY: popularity.astype(np.float32),
        names.BID_PRICE: np.exp(log_bid),
        names.WON: won.astype(np.int64),
        names.MARKET_PRICE: np.where(won, np.exp(log_market), np.nan),
        names.CLICK: click.astype(np.int64),
        names.CONVERSION: (click & (outcome == 1)).astype(np.int64),
        names.TRUE_P_WIN: special.ndtr((log_bid - market_mu) / sigma),
        names.TRUE_P_CTR: p_ctr,
        names.TRUE_P_CVR: outcome.astype(np.float64),  # the real outcome: its probability is unknown
        names.POTENTIAL_CLICK: potential_click.astype(np.int64),
        names.POTENTIAL_CONVERSION: outcome,
        names.TRUE_INTENT: np.zeros(n),
    })


def kuairec_feature_spec(frame: pd.DataFrame, embedding_dim: int = 8) -> FeatureSpec:
    """The FeatureSpec of a kuairec_frame: call it on the whole frame, before any split, so the
    vocabularies cover every id; numeric mean/std are the frame's."""
    missing = [c for c in CATEGORICAL + NUMERIC if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks feature columns {missing}; pass the output of kuairec_frame.")
    numeric = []
    for name in NUMERIC:
        values = frame[name].to_numpy(np.float64)
        numeric.append(NumericFeature(name, mean=float(values.mean()), std=float(values.std()) or 1.0))
    return FeatureSpec(
        categorical=[CategoricalFeature(name, vocabulary_size=int(frame[name].max()) + 1, embedding_dim=embedding_dim)
                     for name in CATEGORICAL],
        numeric=numeric,
    )


def _shrunk_mean(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per-id mean of `values`, shrunk towards the global mean by _SHRINKAGE_ROWS pseudo-rows, per row."""
    sums = np.bincount(ids, weights=values)
    counts = np.bincount(ids)
    means = (sums + _SHRINKAGE_ROWS * values.mean()) / (counts + _SHRINKAGE_ROWS)
    return means[ids]


def _standardise(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() or 1.0)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
