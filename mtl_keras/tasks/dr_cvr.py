"""ESCM²-DR: doubly robust counterfactual CVR risk with an imputation tower."""
from __future__ import annotations

import tensorflow as tf

from mtl_keras import losses, names
from mtl_keras.tasks.base import label
from mtl_keras.tasks.ips_cvr import IPSCVRTask


class DRCVRTask(IPSCVRTask):
    """R_DR = Σ_i w_i ê_i / D' + Σ_i w_i o_i (e_i - ê_i) / ô_i / D  +  imputation_weight · R_imp.

    D' = N, or Σ_i w_i when self_normalize (then D = Σ w_i o_i / ô_i as in IPSCVRTask).

    The imputation tower predicts a pseudo conversion label r̃_i = p_imp for every impression;
    ê_i = BCE(stop_gradient(r̃_i), pCVR_i) is the imputed error, so the CVR tower also learns on
    unclicked impressions. The tower itself is fitted on clicks by
    R_imp = Σ_i w_i o_i (stop_gradient(e_i) - ê'_i)² / ô_i / D, with ê'_i = BCE(r̃_i, stop_gradient(pCVR_i)).
    o, ô, w, D, propensity_floor, weight_clip and self_normalize are as in IPSCVRTask.
    """

    def __init__(self, name: str = names.CVR, imputation_weight: float = 1.0, **kwargs):
        super().__init__(name=name, **kwargs)
        if not imputation_weight >= 0.0:
            raise ValueError(f"DRCVRTask: imputation_weight must be >= 0, got {imputation_weight}.")
        self.imputation_weight = float(imputation_weight)

    def compute_task_loss(self, batch, outputs, example_weight):
        p_cvr = tf.reshape(tf.sigmoid(outputs[names.CVR_LOGIT]), [-1])
        pseudo = tf.reshape(tf.sigmoid(outputs[names.IMP_LOGIT]), [-1])
        weight = tf.reshape(example_weight, [-1])
        click_weights = self.click_weights(batch, outputs, example_weight)
        denominator = self.denominator(click_weights, example_weight)

        error = self.per_example_error(batch, outputs)
        imputed = losses.bce_soft(tf.stop_gradient(pseudo), p_cvr)
        correction = losses.safe_divide(tf.reduce_sum(click_weights * (error - imputed)), denominator)
        # Both terms on one scale: with SNIPS the correction is normalised by its weights, so the
        # imputed term must be too (Σ w ê / Σ w), or un-normalised win weights leave it at
        # E[ê] / P(win) and the sum estimates neither the risk nor a multiple of it.
        dr_risk = losses.weighted_mean(imputed, weight, self_normalize=self.self_normalize) + correction

        imputed_for_tower = losses.bce_soft(pseudo, tf.stop_gradient(p_cvr))
        squared = tf.square(tf.stop_gradient(error) - imputed_for_tower)
        imputation_risk = losses.safe_divide(tf.reduce_sum(click_weights * squared), denominator)
        return dr_risk + self.imputation_weight * imputation_risk

    def get_config(self):
        return {**super().get_config(), "imputation_weight": self.imputation_weight}
