"""MMoE: shared experts, one softmax gate per tower."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, List

from mtl_keras.backbones.base import Backbone
from mtl_keras.registry import positive_int, units


@dataclasses.dataclass
class MMoEConfig(Backbone):
    name = "mmoe"
    has_gates: ClassVar[bool] = True

    num_experts: int = 4
    expert_units: List[int] = dataclasses.field(default_factory=lambda: [128, 64])

    def __post_init__(self):
        positive_int("MMoEConfig", "num_experts", self.num_experts)
        self.expert_units = units("MMoEConfig", "expert_units", self.expert_units)

    def build(self, num_tasks: int, dtype: Any = None):
        from mtl_keras.layers import MMoE

        return MMoE(num_experts=self.num_experts, expert_units=self.expert_units, num_tasks=num_tasks,
                    name=self.name, dtype=dtype)

    def final_gates(self, gate_weights):
        return gate_weights

    @classmethod
    def sized(cls, num_experts: int, units: List[int]) -> "MMoEConfig":
        return cls(num_experts=num_experts, expert_units=list(units))
