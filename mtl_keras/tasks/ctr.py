"""CTR task: click over impressions."""
from __future__ import annotations

import tensorflow as tf

from mtl_keras import losses, names
from mtl_keras.tasks.base import Task, label


class CTRTask(Task):
    """L_CTR = (1/N) Σ_impressions w_i · BCE(click_i, pCTR_i), w_i the per-example win weight."""

    def __init__(self, name: str = names.CTR, **kwargs):
        super().__init__(name=name, **kwargs)

    def compute_task_loss(self, batch, outputs, example_weight):
        per_example = losses.bce_from_logits(label(batch, names.CLICK), outputs[names.CTR_LOGIT])
        return losses.weighted_mean(per_example, example_weight, self_normalize=False)

    def metric_inputs(self, batch, outputs):
        return batch[names.CLICK], tf.sigmoid(outputs[names.CTR_LOGIT]), None
