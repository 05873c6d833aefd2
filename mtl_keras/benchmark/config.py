"""BiasBenchmarkConfig: size, model budget and methods of the debiasing benchmark."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Tuple

from mtl_keras.benchmark.methods import METHOD_NAMES, methods_by_name

# The defaults ran in under 20 minutes per backbone on the shared 2-core machine (see README).
DEFAULT_REQUESTS = 200_000
DEFAULT_TEST_REQUESTS = 100_000
DEFAULT_EPOCHS = 1
# 256 / 2e-3: with batch 1024 / 1e-3 one epoch is ~200 steps and the models stay near chance on
# CVR; a second epoch over the same rows overfits the id embeddings (measured, seed 0).
DEFAULT_BATCH_SIZE = 256
DEFAULT_LEARNING_RATE = 2e-3
_WIN_KINDS = ("lognormal_aft", "weibull_aft")


@dataclasses.dataclass
class BiasBenchmarkConfig:
    """One benchmark run: `seeds` repeats (seed s simulates a new world and new requests and
    initialises every model with s), each method trained with the same backbone and budget.

    requests: training requests per seed (the survival model is fitted on all of them, the
    multi-task models on their won impressions); test_requests: held-out requests per seed
    (0: as many as `requests`). win_fit_rows: the survival fit subsample (lifelines is slow).
    """

    backbone: str = "mmoe"
    requests: int = DEFAULT_REQUESTS
    test_requests: int = DEFAULT_TEST_REQUESTS
    seeds: int = 3
    first_seed: int = 0
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

    def __post_init__(self):
        if self.backbone not in ("mmoe", "ple"):
            raise ValueError(f"backbone must be 'mmoe' or 'ple', got {self.backbone!r}.")
        if self.win_model not in _WIN_KINDS:
            raise ValueError(f"win_model must be one of {list(_WIN_KINDS)} (a survival model with features), "
                             f"got {self.win_model!r}.")
        for field, minimum in (("requests", 1000), ("test_requests", 0), ("seeds", 1), ("first_seed", 0),
                               ("win_fit_rows", 100), ("epochs", 1), ("batch_size", 1), ("embedding_dim", 1),
                               ("num_experts", 1), ("num_bins", 1)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{field} must be an int >= {minimum}, got {value!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        self.methods = tuple(m.name for m in methods_by_name(list(self.methods)))
        if self.test_requests == 0:
            self.test_requests = self.requests

    @property
    def seed_list(self) -> List[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def model_fields(self) -> Dict[str, Any]:
        """ModelConfig fields shared by every method (the common budget)."""
        fields = {"backbone": self.backbone, "epochs": self.epochs, "batch_size": self.batch_size,
                  "learning_rate": self.learning_rate, "expert_units": list(self.expert_units),
                  "tower_units": list(self.tower_units), "train_metrics": False}
        if self.backbone == "mmoe":
            fields["num_experts"] = self.num_experts
        else:  # one CGC level, experts split between shared and per-task: about MMoE's size per tower
            fields.update(num_levels=1, num_shared_experts=max(1, self.num_experts // 2),
                          num_task_experts=max(1, self.num_experts // 2))
        return fields

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["methods"] = list(self.methods)
        return data

