"""`preprocessing_fn` for tf.Transform, built from a FeatureSpec and a TransformConfig.

TFX calls `preprocessing_fn(inputs, custom_config)` by import path (no module_file); the
custom_config carries the FeatureSpec and the TransformConfig as JSON-able dicts. Outputs keep the
feature names, so a model built from `transformed_feature_spec(...)` reads them directly. Funnel
columns (labels, bid and market price, won, p_win) pass through untouched; anything else, such as
the simulator's ground-truth columns, is dropped so it can never reach the model.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

import tensorflow as tf
import tensorflow_transform as tft

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec
from transform.config import TransformConfig

# custom_config keys. The Trainer's custom_config holds its TransformConfig under the same key.
FEATURE_SPEC_KEY = "feature_spec"
TRANSFORM_CONFIG_KEY = "transform"
_MISSING_ID = -1  # densified missing categorical values; never in a vocabulary of ids >= 0 -> OOV


def vocabulary_filename(table_name: str) -> str:
    """The vocabulary asset of one embedding table (features sharing a table share it)."""
    return f"vocab_{table_name}"


def make_preprocessing_fn(
    feature_spec: FeatureSpec, config: Optional[TransformConfig] = None
) -> Callable[[Mapping[str, Any]], Dict[str, Any]]:
    """The preprocessing function for `feature_spec`, to use with tft_beam directly."""
    config = config or TransformConfig()
    unknown = set(config.numeric_overrides) - {f.name for f in feature_spec.numeric}
    if unknown:
        raise ValueError(
            f"TransformConfig.numeric_overrides names {sorted(unknown)}, which are not numeric features of the "
            f"FeatureSpec ({[f.name for f in feature_spec.numeric]}); remove them."
        )

    def fn(inputs: Mapping[str, Any]) -> Dict[str, Any]:
        feature_spec.check_columns(list(inputs), where="the tf.Transform inputs")
        outputs: Dict[str, Any] = {}
        tables: Dict[str, list] = {}
        for feature in feature_spec.categorical:
            ids = _dense(inputs[feature.name], feature.name, tf.int64, _MISSING_ID)
            if feature.hash_buckets is not None:
                outputs[feature.name] = ids
            else:
                tables.setdefault(feature.table_name, []).append((feature, ids))
        for table, members in tables.items():
            outputs.update(_apply_vocabulary(table, members, config))
        for feature in feature_spec.numeric:
            outputs[feature.name] = _numeric(inputs[feature.name], feature.name, config)
        for column in names.FUNNEL_COLUMNS:
            if column in inputs:
                outputs[column] = inputs[column]
        return outputs

    return fn


def preprocessing_fn(inputs: Mapping[str, Any], custom_config: Mapping[str, Any]) -> Dict[str, Any]:
    """The TFX Transform entry point: `Transform(preprocessing_fn='transform.preprocessing.preprocessing_fn')`."""
    if not custom_config or FEATURE_SPEC_KEY not in custom_config:
        raise ValueError(
            f"Transform custom_config must hold {FEATURE_SPEC_KEY!r} (a FeatureSpec.to_dict()); "
            f"got keys {sorted(custom_config or {})}."
        )
    spec = FeatureSpec.from_dict(custom_config[FEATURE_SPEC_KEY])
    config = TransformConfig.from_dict(custom_config.get(TRANSFORM_CONFIG_KEY) or {})
    return make_preprocessing_fn(spec, config)(inputs)


def _apply_vocabulary(table: str, members, config: TransformConfig) -> Dict[str, tf.Tensor]:
    if len(members) == 1:
        feature, ids = members[0]
        return {
            feature.name: tft.compute_and_apply_vocabulary(
                ids,
                top_k=config.top_k,
                frequency_threshold=config.frequency_threshold,
                num_oov_buckets=config.num_oov_buckets,
                vocab_filename=vocabulary_filename(table),
            )
        }
    # One vocabulary over the values of every feature sharing the table, so that an id means the
    # same row whichever feature it came from.
    vocab = tft.vocabulary(
        tf.concat([ids for _, ids in members], axis=0),
        top_k=config.top_k,
        frequency_threshold=config.frequency_threshold,
        vocab_filename=vocabulary_filename(table),
    )
    return {
        feature.name: tft.apply_vocabulary(ids, vocab, num_oov_buckets=config.num_oov_buckets)
        for feature, ids in members
    }


def _numeric(value, name: str, config: TransformConfig) -> tf.Tensor:
    kind = config.numeric_transform_for(name)
    x, present = _dense_with_mask(value, name, tf.float32)
    if present is not None:
        # Missing values are imputed with the mean of the present ones: z-score 0, no NaN.
        x = tf.where(present, x, tft.mean(tf.boolean_mask(x, present)))
    if kind == "log":
        x = tf.sign(x) * tf.math.log1p(tf.abs(x))
    if kind == "bucketize":
        return tft.bucketize(x, config.num_buckets)
    return tft.scale_to_z_score(x)


def _dense(value, name: str, dtype, default) -> tf.Tensor:
    x, present = _dense_with_mask(value, name, dtype)
    if present is None:
        return x
    return tf.where(present, x, tf.constant(default, dtype))


def _dense_with_mask(value, name: str, dtype):
    """[batch] values of a one-value-per-row feature, and the mask of present values (None if all are)."""
    if isinstance(value, tf.RaggedTensor):
        value = value.to_sparse()
    _check_dtype(value.dtype, name)
    if isinstance(value, tf.SparseTensor):
        # A VarLen column (the schema allows missing values): at most one value per row is kept.
        dense = tft.sparse_tensor_to_dense_with_shape(value, [None, 1], default_value=tf.zeros([], value.dtype))
        marks = tf.SparseTensor(value.indices, tf.ones_like(value.values, tf.int64), value.dense_shape)
        present = tft.sparse_tensor_to_dense_with_shape(marks, [None, 1], default_value=0) > 0
        return tf.cast(tf.reshape(dense, [-1]), dtype), tf.reshape(present, [-1])
    if value.shape.rank == 2:
        if value.shape[1] is not None and value.shape[1] != 1:
            raise ValueError(
                f"Feature {name!r} has {value.shape[1]} values per example; features must have one. "
                "Fix the data or drop the feature from the FeatureSpec."
            )
        value = tf.reshape(value, [-1])
    elif value.shape.rank != 1:
        raise ValueError(f"Feature {name!r} has rank {value.shape.rank}; expected one value per example.")
    return tf.cast(value, dtype), None


def _check_dtype(dtype, name: str) -> None:
    if not (dtype.is_integer or dtype.is_floating):
        raise ValueError(
            f"Feature {name!r} has dtype {dtype.name}; categorical features must be integer ids and "
            "numeric features numbers. Fix the data's type or the FeatureSpec."
        )
