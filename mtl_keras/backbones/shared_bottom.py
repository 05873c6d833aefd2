"""Shared-Bottom: one MLP shared by every tower."""
from __future__ import annotations

import dataclasses
from typing import Any, List

from mtl_keras.backbones.base import Backbone
from mtl_keras.registry import units


@dataclasses.dataclass
class SharedBottomConfig(Backbone):
    name = "shared_bottom"

    bottom_units: List[int] = dataclasses.field(default_factory=lambda: [128, 64])

    def __post_init__(self):
        self.bottom_units = units("SharedBottomConfig", "bottom_units", self.bottom_units)

    def build(self, num_tasks: int, dtype: Any = None):
        from mtl_keras.layers import SharedBottom

        return SharedBottom(units=self.bottom_units, num_tasks=num_tasks, name=self.name, dtype=dtype)

    @classmethod
    def sized(cls, num_experts: int, units: List[int]) -> "SharedBottomConfig":
        return cls(bottom_units=list(units))
