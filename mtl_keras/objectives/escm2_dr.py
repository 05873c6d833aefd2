"""ESCM²-DR: ESMM plus the doubly robust CVR risk, with an imputation tower predicting the CVR error."""
from __future__ import annotations

import dataclasses

from mtl_keras import names
from mtl_keras.objectives.escm2_ips import ESCM2IPSConfig


@dataclasses.dataclass
class ESCM2DRConfig(ESCM2IPSConfig):
    """ESCM²-IPS's settings plus `imputation_weight`, the weight of the imputation tower's own risk."""

    name = "escm2_dr"
    towers = (names.CTR, names.CVR, names.IMPUTATION)

    imputation_weight: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not self.imputation_weight >= 0.0:
            raise ValueError(f"ESCM2DRConfig.imputation_weight must be >= 0, got {self.imputation_weight!r}.")

    def build_tasks(self, num_calibration_bins: int):
        from mtl_keras.tasks import CTCVRTask, CTRTask, DRCVRTask

        return {names.CTR: CTRTask(num_calibration_bins=num_calibration_bins),
                names.CTCVR: CTCVRTask(num_calibration_bins=num_calibration_bins),
                names.CVR: DRCVRTask(imputation_weight=self.imputation_weight,
                                     **self._ips_arguments(num_calibration_bins))}
