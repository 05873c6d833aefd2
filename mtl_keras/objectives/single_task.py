"""Single-task objectives: one tower, one task, only the label that task reads.

- `ctr`: CTR over impressions. Tower ctr, label click, output p_ctr. No conversion column needed.
- `cvr`: CVR over clicked impressions. Tower cvr, label conversion, output p_cvr. Every training
  row is read as a click, so a log of clicked rows needs no click column; data that has one (an
  impression log) is validated (0/1, no conversion without a click) and its click=0 rows are
  dropped before training, with their count logged (`mtl_keras.training.prepare`).

Neither has p_ctcvr: that needs both towers.
"""
from __future__ import annotations

import dataclasses

from mtl_keras import names
from mtl_keras.objectives.base import Objective


@dataclasses.dataclass
class CTRConfig(Objective):
    name = "ctr"
    towers = (names.CTR,)
    labels = (names.CLICK,)
    default_task_weights = {names.CTR: 1.0}

    def build_tasks(self, num_calibration_bins: int):
        from mtl_keras.tasks import CTRTask

        return {names.CTR: CTRTask(num_calibration_bins=num_calibration_bins)}


@dataclasses.dataclass
class CVRConfig(Objective):
    name = "cvr"
    towers = (names.CVR,)
    labels = (names.CONVERSION,)
    clicked_rows_only = True
    click_space_tasks = (names.CVR,)
    default_task_weights = {names.CVR: 1.0}

    def build_tasks(self, num_calibration_bins: int):
        from mtl_keras.tasks import ClickedCVRTask

        return {names.CVR: ClickedCVRTask(num_calibration_bins=num_calibration_bins)}
