"""Helpers of the serving tests: a small FeatureSpec, a small MultiTaskModel, rows, reference numbers."""
from __future__ import annotations

import numpy as np

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature


def small_spec() -> FeatureSpec:
    return FeatureSpec(
        categorical=[
            CategoricalFeature("user_id", hash_buckets=50, embedding_dim=4),
            CategoricalFeature("ad_id", vocabulary_size=20, embedding_dim=4),
        ],
        numeric=[NumericFeature("price", mean=1.0, std=2.0)],
    )


def build_small_model(spec: FeatureSpec, seed: int = 0, objective: str = "esmm"):
    """A small MultiTaskModel (MMoE): {feature: [batch]} -> {p_ctr, p_cvr, p_ctcvr: [batch, 1]}."""
    import tensorflow as tf

    from mtl_keras.config import ModelConfig
    from mtl_keras.models import build_model

    tf.random.set_seed(seed)
    config = ModelConfig(
        features=spec, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]}, objective=objective, tower_units=[8]
    )
    model = build_model(config, compile=False)
    model(model.dummy_features())  # creates the variables with this seed
    return model


def sample_rows(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return [
        {"user_id": int(rng.integers(0, 1000)), "ad_id": int(rng.integers(0, 20)), "price": float(rng.normal(1, 2))}
        for _ in range(n)
    ]


def keras_predict(model, rows):
    """The Keras model's outputs for `rows` as {name: [batch] float32}: the reference numbers."""
    import tensorflow as tf

    spec_dtypes = {"user_id": np.int64, "ad_id": np.int64, "price": np.float32}
    features = {k: tf.constant(np.asarray([r[k] for r in rows], dtype=t)) for k, t in spec_dtypes.items()}
    outputs = model(features, training=False)
    return {k: outputs[k].numpy().reshape(-1) for k in names.PREDICTION_KEYS if k in outputs}
