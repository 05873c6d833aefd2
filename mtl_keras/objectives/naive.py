"""Naive: CTR over impressions, CVR over clicks only (biased over impressions and requests)."""
from __future__ import annotations

import dataclasses

from mtl_keras import names
from mtl_keras.objectives.base import Objective


@dataclasses.dataclass
class NaiveConfig(Objective):
    name = "naive"
    click_space_tasks = (names.CVR,)
    default_task_weights = {names.CTR: 1.0, names.CVR: 1.0}

    def build_tasks(self, num_calibration_bins: int):
        from mtl_keras.tasks import CTRTask, CVRTask

        return {names.CTR: CTRTask(num_calibration_bins=num_calibration_bins),
                names.CVR: CVRTask(num_calibration_bins=num_calibration_bins)}
