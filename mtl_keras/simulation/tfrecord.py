"""tf.Example encoding of simulated requests: ints as int64_list, floats as float_list.

A NaN float (the market price of a lost request) is left out of the Example, so that parsing
with a default or as a VarLenFeature sees it as missing. Encoding runs in tfx_bsl's C++ coder
(Arrow record batch -> Examples), about 100x faster than building protos row by row in Python.
"""
from __future__ import annotations

from typing import List

import numpy as np
import pandas as pd


def serialize_frame(frame: pd.DataFrame) -> List[bytes]:
    """Serialized tf.Examples, one per row of `frame` (int columns int64, float columns float32)."""
    import pyarrow as pa
    from tfx_bsl.coders import example_coder

    float_columns = [c for c in frame.columns if not np.issubdtype(frame[c].dtype, np.integer)]
    missing = np.stack([frame[c].isna().to_numpy() for c in float_columns], axis=1) if float_columns else None
    out = np.empty(len(frame), dtype=object)
    # Rows are grouped by which floats they miss; each group is encoded without those columns.
    patterns = np.unique(missing, axis=0) if missing is not None else [None]
    for pattern in patterns:
        rows = np.ones(len(frame), bool) if pattern is None else (missing == pattern).all(axis=1)
        dropped = {c for c, m in zip(float_columns, pattern if pattern is not None else []) if m}
        arrays, names = [], []
        for column in frame.columns:
            if column in dropped:
                continue
            values = frame[column].to_numpy()[rows]
            values = values.astype(np.int64 if column not in float_columns else np.float32)
            offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
            arrays.append(pa.ListArray.from_arrays(offsets, pa.array(values)))
            names.append(column)
        encoded = example_coder.RecordBatchToExamples(pa.RecordBatch.from_arrays(arrays, names))
        # Element by element: numpy would turn a list of bytes into a fixed-width 'S' array and
        # strip trailing NUL bytes.
        for i, record in zip(np.flatnonzero(rows), encoded):
            out[i] = record
    return list(out)


def parse_examples(records, int_columns, float_columns) -> pd.DataFrame:
    """Parses serialized Examples back to a frame; a missing float becomes NaN."""
    import tensorflow as tf

    spec = {c: tf.io.FixedLenFeature([], tf.int64) for c in int_columns}
    spec.update({c: tf.io.FixedLenFeature([], tf.float32, default_value=np.nan) for c in float_columns})
    parsed = tf.io.parse_example(tf.constant(list(records)), spec)
    return pd.DataFrame({c: parsed[c].numpy() for c in list(int_columns) + list(float_columns)})
