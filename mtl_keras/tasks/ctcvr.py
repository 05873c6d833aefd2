"""ESMM CTCVR task: click-and-convert over impressions."""
from __future__ import annotations

import tensorflow as tf

from mtl_keras import losses, names
from mtl_keras.tasks.base import Task, label


class CTCVRTask(Task):
    """L_CTCVR = (1/N) Σ_impressions w_i · BCE(click_i·conversion_i, pCTR_i·pCVR_i), in log space."""

    def __init__(self, name: str = names.CTCVR, **kwargs):
        super().__init__(name=name, **kwargs)

    def compute_task_loss(self, batch, outputs, example_weight):
        target = label(batch, names.CLICK) * label(batch, names.CONVERSION)
        per_example = losses.bce_from_log_prob(target, outputs[names.LOG_P_CTCVR])
        return losses.weighted_mean(per_example, example_weight, self_normalize=False)

    def metric_inputs(self, batch, outputs):
        target = label(batch, names.CLICK) * label(batch, names.CONVERSION)
        return target, tf.exp(outputs[names.LOG_P_CTCVR]), None
