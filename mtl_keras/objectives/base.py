"""Objective: the typed config section of one objective, which declares its towers, labels, tasks and weights."""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Dict, List, Tuple

from mtl_keras import names
from mtl_keras.registry import Section


@dataclasses.dataclass
class Objective(Section):
    """An objective's settings; the towers it needs, the label columns it trains on, its tasks (each
    owns its loss) and their default λ.

    `labels`: the label columns the data must hold (training reads only these). `clicked_rows_only`:
    the tasks read every row as a click (a log of clicked impressions); training drops the rows with
    click=0 of data that has a click column. `click_space_tasks`: the tasks whose default sample
    space is the clicked impressions (`mtl_keras.sample_spaces`); the others default to impressions.
    """

    towers: ClassVar[Tuple[str, ...]] = (names.CTR, names.CVR)
    labels: ClassVar[Tuple[str, ...]] = (names.CLICK, names.CONVERSION)
    clicked_rows_only: ClassVar[bool] = False
    click_space_tasks: ClassVar[Tuple[str, ...]] = ()
    default_task_weights: ClassVar[Dict[str, float]] = {}

    def build_tasks(self, num_calibration_bins: int) -> Dict[str, object]:
        """Task layers keyed by task name, in the order of `default_task_weights`."""
        raise NotImplementedError

    def data_columns(self) -> List[str]:
        """Batch columns besides features and labels that the tasks read."""
        return []
