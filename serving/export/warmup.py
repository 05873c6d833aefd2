"""Warmup records: `assets.extra/tf_serving_warmup_requests`, PredictionLogs TF Serving replays at load."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from serving import names as serving_names

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000  # TF Serving reads at most this many


def synthetic_rows(raw_spec: Mapping[str, tf.io.FixedLenFeature], num_rows: int = 4) -> List[Dict[str, Any]]:
    """Rows of valid raw values (small ids, zeros, empty strings) when no real examples are given."""
    if num_rows < 1:
        raise ValueError(f"num_rows must be >= 1, got {num_rows}.")
    filler = {tf.int64: lambda i: i, tf.float32: lambda i: 0.5 * i, tf.string: lambda i: b""}
    rows = []
    for i in range(num_rows):
        rows.append({n: filler[f.dtype](i) for n, f in raw_spec.items()})
    return rows


def serialize_examples(rows: Sequence[Mapping[str, Any]], raw_spec: Mapping[str, tf.io.FixedLenFeature]) -> List[bytes]:
    """Serialized tf.Examples holding the raw features of `rows` (extra keys, e.g. labels, are dropped)."""
    out = []
    for i, row in enumerate(rows):
        feature = {}
        for name, spec in raw_spec.items():
            if name not in row:
                raise ValueError(f"Row {i} lacks feature {name!r}; every row needs {sorted(raw_spec)}.")
            value = row[name]
            if spec.dtype == tf.string:
                value = value.encode() if isinstance(value, str) else bytes(value)
                feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
            elif spec.dtype == tf.int64:
                feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
            else:
                feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        out.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return out


def columns(rows: Sequence[Mapping[str, Any]], raw_spec: Mapping[str, tf.io.FixedLenFeature]) -> Dict[str, np.ndarray]:
    """Rows as one numpy column per raw feature, in the spec's dtypes."""
    np_dtypes = {tf.int64: np.int64, tf.float32: np.float32, tf.string: object}
    return {n: np.asarray([r[n] for r in rows], dtype=np_dtypes[f.dtype]) for n, f in raw_spec.items()}


def warmup_requests(
    rows: Sequence[Mapping[str, Any]], raw_spec: Mapping[str, tf.io.FixedLenFeature], model_name: str = ""
) -> List[prediction_log_pb2.PredictionLog]:
    """One Predict request per row-batch for `serving_default` and one for `predict_raw`."""
    if not rows:
        raise ValueError("warmup rows are empty; give at least one row or leave warmup_examples=None.")
    examples = serialize_examples(rows, raw_spec)
    default = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=serving_names.SERVING_DEFAULT)
    )
    default.inputs[serving_names.SERVING_INPUT_EXAMPLES].CopyFrom(tf.make_tensor_proto(examples, dtype=tf.string))
    raw = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=serving_names.SIGNATURE_PREDICT_RAW)
    )
    for name, column in columns(rows, raw_spec).items():
        raw.inputs[name].CopyFrom(tf.make_tensor_proto(column, dtype=raw_spec[name].dtype))
    return [
        prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
        for request in (default, raw)
    ]


def write_warmup_requests(export_dir: str, logs: Sequence[prediction_log_pb2.PredictionLog]) -> str:
    """Writes `logs` as a TFRecord file at `<export_dir>/assets.extra/tf_serving_warmup_requests`."""
    if len(logs) > MAX_WARMUP_RECORDS:
        raise ValueError(f"{len(logs)} warmup records; TF Serving reads at most {MAX_WARMUP_RECORDS}.")
    os.makedirs(os.path.join(export_dir, WARMUP_DIR), exist_ok=True)
    path = os.path.join(export_dir, WARMUP_DIR, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(export_dir: str) -> List[prediction_log_pb2.PredictionLog]:
    """The PredictionLogs of an export's warmup file; [] when it has none."""
    path = os.path.join(export_dir, WARMUP_DIR, WARMUP_FILE)
    if not os.path.exists(path):
        return []
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(path).take(MAX_WARMUP_RECORDS)
    ]
