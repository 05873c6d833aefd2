"""ESCM²-IPS: ESMM plus the counterfactual CVR risk over impressions, clicks weighted by 1/pCTR."""
from __future__ import annotations

import dataclasses
from typing import Optional

from mtl_keras import names
from mtl_keras.objectives.base import Objective


@dataclasses.dataclass
class ESCM2IPSConfig(Objective):
    """Defaults: ctr_propensity_floor=0.01 and ctr_weight_clip=100 bound one click's weight at 100;
    ips_self_normalize=False (unbiased IPS). `click_propensity_column`: None weights by the model's
    own pCTR; a column name reads the click propensity from the data."""

    name = "escm2_ips"
    default_task_weights = {names.CTR: 1.0, names.CTCVR: 1.0, names.CVR: 1.0}

    ctr_propensity_floor: float = 0.01
    ctr_weight_clip: float = 100.0
    ips_self_normalize: bool = False
    click_propensity_column: Optional[str] = None

    def __post_init__(self):
        if not 0.0 < self.ctr_propensity_floor < 1.0:
            raise ValueError(f"{type(self).__name__}.ctr_propensity_floor must be in (0, 1), "
                             f"got {self.ctr_propensity_floor!r}.")
        if not self.ctr_weight_clip >= 1.0:
            raise ValueError(f"{type(self).__name__}.ctr_weight_clip must be >= 1, got {self.ctr_weight_clip!r}.")

    def _ips_arguments(self, num_calibration_bins: int):
        return {"propensity_floor": self.ctr_propensity_floor, "weight_clip": self.ctr_weight_clip,
                "self_normalize": self.ips_self_normalize, "click_propensity_column": self.click_propensity_column,
                "num_calibration_bins": num_calibration_bins}

    def build_tasks(self, num_calibration_bins: int):
        from mtl_keras.tasks import CTCVRTask, CTRTask, IPSCVRTask

        return {names.CTR: CTRTask(num_calibration_bins=num_calibration_bins),
                names.CTCVR: CTCVRTask(num_calibration_bins=num_calibration_bins),
                names.CVR: IPSCVRTask(**self._ips_arguments(num_calibration_bins))}

    def data_columns(self):
        return [self.click_propensity_column] if self.click_propensity_column else []
