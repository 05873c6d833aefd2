"""Naive CVR task: conversion over clicked impressions only (biased over the request space)."""
from __future__ import annotations

import tensorflow as tf

from mtl_keras import losses, names
from mtl_keras.tasks.base import Task, label, space_mask


class CVRTask(Task):
    """L_CVR = Σ_clicked w_i · BCE(conversion_i, pCVR_i) / Σ_clicked w_i (0 for a batch with no click).

    Metrics are computed on clicked rows only, for every CVR variant (the subclasses change the loss).
    A sample-space mask (ModelConfig.sample_spaces) replaces the clicked rows, e.g. a randomised
    slice whose conversion labels hold on every row.
    """

    def __init__(self, name: str = names.CVR, **kwargs):
        super().__init__(name=name, **kwargs)

    def per_example_error(self, batch, outputs) -> tf.Tensor:
        return losses.bce_from_logits(label(batch, names.CONVERSION), outputs[names.CVR_LOGIT])

    def compute_task_loss(self, batch, outputs, example_weight):
        # With a sample-space mask the rows are the mask's, already in example_weight.
        rows = label(batch, names.CLICK) if space_mask(batch, self.name) is None else 1.0
        return losses.weighted_mean(self.per_example_error(batch, outputs), example_weight * rows)

    def metric_inputs(self, batch, outputs):
        return batch[names.CONVERSION], tf.sigmoid(outputs[names.CVR_LOGIT]), label(batch, names.CLICK)


class ClickedCVRTask(CVRTask):
    """CVR over a log of clicked impressions (objective `cvr`): every row is a click, so the batch
    needs no click column. L_CVR = Σ_i w_i · BCE(conversion_i, pCVR_i) / Σ_i w_i; metrics on every row."""

    def compute_task_loss(self, batch, outputs, example_weight):
        return losses.weighted_mean(self.per_example_error(batch, outputs), example_weight)

    def metric_inputs(self, batch, outputs):
        return batch[names.CONVERSION], tf.sigmoid(outputs[names.CVR_LOGIT]), None
