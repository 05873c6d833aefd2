"""PLE: stacked CGC levels of shared and task-specific experts."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, List

from mtl_keras.backbones.base import Backbone
from mtl_keras.registry import positive_int, units


@dataclasses.dataclass
class PLEConfig(Backbone):
    name = "ple"
    has_gates: ClassVar[bool] = True

    num_levels: int = 2
    num_shared_experts: int = 2
    num_task_experts: int = 2
    expert_units: List[int] = dataclasses.field(default_factory=lambda: [128, 64])

    def __post_init__(self):
        positive_int("PLEConfig", "num_levels", self.num_levels)
        positive_int("PLEConfig", "num_shared_experts", self.num_shared_experts, minimum=0)
        positive_int("PLEConfig", "num_task_experts", self.num_task_experts)
        self.expert_units = units("PLEConfig", "expert_units", self.expert_units)

    def build(self, num_tasks: int, dtype: Any = None):
        from mtl_keras.layers import PLE

        return PLE(num_levels=self.num_levels, num_shared_experts=self.num_shared_experts,
                   num_task_experts=self.num_task_experts, expert_units=self.expert_units, num_tasks=num_tasks,
                   name=self.name, dtype=dtype)

    def final_gates(self, gate_weights):
        # The last CGC level's task gates over [that task's experts, shared experts].
        return gate_weights[-1]

    @classmethod
    def sized(cls, num_experts: int, units: List[int]) -> "PLEConfig":
        # One CGC level, experts split between shared and per-task: about MMoE's size per tower.
        half = max(1, num_experts // 2)
        return cls(num_levels=1, num_shared_experts=half, num_task_experts=half, expert_units=list(units))
