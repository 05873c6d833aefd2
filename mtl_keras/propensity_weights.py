"""The inverse-propensity weight formula, in TensorFlow and in numpy side by side.

w = min(1 / max(p, floor), clip), optionally rescaled to mean 1 (self-normalised). The TF form
weights the training losses (losses.inverse_propensity, WinPropensityWeights); the numpy form
weights the pipeline's evaluation impressions (tfx_pipeline/components/scoring.py).
tests/mtl_keras/test_propensity_weights.py holds the two forms equal. TensorFlow is imported only
by the TF form, so Beam workers using the numpy one need not load it for this module.
"""
from __future__ import annotations

import numpy as np


def inverse_propensity_tf(propensity, floor: float, clip: float):
    """1 / max(propensity, floor), capped at `clip`, float32 of shape [batch].

    Gradients never flow into the propensity: it is an estimate that the weights condition on.
    """
    import tensorflow as tf

    propensity = tf.stop_gradient(tf.reshape(tf.cast(propensity, tf.float32), [-1]))
    return tf.minimum(1.0 / tf.maximum(propensity, floor), clip)


def inverse_propensity_np(propensity, floor: float, clip: float) -> np.ndarray:
    """1 / max(propensity, floor), capped at `clip`, in the input's float dtype (float64 for others)."""
    propensity = np.asarray(propensity)
    if propensity.dtype.kind != "f":
        propensity = propensity.astype(np.float64)
    dtype = propensity.dtype.type  # a float32 input stays float32, as in the TF form
    return np.minimum(dtype(1.0) / np.maximum(propensity, dtype(floor)), dtype(clip))


def propensity_weights_tf(propensity, floor: float, clip: float, self_normalize: bool = False):
    """`inverse_propensity_tf`, divided by its batch mean when `self_normalize`."""
    weights = inverse_propensity_tf(propensity, floor, clip)
    if self_normalize:
        import tensorflow as tf

        weights = weights / tf.reduce_mean(weights)
    return weights


def propensity_weights_np(propensity, floor: float, clip: float, self_normalize: bool = False) -> np.ndarray:
    """`inverse_propensity_np`, divided by its mean over the last axis when `self_normalize`."""
    weights = inverse_propensity_np(propensity, floor, clip)
    if self_normalize:
        weights = weights / weights.mean(axis=-1, keepdims=True)
    return weights
