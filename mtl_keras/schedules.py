"""Learning-rate schedules: typed ModelConfig sections chosen by name, built as Keras schedules.

`ModelConfig.learning_rate_schedule` is None (a constant `learning_rate`, the default) or one of:

- "cosine": `warmup_steps` (default 0) of linear warmup, then cosine decay from `learning_rate` to
  `alpha`·`learning_rate` (default alpha 0) over the remaining training steps. The total number of
  steps is only known with the data: `training.train` computes it (epochs x batches per epoch) and
  passes it to `models.build_model(config, total_steps=...)`.
- "step": the rate is multiplied by `factor` (default 0.5) every `every_steps` optimizer steps.

Steps are the optimizer's iterations counted from 0 (one per training batch). Exact rates:
cosine at step s: s < W: lr·(s+1)/W; else lr·(α + (1−α)·(1 + cos(π·min(s−W, D)/D))/2), D = total − W.
step at step s: lr·factor^⌊s / every_steps⌋.

This module does not import TensorFlow (ModelConfig reads it); the Keras schedule classes live in
`mtl_keras.optimizers`.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from mtl_keras.registry import Section


@dataclasses.dataclass
class LearningRateScheduleConfig(Section):
    """A schedule's settings; `build` returns the Keras LearningRateSchedule for a base rate."""

    def build(self, learning_rate: float, total_steps: Optional[int] = None):
        raise NotImplementedError

    def _error(self, message: str) -> ValueError:
        return ValueError(f"ModelConfig.learning_rate_schedule {self.name!r}: {message}")


def _is_int(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclasses.dataclass
class CosineScheduleConfig(LearningRateScheduleConfig):
    """Linear warmup over `warmup_steps`, then cosine decay to `alpha`·lr at the end of training."""

    name = "cosine"

    warmup_steps: int = 0
    alpha: float = 0.0

    def __post_init__(self):
        if not _is_int(self.warmup_steps, 0):
            raise self._error(f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}.")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0.0 <= self.alpha <= 1.0:
            raise self._error(f"alpha (the final rate as a share of learning_rate) must be in [0, 1], "
                              f"got {self.alpha!r}.")
        self.alpha = float(self.alpha)

    def build(self, learning_rate: float, total_steps: Optional[int] = None):
        from mtl_keras.optimizers import WarmupCosineDecay

        if total_steps is None:
            raise self._error("it decays over the training steps, which depend on the data; pass "
                              "total_steps to build_model (training.train does).")
        if not _is_int(total_steps, 1):
            raise self._error(f"total_steps must be an int >= 1, got {total_steps!r}.")
        if self.warmup_steps >= total_steps:
            raise self._error(f"warmup_steps={self.warmup_steps} leaves no step to decay over: training has "
                              f"{total_steps} steps (epochs x batches per epoch). Lower warmup_steps.")
        return WarmupCosineDecay(learning_rate, decay_steps=total_steps - self.warmup_steps,
                                 warmup_steps=self.warmup_steps, alpha=self.alpha)


@dataclasses.dataclass
class StepScheduleConfig(LearningRateScheduleConfig):
    """The rate times `factor` every `every_steps` optimizer steps (a staircase)."""

    name = "step"

    every_steps: Optional[int] = None
    factor: float = 0.5

    def __post_init__(self):
        if not _is_int(self.every_steps, 1):
            raise self._error(f"every_steps (steps between drops) must be an int >= 1, got {self.every_steps!r}.")
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or not 0.0 < self.factor < 1.0:
            raise self._error(f"factor (the rate's multiplier at each drop) must be in (0, 1), got {self.factor!r}.")
        self.factor = float(self.factor)

    def build(self, learning_rate: float, total_steps: Optional[int] = None):
        import tf_keras as keras

        return keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=self.every_steps, decay_rate=self.factor, staircase=True)


SCHEDULES = {section.name: section for section in (CosineScheduleConfig, StepScheduleConfig)}
