"""Objective: the typed config section of one objective, which declares its towers, tasks and weights."""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Dict, List, Tuple

from mtl_keras import names
from mtl_keras.registry import Section


@dataclasses.dataclass
class Objective(Section):
    """An objective's settings; the towers it needs, its tasks (each owns its loss) and their default λ."""

    towers: ClassVar[Tuple[str, ...]] = (names.CTR, names.CVR)
    default_task_weights: ClassVar[Dict[str, float]] = {}

    def build_tasks(self, num_calibration_bins: int) -> Dict[str, object]:
        """Task layers keyed by task name, in the order of `default_task_weights`."""
        raise NotImplementedError

    def data_columns(self) -> List[str]:
        """Batch columns besides features and labels that the tasks read."""
        return []
