"""Negative down-sampling of a log, the counterpart of `ModelConfig.negative_sampling_rate`.

Keeping each negative with probability r multiplies the odds of a positive by 1/r, so a model
trained on the sample has logit_sampled = logit + log(1/r); the model adds log(r) back to its
outputs (`MultiTaskModel.call`), which are then on the unsampled scale.
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import pandas as pd

from mtl_keras import names


def downsample_negatives(frame: pd.DataFrame, rates: Dict[str, float], seed: int = 0) -> pd.DataFrame:
    """Rows of `frame` with the negatives of each tower kept at its rate (seeded, order kept).

    "ctr": impressions without a click (lost requests, won=0, are left alone); "cvr": clicked
    rows without a conversion (for objective `cvr`). Give the same `rates` to ModelConfig.
    """
    keep = np.ones(len(frame), bool)
    draw = np.random.default_rng(seed).random(len(frame))
    for tower, rate in rates.items():
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"downsample_negatives: rates[{tower!r}] must be in (0, 1], got {rate!r}.")
        if tower == names.CTR:
            negative = frame[names.CLICK].to_numpy() == 0
            if names.WON in frame.columns:
                negative &= frame[names.WON].to_numpy() == 1
        elif tower == names.CVR:
            negative = frame[names.CONVERSION].to_numpy() == 0
            if names.CLICK in frame.columns:
                negative &= frame[names.CLICK].to_numpy() == 1
        else:
            raise ValueError(f"downsample_negatives: rates names {tower!r}; use 'ctr' or 'cvr'.")
        keep &= ~negative | (draw < rate)
    return frame[keep].reset_index(drop=True)
