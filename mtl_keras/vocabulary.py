"""Vocabularies of categorical features: learned from training data, then raw values -> embedding ids.

A `CategoricalFeature` with `num_oov_buckets >= 1` maps raw values (strings or ints) through a
vocabulary. `learn_vocabularies(spec, frame)` fills the vocabularies from the training frame; the
spec (JSON, and the model config that holds it) then carries them. `lookup` is the one mapping
from raw values to ids, used on the host by `data.to_arrays` (training, evaluation, prediction) and
inside the exported SavedModel by the serving signatures, so both give the same ids:

- a value of the vocabulary gets `num_oov_buckets + its position`;
- any other value (unseen in training, or seen fewer than `min_count` times) gets an OOV id in
  [0, num_oov_buckets): 0 with one bucket, else `tf.strings.to_hash_bucket_fast` (FarmHash
  Fingerprint64; ints as decimal strings) mod num_oov_buckets.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Union

import numpy as np
import pandas as pd

from mtl_keras.features import CategoricalFeature, FeatureSpec

Token = Union[str, int]


def learn_vocabularies(spec: FeatureSpec, frame: pd.DataFrame, relearn: bool = False) -> FeatureSpec:
    """The spec with the vocabulary of every vocabulary feature learned from `frame`.

    Counts each value of the feature's column (of all columns of its shared table together),
    keeps values seen at least `min_count` times, orders them by count descending then by value,
    and keeps the first `max_size`. Features that already have a vocabulary keep it unless
    `relearn`. Columns must hold only strings or only integers, without missing values.
    """
    spec.check_columns(list(frame.columns), where="the training frame")
    pending = [f for f in spec.categorical if f.learns_vocabulary and (relearn or f.vocabulary is None)]
    learned: Dict[str, List[Token]] = {}
    for table in dict.fromkeys(f.table_name for f in pending):
        features = [f for f in spec.categorical if f.table_name == table]
        counts = None
        for feature in features:
            column_counts = raw_values(feature.name, frame[feature.name]).value_counts(sort=False)
            counts = column_counts if counts is None else counts.add(column_counts, fill_value=0)
        learned[table] = top_values(counts, features[0].min_count, features[0].max_size)
    kinds = {table: {type(v) for v in tokens} for table, tokens in learned.items()}
    mixed = [t for t, k in kinds.items() if len(k) > 1]
    if mixed:
        raise ValueError(f"Shared tables {mixed} mix string and integer columns; give them columns of one kind.")
    categorical = [
        dataclasses.replace(f, vocabulary=learned[f.table_name], vocabulary_size=None)
        if f.table_name in learned and f.learns_vocabulary else f
        for f in spec.categorical
    ]
    return dataclasses.replace(spec, categorical=categorical)


def top_values(counts: pd.Series, min_count: int = 1, max_size: Optional[int] = None) -> List[Token]:
    """Values (the index of `counts`) seen >= min_count times, most frequent first, ties by value."""
    kept = counts[counts >= min_count]
    order = sorted(zip(kept.to_numpy(), kept.index), key=lambda pair: (-pair[0], pair[1]))
    tokens = [_python(value) for _, value in order]
    return tokens[:max_size] if max_size is not None else tokens


def raw_values(name: str, values: pd.Series) -> pd.Series:
    """`values` checked to be all strings or all integers (whole floats become ints), without gaps."""
    if values.isna().any():
        raise ValueError(f"Categorical feature {name!r} has {int(values.isna().sum())} missing values; fill them "
                         "with a value (e.g. 'unknown') before learning its vocabulary or training.")
    if pd.api.types.is_bool_dtype(values):
        raise ValueError(f"Categorical feature {name!r} holds booleans; use ints 0/1 or strings.")
    if pd.api.types.is_integer_dtype(values):
        return values.astype(np.int64)
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values, 1) == 0):
        return values.astype(np.int64)
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind == "string":
        return values.astype(object)
    if kind == "integer":
        return values.astype(np.int64)
    raise ValueError(f"Categorical feature {name!r} has dtype {values.dtype} ({kind} values); a vocabulary "
                     "feature must hold only strings or only integers.")


def check_values(feature: CategoricalFeature, values: pd.Series) -> None:
    """Raises a ValueError when `values` cannot be looked up in the feature's vocabulary."""
    if feature.vocabulary is None:
        raise ValueError(
            f"Categorical feature {feature.name!r} has num_oov_buckets={feature.num_oov_buckets} but no vocabulary "
            "yet. Fix: spec = mtl_keras.vocabulary.learn_vocabularies(spec, train_frame) before training "
            "(then put the spec in the ModelConfig)."
        )
    values = raw_values(feature.name, values)
    if len(values) and (values.dtype == object) != feature.string_values:
        have, want = ("strings", "integers") if values.dtype == object else ("integers", "strings")
        raise ValueError(f"Categorical feature {feature.name!r} holds {have} but its vocabulary holds {want}. "
                         "Fix: give the column the type it had in training, or relearn the vocabulary.")


def raw_dtype(feature: CategoricalFeature):
    """The TF dtype of the feature's raw values: tf.string for a string vocabulary, else tf.int64."""
    import tensorflow as tf

    return tf.string if feature.string_values else tf.int64


def make_table(feature: CategoricalFeature):
    """A `tf.lookup.StaticHashTable` vocabulary value -> id (-1 when absent)."""
    import tensorflow as tf

    if feature.vocabulary is None:
        raise ValueError(f"Categorical feature {feature.name!r} has no vocabulary yet; learn it first.")
    tokens = list(feature.vocabulary)
    ids = list(range(feature.num_oov_buckets, feature.num_oov_buckets + len(tokens)))
    if not tokens:  # a table needs one key: a placeholder that maps to -1 (OOV)
        tokens, ids = ([""] if feature.string_values else [0]), [-1]
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(tokens, raw_dtype(feature)), tf.constant(ids, tf.int64))
    return tf.lookup.StaticHashTable(initializer, -1)


def lookup(feature: CategoricalFeature, values: Any, table: Any = None):
    """int64 ids of raw `values` (a tensor or array of any shape); `table` from `make_table`, or built here."""
    import tensorflow as tf

    dtype = raw_dtype(feature)
    values = tf.convert_to_tensor(values)
    if values.dtype.is_integer and dtype == tf.int64:
        values = tf.cast(values, tf.int64)
    if values.dtype != dtype:
        raise ValueError(f"Categorical feature {feature.name!r}: its vocabulary needs {dtype.name} values, "
                         f"received {values.dtype.name}.")
    table = make_table(feature) if table is None else table
    ids = table.lookup(values)
    if feature.num_oov_buckets == 1:
        oov = tf.zeros_like(ids)
    else:
        text = values if dtype == tf.string else tf.strings.as_string(values)
        oov = tf.strings.to_hash_bucket_fast(text, feature.num_oov_buckets)
    return tf.where(ids >= 0, ids, oov)


def encode_column(feature: CategoricalFeature, values: pd.Series) -> np.ndarray:
    """The int64 ids of a frame column (checked with `check_values`), computed with `lookup`."""
    check_values(feature, values)
    raw = raw_values(feature.name, values).to_numpy()
    if feature.string_values:
        raw = raw.astype(str).astype(object)
    return np.asarray(lookup(feature, raw)).astype(np.int64)


def _python(value: Any) -> Token:
    return value if isinstance(value, str) else int(value)
