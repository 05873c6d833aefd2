"""SimulationConfig: the knobs of the funnel simulator, JSON round-trippable."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from mtl_keras import dataclass_dict

# Feature names the simulator writes (the first `num_categorical` of these, then cat_<i>), numeric
# features num_<i>, and the files of a simulated dataset directory.
SIM_CATEGORICAL_FEATURES = ("user_id", "ad_id", "campaign_id", "site_id", "device", "hour")
SIM_EXTRA_CATEGORICAL_PREFIX = "cat_"
SIM_NUMERIC_PREFIX = "num_"
SIM_FILE_PREFIX = "requests"
FEATURE_SPEC_FILE = "feature_spec.json"
SUMMARY_FILE = "summary.json"

# Default vocabulary sizes of the named categorical features; extra ones (cat_<i>) get the last.
_DEFAULT_VOCABULARY = {"user_id": 10_000, "ad_id": 1_000, "campaign_id": 100, "site_id": 200, "device": 4, "hour": 24}
_EXTRA_VOCABULARY = 50


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulated ad funnel.

    Base rates are means over the whole request space of the ground truth (true_p_win, true_p_ctr,
    true_p_cvr); observed rates on won / clicked rows differ from them by the selection bias.
    `bias_strength` scales how strongly the bid and the market price follow the value signal that
    also drives CTR, and how strongly CVR shares that signal: 0 gives won and clicked rows that are
    random samples with respect to CVR, larger values give more bias.
    `vocabulary_sizes` has one entry per categorical feature (None: defaults per name).
    `chunk_size` is the rows per chunk / output file; data are identical for any chunk size.
    `world_seed` draws the world (effect tables, intercepts) and `seed` the requests; None keeps
    the older behaviour of one seed for both. `intent_strength` (confounding by a latent intent)
    and `observed_buckets` (ids written modulo it) are explained in world.py; the scenarios in
    mtl_keras.simulation.scenarios set them.
    """

    num_requests: int = 100_000
    seed: int = 0
    world_seed: Optional[int] = None
    intent_strength: float = 0.0
    observed_buckets: Optional[int] = None
    base_win_rate: float = 0.45
    base_ctr: float = 0.08
    base_cvr: float = 0.15
    bias_strength: float = 1.0
    num_categorical: int = 6
    num_numeric: int = 4
    vocabulary_sizes: Optional[Tuple[int, ...]] = None
    market_price_median: float = 50.0
    market_price_sigma: float = 0.5
    chunk_size: int = 262_144

    def __post_init__(self):
        if self.vocabulary_sizes is not None:
            object.__setattr__(self, "vocabulary_sizes", tuple(self.vocabulary_sizes))
        for field in ("num_requests", "chunk_size"):
            _check_int(self, field, minimum=1)
        _check_int(self, "seed", minimum=0)
        if self.world_seed is not None:
            _check_int(self, "world_seed", minimum=0)
        if self.observed_buckets is not None:
            _check_int(self, "observed_buckets", minimum=1)
        if not (isinstance(self.intent_strength, (int, float)) and 0 <= self.intent_strength <= 5):
            raise ValueError(f"SimulationConfig.intent_strength must be in [0, 5], got {self.intent_strength!r}.")
        _check_int(self, "num_categorical", minimum=0)
        _check_int(self, "num_numeric", minimum=0)
        if self.num_categorical + self.num_numeric == 0:
            raise ValueError("SimulationConfig: num_categorical + num_numeric is 0; give at least one feature.")
        for field in ("base_win_rate", "base_ctr", "base_cvr"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and 0.001 <= value <= 0.999):
                raise ValueError(f"SimulationConfig.{field} must be a rate in [0.001, 0.999], got {value!r}.")
        if not (isinstance(self.bias_strength, (int, float)) and 0 <= self.bias_strength <= 5):
            raise ValueError(f"SimulationConfig.bias_strength must be in [0, 5], got {self.bias_strength!r}.")
        for field in ("market_price_median", "market_price_sigma"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"SimulationConfig.{field} must be > 0, got {value!r}.")
        if self.vocabulary_sizes is not None:
            if len(self.vocabulary_sizes) != self.num_categorical:
                raise ValueError(
                    f"SimulationConfig.vocabulary_sizes has {len(self.vocabulary_sizes)} entries but "
                    f"num_categorical={self.num_categorical}; give one size per categorical feature."
                )
            for size in self.vocabulary_sizes:
                if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                    raise ValueError(f"SimulationConfig.vocabulary_sizes must hold positive ints, got {size!r}.")

    @property
    def world(self) -> int:
        """The seed of the world: world_seed, or seed when that is None."""
        return self.seed if self.world_seed is None else self.world_seed

    @property
    def categorical_names(self) -> List[str]:
        base = list(SIM_CATEGORICAL_FEATURES[: self.num_categorical])
        extra = [f"{SIM_EXTRA_CATEGORICAL_PREFIX}{i}" for i in range(len(base), self.num_categorical)]
        return base + extra

    @property
    def numeric_names(self) -> List[str]:
        return [f"{SIM_NUMERIC_PREFIX}{i}" for i in range(self.num_numeric)]

    @property
    def numeric_means(self) -> List[float]:
        """Mean of each numeric feature's generating Normal distribution."""
        return [0.5 * i for i in range(self.num_numeric)]

    @property
    def numeric_stds(self) -> List[float]:
        return [1.0 + 0.25 * i for i in range(self.num_numeric)]

    @property
    def vocabularies(self) -> List[int]:
        if self.vocabulary_sizes is not None:
            return list(self.vocabulary_sizes)
        return [_DEFAULT_VOCABULARY.get(n, _EXTRA_VOCABULARY) for n in self.categorical_names]

    @property
    def observed_vocabularies(self) -> List[int]:
        """Vocabulary sizes of the ids as written (capped at observed_buckets)."""
        cap = self.observed_buckets
        return [min(size, cap) if cap else size for size in self.vocabularies]

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["vocabulary_sizes"] is not None:
            data["vocabulary_sizes"] = list(data["vocabulary_sizes"])
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "SimulationConfig":
        return dataclass_dict.from_dict(cls, data)


def _check_int(config: SimulationConfig, field: str, minimum: int) -> None:
    value = getattr(config, field)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"SimulationConfig.{field} must be an int >= {minimum}, got {value!r}.")
