"""Backbone: the typed config section of one backbone, which builds its layer."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, List, Sequence

from mtl_keras.registry import Section


@dataclasses.dataclass
class Backbone(Section):
    """A backbone's settings; `build` makes the layer that maps the embeddings to one input per tower."""

    has_gates: ClassVar[bool] = False

    def build(self, num_tasks: int, dtype: Any = None):
        """The backbone layer (named after the backbone) feeding `num_tasks` towers."""
        raise NotImplementedError

    def final_gates(self, gate_weights) -> Sequence:
        """Per-task gate weights as returned by the layer with return_gate_weights=True."""
        raise ValueError(f"gate_weights: a {self.name} backbone has no gates; use a backbone with gates "
                         "(mmoe or ple).")

    @classmethod
    def sized(cls, num_experts: int, units: List[int]) -> "Backbone":
        """This backbone at a common budget: `num_experts` experts (or a bottom) of `units` each."""
        raise NotImplementedError
