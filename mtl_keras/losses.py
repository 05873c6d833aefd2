"""Per-example losses and guarded reductions shared by the tasks.

All functions take probabilities/logits of shape [batch, 1] or [batch] and return per-example
values of shape [batch]; reductions never divide by zero (an empty selection gives loss 0).
"""
from __future__ import annotations

import tensorflow as tf

from mtl_keras import propensity_weights

_EPS = 1e-7


def _flat(x) -> tf.Tensor:
    return tf.reshape(tf.cast(x, tf.float32), [-1])


def bce_from_logits(labels, logits) -> tf.Tensor:
    """Binary cross-entropy per example, computed from logits (stable for |logit| large)."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=_flat(labels), logits=_flat(logits))


def bce_from_log_prob(labels, log_prob) -> tf.Tensor:
    """Binary cross-entropy from log p, without forming p: -y log p - (1 - y) log(1 - p).

    Used for pCTCVR = pCTR·pCVR, whose log is log σ(a) + log σ(b); forming p first loses precision
    when both are small. log(1 - p) = log(-expm1(log p)), with log p kept below -eps.
    """
    labels, log_prob = _flat(labels), tf.minimum(_flat(log_prob), -_EPS)
    log_one_minus = tf.math.log(-tf.math.expm1(log_prob))
    return -(labels * log_prob + (1.0 - labels) * log_one_minus)


def bce_soft(targets, probs) -> tf.Tensor:
    """Cross-entropy of probabilities `probs` against soft targets in [0, 1]."""
    targets = _flat(targets)
    probs = tf.clip_by_value(_flat(probs), _EPS, 1.0 - _EPS)
    return -(targets * tf.math.log(probs) + (1.0 - targets) * tf.math.log(1.0 - probs))


def safe_divide(numerator, denominator) -> tf.Tensor:
    """numerator / denominator, and 0 where the denominator is 0 (e.g. a batch without clicks)."""
    return tf.math.divide_no_nan(tf.cast(numerator, tf.float32), tf.cast(denominator, tf.float32))


def inverse_propensity(propensity, floor: float, clip: float) -> tf.Tensor:
    """1 / max(propensity, floor), capped at `clip`. Gradients never flow into the propensity.

    The formula lives in `propensity_weights`, beside its numpy twin used by the pipeline.
    """
    return propensity_weights.inverse_propensity_tf(propensity, floor, clip)


def weighted_mean(values, weights, self_normalize: bool = True) -> tf.Tensor:
    """Σ w·v / Σ w when `self_normalize`, else Σ w·v / N (the unbiased IPS form)."""
    values, weights = _flat(values), _flat(weights)
    denominator = tf.reduce_sum(weights) if self_normalize else tf.cast(tf.size(values), tf.float32)
    return safe_divide(tf.reduce_sum(values * weights), denominator)
