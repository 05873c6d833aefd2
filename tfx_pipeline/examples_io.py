"""TFX Examples artifacts -> pandas frames, for the win-propensity component.

Decoding is mtl_keras.example_codec's; this module adds what needs TFX's view of the data: split
directories and parse specs from a tf.metadata schema.
"""
from __future__ import annotations

import glob
import os
from typing import Dict, Iterable, List, Optional, Sequence

import pandas as pd

from mtl_keras import example_codec


def split_files(uri: str, split: str) -> List[str]:
    files = sorted(glob.glob(os.path.join(uri, f"Split-{split}", "*")))
    if not files:
        raise ValueError(f"Examples artifact {uri!r} has no files for split {split!r}.")
    return files


def parse_spec_from_schema(schema, columns: Iterable[str]) -> Dict[str, object]:
    """A tf.io parse spec for `columns` of a tf.metadata schema (VarLen where values may be missing)."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import schema_pb2

    spec = {}
    by_name = {f.name: f for f in schema.feature}
    for column in columns:
        feature = by_name[column]
        dtype = tf.int64 if feature.type == schema_pb2.INT else tf.float32
        spec[column] = tf.io.VarLenFeature(dtype)  # the schema may allow missing values (market price)
    return spec


def read_frame(files: Sequence[str], parse_spec: Dict[str, object], max_rows: Optional[int] = None,
               batch_size: int = 65536) -> pd.DataFrame:
    """Reads gzipped or plain TFRecord files of tf.Examples into a frame (mtl_keras.example_codec)."""
    return example_codec.read_tfrecords(files, parse_spec, max_rows=max_rows, batch_size=batch_size)


def check_csv_headers(data_root: str, pattern: str) -> None:
    """Raises a ValueError for CSV files whose header quotes column names.

    CsvExampleGen splits the header on commas without unquoting, so `"user_id"` would become a
    column named with its quotes and every feature would look missing.
    """
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(os.path.join(data_root, pattern)))
    if not files:
        raise ValueError(f"No CSV files match {pattern!r} in {data_root!r}.")
    for path in files:
        with tf.io.gfile.GFile(path) as f:
            header = f.readline().strip()
        quoted = [name for name in header.split(",") if name.startswith('"') or name.startswith("'")]
        if quoted:
            raise ValueError(
                f"CSV file {path!r} quotes its column names ({', '.join(quoted[:3])}, ...); CsvExampleGen would keep "
                "the quotes in the names. Fix: write the header without quotes, or convert the data to TFRecords."
            )
