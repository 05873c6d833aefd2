"""Per-example win-propensity weights for IPW-ESCM²."""
from __future__ import annotations

import tf_keras as keras

from mtl_keras import propensity_weights


@keras.utils.register_keras_serializable(package="mtl_keras")
class WinPropensityWeights(keras.layers.Layer):
    """w_i = min(1 / max(p_win_i, floor), clip), rescaled to mean 1 in the batch when self_normalize.

    Impression-space losses are averaged as (1/N) Σ w_i L_i, which with self_normalize equals the
    self-normalised Σ w_i L_i / Σ w_i. Defaults: floor 0.05 and clip 20 bound one impression's
    weight at 20 requests.
    """

    def __init__(self, floor: float = 0.05, clip: float = 20.0, self_normalize: bool = True, **kwargs):
        kwargs.setdefault("dtype", "float32")  # stays float32 under mixed precision
        super().__init__(**kwargs)
        if not 0.0 < floor <= 1.0:
            raise ValueError(f"WinPropensityWeights: floor must be in (0, 1], got {floor}.")
        if not clip >= 1.0:
            raise ValueError(f"WinPropensityWeights: clip must be >= 1, got {clip}.")
        self.floor, self.clip, self.self_normalize = float(floor), float(clip), bool(self_normalize)

    def call(self, p_win):
        return propensity_weights.propensity_weights_tf(p_win, self.floor, self.clip, self.self_normalize)

    def get_config(self):
        return {**super().get_config(), "floor": self.floor, "clip": self.clip,
                "self_normalize": self.self_normalize}
