"""ModelConfig: one JSON-round-trippable dataclass that fully describes a model and its training."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional

from mtl_keras import dataclass_dict, names
from mtl_keras.features import FeatureSpec

# Task weighting methods (mtl_keras.weighting.TaskWeighting).
WEIGHTINGS = ("fixed", "uncertainty")

# Default λ per task; ESMM trains the CVR tower only through CTCVR, so its CVR loss weight is 0.
_DEFAULT_TASK_WEIGHTS = {
    "naive": {names.CTR: 1.0, names.CVR: 1.0},
    "esmm": {names.CTR: 1.0, names.CTCVR: 1.0, names.CVR: 0.0},
    "escm2_ips": {names.CTR: 1.0, names.CTCVR: 1.0, names.CVR: 1.0},
    "escm2_dr": {names.CTR: 1.0, names.CTCVR: 1.0, names.CVR: 1.0},
}


@dataclasses.dataclass
class ModelConfig:
    """Backbone, objective, task weighting, debiasing knobs and training hyper-parameters.

    Debiasing defaults (documented in the tasks): `ctr_propensity_floor`=0.01 and
    `ctr_weight_clip`=100 for the 1/pCTR weights of ESCM²; `ips_self_normalize`=False (unbiased
    IPS). With `win_weighting`, every impression-space loss is weighted by 1/p_win read from
    `p_win_column`, floored at `win_propensity_floor`=0.05, clipped at `win_weight_clip`=20 and
    self-normalised per batch (`win_self_normalize`=True).
    """

    features: FeatureSpec
    backbone: str = "mmoe"
    objective: str = "esmm"
    # Backbones.
    bottom_units: List[int] = dataclasses.field(default_factory=lambda: [128, 64])
    num_experts: int = 4
    expert_units: List[int] = dataclasses.field(default_factory=lambda: [128, 64])
    num_levels: int = 2
    num_shared_experts: int = 2
    num_task_experts: int = 2
    tower_units: List[int] = dataclasses.field(default_factory=lambda: [64, 32])
    dropout: float = 0.0
    embedding_l2: float = 0.0  # L2 on the embedding rows a batch looks up (SharedEmbedding.embeddings_l2)
    num_cross_layers: int = 0  # > 0 puts tfrs DCN Cross layers on the embeddings
    # Objective.
    task_weights: Optional[Dict[str, float]] = None  # None: the objective's defaults
    weighting: str = "fixed"
    ctr_propensity_floor: float = 0.01
    ctr_weight_clip: float = 100.0
    ips_self_normalize: bool = False
    # ESCM² click propensity: None uses the model's own pCTR; a column name reads it from the data.
    click_propensity_column: Optional[str] = None
    imputation_weight: float = 1.0
    win_weighting: bool = False
    p_win_column: str = names.P_WIN
    win_propensity_floor: float = 0.05
    win_weight_clip: float = 20.0
    win_self_normalize: bool = True
    # Metrics.
    num_calibration_bins: int = 10
    train_metrics: bool = True  # False skips metric updates in training steps (faster)
    # Training.
    learning_rate: float = 1e-3
    # "mixed_bfloat16" runs embeddings, backbone and towers in bfloat16 with float32 variables and
    # float32 losses: about 2x faster on CPUs with AMX/AVX512-BF16, slower on CPUs without them.
    precision: str = "float32"
    optimizer: str = "lazy_adam"  # or "adam"; lazy_adam updates only the embedding rows a batch touches
    batch_size: int = 1024
    # > 1 runs that many training steps per call into the TF graph: less Python overhead per step
    # (measured: shared-bottom step 9.6 -> 7.4 ms at 16); Keras callbacks then see every N-th batch.
    steps_per_execution: int = 1
    epochs: int = 1
    # Early stopping (mtl_keras.training.train): this share of the training impressions is held out,
    # the validation loss (the same weighted objective) is computed `evaluations_per_epoch` times
    # per epoch, training stops after `early_stopping_patience` evaluations without improvement and
    # the best weights are restored. 0 trains all `epochs` on every impression.
    validation_fraction: float = 0.0
    evaluations_per_epoch: int = 1
    early_stopping_patience: int = 2
    # After early stopping, the towers' output biases are refitted for this many full-batch steps on
    # the held-out rows under the training objective (training.refit_intercepts); 0 skips it.
    intercept_refit_steps: int = 0
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.features, dict):
            self.features = FeatureSpec.from_dict(self.features)
        if not isinstance(self.features, FeatureSpec):
            raise ValueError(f"ModelConfig.features must be a FeatureSpec or its dict, got {type(self.features)}.")
        _one_of("backbone", self.backbone, names.BACKBONES)
        _one_of("objective", self.objective, names.OBJECTIVES)
        _one_of("weighting", self.weighting, WEIGHTINGS)
        _one_of("optimizer", self.optimizer, ("lazy_adam", "adam"))
        _one_of("precision", self.precision, ("float32", "mixed_bfloat16"))
        for field in ("bottom_units", "expert_units", "tower_units"):
            units = list(getattr(self, field))
            if not units or any(not isinstance(u, int) or u < 1 for u in units):
                raise ValueError(f"ModelConfig.{field} must be a non-empty list of positive ints, got {units!r}.")
            setattr(self, field, units)
        for field in ("num_experts", "num_levels", "num_task_experts", "batch_size", "steps_per_execution",
                      "epochs", "num_calibration_bins", "evaluations_per_epoch", "early_stopping_patience"):
            _positive_int(field, getattr(self, field))
        if not isinstance(self.num_shared_experts, int) or self.num_shared_experts < 0:
            raise ValueError(f"ModelConfig.num_shared_experts must be an int >= 0, got {self.num_shared_experts!r}.")
        if not isinstance(self.num_cross_layers, int) or self.num_cross_layers < 0:
            raise ValueError(f"ModelConfig.num_cross_layers must be an int >= 0, got {self.num_cross_layers!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}.")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"ModelConfig.validation_fraction must be in [0, 1), got {self.validation_fraction!r}; "
                             "0 disables early stopping.")
        if not isinstance(self.intercept_refit_steps, int) or self.intercept_refit_steps < 0:
            raise ValueError(f"ModelConfig.intercept_refit_steps must be an int >= 0, got {self.intercept_refit_steps!r}.")
        if not self.embedding_l2 >= 0.0:
            raise ValueError(f"ModelConfig.embedding_l2 must be >= 0, got {self.embedding_l2!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"ModelConfig.learning_rate must be > 0, got {self.learning_rate}.")
        weights = dict(_DEFAULT_TASK_WEIGHTS[self.objective])
        for task, weight in (self.task_weights or {}).items():
            if task not in weights:
                raise ValueError(f"ModelConfig.task_weights names task {task!r}, which objective "
                                 f"{self.objective!r} does not have; its tasks are {sorted(weights)}.")
            weights[task] = float(weight)
        self.task_weights = weights

    @property
    def task_names(self) -> List[str]:
        return list(self.task_weights)

    @property
    def tower_names(self) -> List[str]:
        """Towers the backbone feeds: CTR, CVR, and the imputation tower for DR."""
        towers = [names.CTR, names.CVR]
        return towers + [names.IMPUTATION] if self.objective == "escm2_dr" else towers

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["features"] = self.features.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelConfig":
        if "features" not in data:
            raise ValueError("ModelConfig: 'features' is missing; give a FeatureSpec dict "
                             "({'categorical': [...], 'numeric': [...]}).")
        return dataclass_dict.from_dict(cls, data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        return cls.from_dict(json.loads(text))


def _one_of(field: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"ModelConfig.{field} must be one of {list(allowed)}, got {value!r}.")


def _positive_int(field: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"ModelConfig.{field} must be a positive int, got {value!r}.")
