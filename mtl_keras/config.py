"""ModelConfig: one JSON-round-trippable dataclass that fully describes a model and its training."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Union

from mtl_keras import dataclass_dict, early_stopping, names, row_weights, sample_spaces
from mtl_keras.backbones import BACKBONES, Backbone
from mtl_keras.features import FeatureSpec
from mtl_keras.objectives import OBJECTIVES, Objective
from mtl_keras.registry import parse_section, positive_int, units
from mtl_keras.schedules import SCHEDULES, LearningRateScheduleConfig

# Task weighting methods (mtl_keras.weighting.TaskWeighting).
WEIGHTINGS = ("fixed", "uncertainty")


@dataclasses.dataclass
class ModelConfig:
    """Backbone, objective, task weighting, debiasing knobs and training hyper-parameters.

    `backbone` and `objective` are typed sections chosen by name from `mtl_keras.backbones.BACKBONES`
    and `mtl_keras.objectives.OBJECTIVES`: give a name (default settings), a dict
    `{"name": "mmoe", "num_experts": 8}` or a section object (`MMoEConfig(num_experts=8)`); after
    construction they are section objects. A setting the chosen entry does not use is an error.

    With `win_weighting`, every impression-space loss is weighted by 1/p_win read from
    `p_win_column`, floored at `win_propensity_floor`=0.05, clipped at `win_weight_clip`=20 and
    self-normalised per batch (`win_self_normalize`=True); the floor must be in (0, 1) and the clip
    >= 1. The ESCM² click weights (1/pCTR) are settings of the escm2_ips / escm2_dr sections.

    `weight_columns` {task: column} ("*": every task; a task's own entry wins) multiplies each
    row's weight by a column >= 0 (importance or business weights); a weight of 2 counts as the row
    duplicated. The win weight is then one factor, unchanged by default; see mtl_keras.row_weights
    for the normalisation. `sample_spaces` {task: space} ("*": every task) sets the rows a task
    averages over: "impression", "click" (the CVR task of naive / esmm / cvr), "request" or a
    boolean column; None keeps each task's default (mtl_keras.sample_spaces). `weighted_metrics`: False (default) keeps AUC, log loss, ECE and the
    calibration ratio unweighted; True weights them by the same raw per-row weights (win x column).

    `learning_rate_schedule` is None (constant `learning_rate`) or a section of
    `mtl_keras.schedules.SCHEDULES`: {"name": "cosine", "warmup_steps": 500, "alpha": 0.1} or
    {"name": "step", "every_steps": 10000, "factor": 0.5}.
    """

    features: FeatureSpec
    backbone: Union[str, Dict[str, Any], Backbone] = "mmoe"
    objective: Union[str, Dict[str, Any], Objective] = "esmm"
    # Towers and the layers around the backbone.
    tower_units: List[int] = dataclasses.field(default_factory=lambda: [64, 32])
    dropout: float = 0.0
    embedding_l2: float = 0.0  # L2 on the embedding rows a batch looks up (SharedEmbedding.embeddings_l2)
    num_cross_layers: int = 0  # > 0 puts tfrs DCN Cross layers on the embeddings
    # Objective.
    task_weights: Optional[Dict[str, float]] = None  # None: the objective's defaults
    weighting: str = "fixed"
    win_weighting: bool = False
    p_win_column: str = names.P_WIN
    win_propensity_floor: float = 0.05
    win_weight_clip: float = 20.0
    win_self_normalize: bool = True
    # Per-row weights: {task: column} or {"*": column}; None: none (mtl_keras.row_weights).
    weight_columns: Optional[Dict[str, str]] = None
    # Rows per task: {task: "impression" | "click" | "request" | boolean column}; None: defaults.
    sample_spaces: Optional[Dict[str, str]] = None
    # Negative down-sampling: {tower: share of its negatives kept} ("ctr": unclicked impressions,
    # "cvr": clicked unconverted ones), each in (0, 1]. Training sees the sampled odds; the model's
    # outputs (predict, evaluate, the export) add log(rate) to that tower's logit, the unsampled scale.
    negative_sampling_rate: Optional[Dict[str, float]] = None
    # Metrics.
    weighted_metrics: bool = False  # True: metrics weighted by the tasks' per-row weights
    num_calibration_bins: int = 10
    train_metrics: bool = True  # False skips metric updates in training steps (faster)
    # Training.
    learning_rate: float = 1e-3
    # None: constant learning_rate; else "cosine" / "step" settings (mtl_keras.schedules).
    learning_rate_schedule: Union[None, str, Dict[str, Any], LearningRateScheduleConfig] = None
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
    # What early stopping follows on the validation rows: "loss" (the objective) or a task metric,
    # "<task>_auc" (max) or "<task>_log_loss" / "<task>_ece" / "<task>_loss" (min); see
    # mtl_keras.early_stopping. The restored weights are the best ones by this metric.
    early_stopping_metric: str = early_stopping.DEFAULT_METRIC
    # After early stopping, the towers' output biases are refitted for this many full-batch steps on
    # the held-out rows under the training objective (training.refit_intercepts); 0 skips it.
    intercept_refit_steps: int = 0
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.features, dict):
            self.features = FeatureSpec.from_dict(self.features)
        if not isinstance(self.features, FeatureSpec):
            raise ValueError(f"ModelConfig.features must be a FeatureSpec or its dict, got {type(self.features)}.")
        self.backbone = parse_section("backbone", BACKBONES, self.backbone)
        self.objective = parse_section("objective", OBJECTIVES, self.objective)
        if self.learning_rate_schedule is not None:
            self.learning_rate_schedule = parse_section("learning_rate_schedule", SCHEDULES,
                                                        self.learning_rate_schedule)
        _one_of("weighting", self.weighting, WEIGHTINGS)
        _one_of("optimizer", self.optimizer, ("lazy_adam", "adam"))
        _one_of("precision", self.precision, ("float32", "mixed_bfloat16"))
        self.tower_units = units("ModelConfig", "tower_units", self.tower_units)
        for field in ("batch_size", "steps_per_execution", "epochs", "num_calibration_bins", "evaluations_per_epoch",
                      "early_stopping_patience"):
            positive_int("ModelConfig", field, getattr(self, field))
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
        _check_win_weights(self.win_propensity_floor, self.win_weight_clip)
        weights = dict(self.objective.default_task_weights)
        for task, weight in (self.task_weights or {}).items():
            if task not in weights:
                raise ValueError(f"ModelConfig.task_weights names task {task!r}, which objective "
                                 f"{self.objective.name!r} does not have; its tasks are {sorted(weights)}.")
            weights[task] = float(weight)
        self.task_weights = weights
        self.weight_columns = row_weights.check_weight_columns(self.weight_columns, self.task_names,
                                                               self.objective.name)
        self.sample_spaces = sample_spaces.check_sample_spaces(self.sample_spaces, self.task_names, self.objective)
        self.negative_sampling_rate = _check_sampling_rates(self.negative_sampling_rate, self.tower_names)
        if not isinstance(self.weighted_metrics, bool):
            raise ValueError(f"ModelConfig.weighted_metrics must be True or False, got {self.weighted_metrics!r}.")
        early_stopping.check_metric(self.early_stopping_metric, self.task_names, self.objective.name)

    @property
    def task_names(self) -> List[str]:
        return list(self.task_weights)

    @property
    def tower_names(self) -> List[str]:
        """Towers the backbone feeds, as the objective declares them (CTR, CVR; DR adds imputation; ctr / cvr one)."""
        return list(self.objective.towers)

    @property
    def data_columns(self) -> List[str]:
        """Batch columns besides the features that training reads: the objective's labels, p_win, its own,
        the weight columns."""
        columns = list(self.objective.labels)
        if self.win_weighting:
            columns.append(self.p_win_column)
        columns += [c for c in self.objective.data_columns() if c not in columns]
        return columns + [c for c in row_weights.columns(self.weight_columns) if c not in columns]

    def to_dict(self) -> Dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["features"] = self.features.to_dict()
        data["backbone"] = self.backbone.to_dict()
        data["objective"] = self.objective.to_dict()
        if self.learning_rate_schedule is not None:
            data["learning_rate_schedule"] = self.learning_rate_schedule.to_dict()
        data["tower_units"] = list(self.tower_units)
        data["task_weights"] = dict(self.task_weights)
        data["weight_columns"] = None if self.weight_columns is None else dict(self.weight_columns)
        data["sample_spaces"] = None if self.sample_spaces is None else dict(self.sample_spaces)
        data["negative_sampling_rate"] = (None if self.negative_sampling_rate is None
                                          else dict(self.negative_sampling_rate))
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelConfig":
        if "features" not in data:
            raise ValueError("ModelConfig: 'features' is missing; give a FeatureSpec dict "
                             "({'categorical': [...], 'numeric': [...]}).")
        _reject_flat_sections(data)
        return dataclass_dict.from_dict(cls, data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        return cls.from_dict(json.loads(text))


def _one_of(field: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"ModelConfig.{field} must be one of {list(allowed)}, got {value!r}.")


def _check_win_weights(floor, clip) -> None:
    """The 1/p_win weights' bounds, checked here rather than when the model is built."""
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0.0 < floor < 1.0:
        raise ValueError(f"ModelConfig.win_propensity_floor must be in (0, 1), got {floor!r}: p_win is floored "
                         "there before 1/p_win, so 0 allows unbounded weights and 1 makes every weight 1.")
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip >= 1.0:
        raise ValueError(f"ModelConfig.win_weight_clip must be >= 1, got {clip!r}: it caps the weight 1/p_win, "
                         "which is at least 1.")


def _check_sampling_rates(rates, towers) -> Optional[Dict[str, float]]:
    if rates is None:
        return None
    if not isinstance(rates, dict):
        raise ValueError("ModelConfig.negative_sampling_rate must be a dict tower -> share of negatives kept, e.g. "
                         f"{{'ctr': 0.1}}, got {rates!r}.")
    # Dropping clicked, unconverted rows would also change the clicks a CTR tower sees: the CVR
    # rate is for the CVR-only objective, whose rows are all clicks.
    allowed = [names.CTR] if names.CTR in towers else [names.CVR]
    for tower, rate in rates.items():
        if tower not in allowed:
            raise ValueError(f"ModelConfig.negative_sampling_rate names {tower!r}; with towers {list(towers)} only "
                             f"{allowed} can be down-sampled (CTR: unclicked impressions; CVR: unconverted clicks, "
                             "objective 'cvr' only, since dropping clicks would bias a CTR tower).")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate <= 1.0:
            raise ValueError(f"ModelConfig.negative_sampling_rate[{tower!r}] must be in (0, 1] (the share of "
                             f"negatives kept; 1 = no sampling), got {rate!r}.")
    return {t: float(r) for t, r in rates.items()}


def _reject_flat_sections(data: Dict[str, Any]) -> None:
    """Settings written at the top level (the pre-0.2 flat layout) name the section they belong in."""
    for kind, table in (("backbone", BACKBONES), ("objective", OBJECTIVES), ("learning_rate_schedule", SCHEDULES)):
        for key in data:
            owners = [n for n, s in table.items() if key in {f.name for f in dataclasses.fields(s)}]
            if owners:
                raise ValueError(f"ModelConfig: {key!r} is a setting of the {kind} section, not of ModelConfig; "
                                 f"write it as \"{kind}\": {{\"name\": {owners[0]!r}, {key!r}: ...}} "
                                 f"({kind}s that use it: {owners}).")
