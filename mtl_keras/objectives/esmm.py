"""ESMM: CTR and CTCVR = pCTR·pCVR over impressions; the CVR tower learns only through CTCVR."""
from __future__ import annotations

import dataclasses

from mtl_keras import names
from mtl_keras.objectives.base import Objective


@dataclasses.dataclass
class ESMMConfig(Objective):
    name = "esmm"
    # The CVR task keeps its metrics (on clicks) but no loss: λ_cvr = 0.
    click_space_tasks = (names.CVR,)
    default_task_weights = {names.CTR: 1.0, names.CTCVR: 1.0, names.CVR: 0.0}

    def build_tasks(self, num_calibration_bins: int):
        from mtl_keras.tasks import CTCVRTask, CTRTask, CVRTask

        return {names.CTR: CTRTask(num_calibration_bins=num_calibration_bins),
                names.CTCVR: CTCVRTask(num_calibration_bins=num_calibration_bins),
                names.CVR: CVRTask(num_calibration_bins=num_calibration_bins)}
