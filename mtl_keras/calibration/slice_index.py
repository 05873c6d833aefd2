"""Slice values to slice positions, in numpy and in TF ops without lookup-table resources."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import pandas as pd

INT = "int"
STRING = "string"
# Fingerprint64 of strings, to binary-search string keys in TF (tf.searchsorted is numeric only).
_BUCKETS = 2 ** 63 - 1


def normalize_slice_values(field: str, values, key_type: str = None) -> Tuple[np.ndarray, str]:
    """(values as int64 or str array, key type). Floats and missing values are a ValueError naming `field`.

    Integers and booleans are int keys; strings and objects are string keys (str() of each value).
    With `key_type` "string" integers are read as their decimal strings, as TF's as_string does.
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    array = array.reshape(-1)
    kind = array.dtype.kind
    if kind == "f":
        raise ValueError(f"slice field {field!r} holds floats; slices need integer or string values. Fix: cast "
                         f"the column, e.g. frame[{field!r}].astype('int64') or .astype(str).")
    if kind == "O":
        missing = pd.isna(array)
        if missing.any():
            raise ValueError(f"slice field {field!r} has {int(missing.sum())} missing values (of {array.size}). "
                             f"Fix: fill them, e.g. frame[{field!r}].fillna('unknown').")
    if kind in "biu" and key_type != STRING:
        return array.astype(np.int64), INT
    if key_type == INT:
        raise ValueError(f"slice field {field!r} was fitted on integer values but got {array.dtype} values. Fix: "
                         "pass the same column type as in fit.")
    if kind not in "biuOUS":
        raise ValueError(f"slice field {field!r} must hold integers or strings, got dtype {array.dtype}.")
    return array.astype(str), STRING


class SliceIndex:
    """The sorted distinct values (keys) of a slice field; `lookup` gives each value's position, -1 if unseen.

    The TF form binary-searches sorted keys (int keys directly, string keys by their 64-bit
    fingerprints) and then compares the found key with the value, so an unseen value never borrows
    a slice. It uses no lookup-table resource, so any tf.function or SavedModel can hold it.
    """

    def __init__(self, field: str, keys, key_type: str):
        if key_type not in (INT, STRING):
            raise ValueError(f"SliceIndex: key_type must be {INT!r} or {STRING!r}, got {key_type!r}.")
        self.field, self.key_type = field, key_type
        self.keys = np.asarray(keys, dtype=np.int64 if key_type == INT else str).reshape(-1)
        if self.keys.size and (np.any(self.keys[1:] <= self.keys[:-1])):
            raise ValueError(f"SliceIndex: the keys of slice field {field!r} must be sorted and distinct.")

    @classmethod
    def from_values(cls, field: str, values) -> Tuple["SliceIndex", np.ndarray]:
        """The index of the distinct values and each value's position."""
        normalized, key_type = normalize_slice_values(field, values)
        keys, codes = np.unique(normalized, return_inverse=True)
        return cls(field, keys, key_type), codes.reshape(-1)

    def key_list(self) -> list:
        return [int(k) for k in self.keys] if self.key_type == INT else [str(k) for k in self.keys]

    def lookup(self, values) -> np.ndarray:
        normalized, _ = normalize_slice_values(self.field, values, self.key_type)
        return pd.Index(self.keys).get_indexer(normalized).astype(np.int64)

    def tf_lookup(self, values):
        """int32 positions of a tensor of slice values (flattened), -1 for unseen values."""
        import tensorflow as tf

        values = tf.reshape(tf.convert_to_tensor(values), [-1])
        if self.keys.size == 0:
            return -tf.ones_like(values, dtype=tf.int32)
        last = self.keys.size - 1
        if self.key_type == INT:
            if not (values.dtype.is_integer or values.dtype == tf.bool):
                raise ValueError(f"slice field {self.field!r} was fitted on integer values but the tensor is "
                                 f"{values.dtype.name}. Fix: feed the integer feature.")
            values = tf.cast(values, tf.int64)
            keys = tf.constant(self.keys, tf.int64)
            position = tf.minimum(tf.searchsorted(keys, values, side="left", out_type=tf.int32), last)
            candidate = position
        else:
            if values.dtype != tf.string:
                values = tf.strings.as_string(values)
            keys = tf.constant(self.keys.astype(object), tf.string)
            hashes = tf.strings.to_hash_bucket_fast(keys, _BUCKETS)
            order = tf.cast(tf.argsort(hashes, stable=True), tf.int32)
            position = tf.searchsorted(tf.gather(hashes, order), tf.strings.to_hash_bucket_fast(values, _BUCKETS),
                                       side="left", out_type=tf.int32)
            candidate = tf.gather(order, tf.minimum(position, last))
        found = tf.equal(tf.gather(keys, candidate), values)
        return tf.where(found, candidate, -tf.ones_like(candidate))
