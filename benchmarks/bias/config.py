"""BiasBenchmarkConfig: size, model budget and methods of the debiasing benchmark."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Tuple

from benchmarks.bias.methods import METHOD_NAMES, methods_by_name
from mtl_keras.backbones import BACKBONES

# 500k training requests give ~5,400 training conversions in the default scenario (measured,
# world 0). Every model overfits the id embeddings within one or two epochs at this size (the
# validation loss rises and an overfit model under-predicts rare conversions out of sample), so
# training holds out 20 % of the impressions, validates 4 times per epoch, stops after 2 checks
# without improvement, restores the best weights and refits the towers' intercepts on the
# held-out rows under each method's own objective (training.refit_intercepts).
DEFAULT_REQUESTS = 500_000
DEFAULT_TEST_REQUESTS = 100_000
DEFAULT_SEEDS = 5
DEFAULT_EPOCHS = 6
DEFAULT_BATCH_SIZE = 256
DEFAULT_LEARNING_RATE = 2e-3
DEFAULT_VALIDATION_FRACTION = 0.2
DEFAULT_REFIT_STEPS = 150
# --quick: sizes for tests and a first look (seconds, not minutes; no verdict to trust).
QUICK = {"requests": 6000, "test_requests": 4000, "seeds": 2, "epochs": 1, "batch_size": 512, "embedding_dim": 2,
         "num_experts": 2, "expert_units": [4], "tower_units": [4], "win_fit_rows": 2000, "evaluations_per_epoch": 1,
         "intercept_refit_steps": 20}
KUAIREC = "kuairec"  # the semi-synthetic scenario on real outcomes (mtl_keras.simulation.kuairec)
_WIN_KINDS = ("lognormal_aft", "weibull_aft")


@dataclasses.dataclass
class BiasBenchmarkConfig:
    """One benchmark run of `scenario`: for each of `worlds` worlds (world seeds world_seed,
    world_seed + 1, ...), `seeds` repeats, seed s drawing new requests and initialising every
    model with s; each method is trained with the same backbone and budget, so methods are
    compared paired on (world, seed).

    requests: training requests per seed (the survival model is fitted on all of them, the
    multi-task models on their won impressions); test_requests: held-out requests per seed
    (0: as many as `requests`). win_fit_rows: the survival fit subsample (lifelines is slow).
    Scenario `kuairec` trains on the selected rows of the KuaiRec matrix and scores all of it
    (requests / test_requests are then unused).
    """

    backbone: str = "mmoe"
    scenario: str = "observables"
    requests: int = DEFAULT_REQUESTS
    test_requests: int = DEFAULT_TEST_REQUESTS
    seeds: int = DEFAULT_SEEDS
    first_seed: int = 0
    world_seed: int = 0
    worlds: int = 1
    methods: Tuple[str, ...] = METHOD_NAMES
    win_model: str = "lognormal_aft"
    win_fit_rows: int = 50_000
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH_SIZE
    learning_rate: float = DEFAULT_LEARNING_RATE
    embedding_dim: int = 8
    num_experts: int = 4
    expert_units: List[int] = dataclasses.field(default_factory=lambda: [64, 32])
    tower_units: List[int] = dataclasses.field(default_factory=lambda: [32])
    num_bins: int = 10
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    evaluations_per_epoch: int = 4
    early_stopping_patience: int = 2
    intercept_refit_steps: int = DEFAULT_REFIT_STEPS
    overlap_floor: float = 0.05
    # Each method also scored after request-space calibration (isotonic, 1/p_win weights) fitted on a
    # fresh sample of the same world: the "<method>+calibrated" rows (benchmarks.bias.calibrated).
    calibrate: bool = True

    def __post_init__(self):
        from mtl_keras.simulation.scenarios import SCENARIOS

        if self.scenario not in (*SCENARIOS, KUAIREC):
            raise ValueError(f"scenario must be one of {[*SCENARIOS, KUAIREC]}, got {self.scenario!r}.")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {list(BACKBONES)}, got {self.backbone!r}.")
        if self.win_model not in _WIN_KINDS:
            raise ValueError(f"win_model must be one of {list(_WIN_KINDS)} (a survival model with features), "
                             f"got {self.win_model!r}.")
        for field, minimum in (("requests", 1000), ("test_requests", 0), ("seeds", 1), ("first_seed", 0),
                               ("world_seed", 0), ("worlds", 1), ("win_fit_rows", 100), ("epochs", 1),
                               ("batch_size", 1), ("embedding_dim", 1), ("num_experts", 1), ("num_bins", 1),
                               ("evaluations_per_epoch", 1), ("early_stopping_patience", 1),
                               ("intercept_refit_steps", 0)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{field} must be an int >= {minimum}, got {value!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}.")
        if not 0.0 < self.overlap_floor < 1.0:
            raise ValueError(f"overlap_floor must be in (0, 1), got {self.overlap_floor!r}.")
        self.methods = tuple(m.name for m in methods_by_name(list(self.methods)))
        if self.test_requests == 0:
            self.test_requests = self.requests

    @property
    def seed_list(self) -> List[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    @property
    def world_list(self) -> List[int]:
        return list(range(self.world_seed, self.world_seed + self.worlds))

    def model_fields(self) -> Dict[str, Any]:
        """ModelConfig fields shared by every method (the common budget)."""
        backbone = BACKBONES[self.backbone].sized(self.num_experts, list(self.expert_units))
        fields = {"backbone": backbone.to_dict(), "epochs": self.epochs, "batch_size": self.batch_size,
                  "learning_rate": self.learning_rate,
                  "tower_units": list(self.tower_units), "train_metrics": False,
                  "validation_fraction": self.validation_fraction, "evaluations_per_epoch": self.evaluations_per_epoch,
                  "early_stopping_patience": self.early_stopping_patience,
                  "intercept_refit_steps": self.intercept_refit_steps,
                  "win_propensity_floor": self.overlap_floor}
        return fields

    @property
    def reported_methods(self) -> List[str]:
        """The methods, then their calibrated rows when `calibrate`."""
        from benchmarks.bias.calibrated import calibrated_name

        return list(self.methods) + ([calibrated_name(m) for m in self.methods] if self.calibrate else [])

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["methods"] = list(self.methods)
        return data

