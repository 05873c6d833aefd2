"""tf.Example records <-> pandas frames: the one codec of data loading, the TFX pipeline and the simulator.

Encoding writes the protobuf wire format with numpy, without TensorFlow or tfx_bsl: ints as
int64_list, every other numeric column as float_list (float32), one value per feature. A NaN float
is left out of its row's Example, so parsing sees it missing (a lost auction's market price).
Decoding parses with `tf.io.parse_example` in C++; a missing value becomes NaN (None for bytes)
and its column float. TensorFlow is imported only when decoding.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

# Wire tags (field number << 3 | 2, length-delimited). Example.features, Features.feature (a map
# entry), the entry's key and the packed `value` of Float/Int64List are all field 1.
_FIELD_1, _FIELD_2, _FIELD_3 = 0x0A, 0x12, 0x1A  # entry value / Feature.float_list; Feature.int64_list
_CHUNK_BYTES = 1 << 21  # rows are encoded in chunks of about this many bytes: scratch stays in cache
KINDS = ("int", "float", "bytes")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


_VARINT_LIMITS = np.array([1 << (7 * j) for j in range(1, 10)], np.uint64)  # the smallest j+2-byte values


def _varints(values: np.ndarray):
    """Varint bytes of uint64 `values`, as ([n, width] uint8, sizes [n]); width is the longest size."""
    sizes = np.searchsorted(_VARINT_LIMITS, values, side="right") + 1
    width = int(sizes.max(initial=1))
    out = np.empty((len(values), width), np.uint8)
    for j in range(width):
        group = ((values >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(np.uint8)
        out[:, j] = group | ((j < sizes - 1) * np.uint8(0x80)).astype(np.uint8)
    return out, sizes


class _Rows:
    """Rows of one layout: a constant byte template, per-row bytes written into it, and a mask of
    the bytes each row keeps (a short varint keeps fewer bytes than its slot, a missing float none)."""

    def __init__(self):
        self.template, self.keep, self.writes = bytearray(), [], []

    def add(self, *pieces) -> None:
        """Appends constant bytes, [n] or [n, w] uint8 arrays, or (values [n, w], sizes [n]) of which
        each row keeps its first `size` bytes."""
        for piece in pieces:
            if isinstance(piece, bytes):
                self.template += piece
                self.keep += [True] * len(piece)
                continue
            values, sizes = piece if isinstance(piece, tuple) else (piece, None)
            values = values.reshape(len(values), -1)
            self.writes.append((len(self.template), values, sizes))
            self.template += bytes(values.shape[1])
            self.keep += [True] * values.shape[1]

    def join(self, n: int, drops) -> List[bytes]:
        """`drops`: (start, end, kept [n] bool) byte spans that a row leaves out where kept is False."""
        width = len(self.template)
        data = np.broadcast_to(np.frombuffer(bytes(self.template), np.uint8), (n, width)).copy()
        keep = np.broadcast_to(np.array(self.keep, bool), (n, width)).copy()
        lengths = np.full(n, width, np.int64)
        for start, values, sizes in self.writes:
            data[:, start:start + values.shape[1]] = values
            if sizes is not None and sizes.min(initial=values.shape[1]) < values.shape[1]:
                keep[:, start:start + values.shape[1]] = np.arange(values.shape[1]) < sizes[:, None]
                lengths -= values.shape[1] - sizes
        for start, end, kept in drops:
            keep[:, start:end] &= kept[:, None]
            lengths -= (end - start) * ~kept
        raw = data[keep].tobytes()  # row-major: each row's kept bytes, in order
        ends = np.cumsum(lengths).tolist()
        return [raw[a:b] for a, b in zip([0] + ends[:-1], ends)]


def _column_arrays(frame: pd.DataFrame):
    """(name, key bytes, int64 values or None, float32 values or None) per column; ValueError for the rest."""
    out = []
    for name in frame.columns:
        if not isinstance(name, str):
            raise ValueError(f"encode_frame: column name {name!r} is a {type(name).__name__}; Example feature "
                             "names are strings. Fix: frame.columns = frame.columns.astype(str).")
        series = frame[name]
        dtype = series.dtype
        if pd.api.types.is_integer_dtype(dtype):
            if series.isna().any():  # a pandas nullable Int column
                raise ValueError(f"encode_frame: integer column {name!r} ({dtype}) has {int(series.isna().sum())} "
                                 "missing values. Fix: fill them, or cast the column to float (a NaN float is "
                                 "left out of its Example).")
            out.append((name, name.encode("utf-8"), series.to_numpy(np.int64), None))
        elif pd.api.types.is_float_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            values = series.to_numpy(np.float64, na_value=np.nan).astype(np.float32)
            out.append((name, name.encode("utf-8"), None, values))
        else:
            raise ValueError(f"encode_frame: column {name!r} has dtype {dtype}; only int, float and bool columns "
                             f"can be encoded. Fix: map strings to integer ids (e.g. "
                             f"frame[{name!r}].astype('category').cat.codes) or drop the column.")
    return out


def _encode_rows(columns, n: int) -> List[bytes]:
    blocks = []  # (pieces of one map entry, present [n] or None)
    features = np.zeros(n, np.int64)  # bytes of each row's Features message
    for _, key, ints, floats in columns:
        entry_key = bytes([_FIELD_1]) + _varint(len(key)) + key + bytes([_FIELD_2])
        if floats is not None:
            # entry {key, value: Feature{float_list: FloatList{value: [x]}}}; the Feature is 8 bytes
            entry = entry_key + bytes([8, _FIELD_2, 6, _FIELD_1, 4])
            head = bytes([_FIELD_1]) + _varint(len(entry) + 4) + entry
            present = ~np.isnan(floats)
            blocks.append(([head, floats.astype("<f4").view(np.uint8).reshape(n, 4)], present))
            features += (len(head) + 4) * present
        else:
            # entry {key, value: Feature{int64_list: Int64List{value: [x]}}}; negative ints are
            # 10-byte two's complement varints, as protobuf writes them.
            value, size = _varints(ints.view(np.uint64))
            length, length_size = _varints((len(entry_key) + 5 + size).astype(np.uint64))
            pieces = [bytes([_FIELD_1]), (length, length_size), entry_key, (4 + size).astype(np.uint8),
                      bytes([_FIELD_3]), (2 + size).astype(np.uint8), bytes([_FIELD_1]), size.astype(np.uint8),
                      (value, size)]
            blocks.append((pieces, None))
            features += 1 + length_size + len(entry_key) + 5 + size
    rows, drops = _Rows(), []
    rows.add(bytes([_FIELD_1]), _varints(features.astype(np.uint64)))  # Example.features
    for pieces, present in blocks:
        start = len(rows.template)
        rows.add(*pieces)
        if present is not None and not present.all():
            drops.append((start, len(rows.template), present))
    return rows.join(n, drops)


def encode_frame(frame: pd.DataFrame) -> List[bytes]:
    """Serialized tf.Examples, one per row: int columns int64_list, float and bool columns float_list
    (float32); a NaN float is left out of its row's Example. Features are written sorted by name, as
    protobuf's deterministic serialization (and tfx_bsl's coder) does: the bytes, and so ExampleGen's
    hash-based splits, do not depend on the column order."""
    columns = sorted(_column_arrays(frame), key=lambda column: str(column[0]).encode("utf-8"))
    n = len(frame)
    row_bytes = 8 + sum(len(key) + 20 for _, key, _, _ in columns)  # an upper bound, for the chunk size
    step = max(1, _CHUNK_BYTES // row_bytes)
    records: List[bytes] = []
    for start in range(0, n, step):
        part = [(name, key, None if i is None else i[start:start + step], None if f is None else f[start:start + step])
                for name, key, i, f in columns]
        records += _encode_rows(part, min(step, n - start))
    return records


def _kind(name: str, spec) -> str:
    """The kind ("int", "float" or "bytes") of a kind, a tf.io parse feature, a tf.DType or a numpy dtype."""
    dtype = spec if isinstance(spec, type) else getattr(spec, "dtype", spec)  # np.int64 has a .dtype slot
    if hasattr(dtype, "is_integer") and hasattr(dtype, "as_numpy_dtype"):  # a tf.DType
        if dtype.is_integer or dtype.is_floating or dtype.name == "string":
            return "int" if dtype.is_integer else "float" if dtype.is_floating else "bytes"
    elif isinstance(dtype, str) and dtype in KINDS:
        return dtype
    else:
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            kind = None
        if kind is not None and kind in "iufbOSU":
            return "int" if kind in "iu" else "float" if kind in "fb" else "bytes"
    raise ValueError(f"Column {name!r}: cannot decode as {spec!r}. Fix: give one of {KINDS}, a tf.io parse "
                     "feature, or a numpy dtype such as 'int64' or 'float32'.")


def column_kinds(columns: Mapping[str, object]) -> Dict[str, str]:
    """{column: "int" | "float" | "bytes"} from parse features, tf or numpy dtypes, or kinds."""
    return {name: _kind(name, spec) for name, spec in columns.items()}


def _empty(kinds: Mapping[str, str]) -> pd.DataFrame:
    dtypes = {"int": np.int64, "float": np.float32, "bytes": object}
    return pd.DataFrame({c: np.array([], dtypes[k]) for c, k in kinds.items()})


def decode_frame(records, columns: Mapping[str, object]) -> pd.DataFrame:
    """One row per serialized tf.Example, one column per entry of `columns` (see `column_kinds`).

    Ints come back int64 and floats float32 while every row has the value; a missing value becomes
    NaN (column float64) or None for bytes. `records`: bytes, a numpy array of them or a tf.string tensor.
    """
    import tensorflow as tf

    kinds = column_kinds(columns)
    if not isinstance(records, (np.ndarray, tf.Tensor)):
        records = list(records)
    n = int(records.shape[0]) if isinstance(records, (np.ndarray, tf.Tensor)) else len(records)
    if n == 0:
        return _empty(kinds)
    tf_dtypes = {"int": tf.int64, "float": tf.float32, "bytes": tf.string}
    parsed = tf.io.parse_example(tf.convert_to_tensor(records, tf.string),
                                 {c: tf.io.VarLenFeature(tf_dtypes[k]) for c, k in kinds.items()})
    out = {}
    for name, kind in kinds.items():
        rows, values = parsed[name].indices.numpy()[:, 0], parsed[name].values.numpy()
        if len(rows) == n and np.array_equal(rows, np.arange(n)):
            out[name] = values  # one value in every row: keep the dtype
            continue
        counts = np.bincount(rows, minlength=n)
        if counts.max(initial=0) > 1:
            raise ValueError(f"Column {name!r} has up to {counts.max()} values in one Example (row "
                             f"{int(np.argmax(counts))}); the codec reads one value per feature. Fix: leave the "
                             "column out of `columns`, or write one value per feature.")
        dense = np.full(n, None, object) if kind == "bytes" else np.full(n, np.nan)
        dense[rows] = values
        out[name] = dense
    return pd.DataFrame(out)


def feature_kinds(records: Iterable[bytes]) -> Dict[str, str]:
    """{feature: kind} over `records` (e.g. the first 1000), in order of first appearance."""
    import tensorflow as tf

    names = {"int64_list": "int", "float_list": "float", "bytes_list": "bytes"}
    kinds: Dict[str, str] = {}
    for record in records:
        for key, feature in tf.train.Example.FromString(record).features.feature.items():
            kind = feature.WhichOneof("kind")
            if kind is not None:
                kinds.setdefault(key, names[kind])
    return kinds


def read_tfrecords(files: Sequence[str], columns: Mapping[str, object], max_rows: Optional[int] = None,
                   batch_size: int = 65536) -> pd.DataFrame:
    """Decodes gzipped (`.gz`) or plain TFRecord files of tf.Examples into one frame.

    A truncated or corrupt file, or a `.gz` file that is not gzip, raises a ValueError naming it."""
    import tensorflow as tf

    frames, rows = [], 0
    for path in files:
        dataset = tf.data.TFRecordDataset([path], compression_type=_compression(path)).batch(batch_size)
        try:
            for batch in dataset:
                frames.append(decode_frame(batch, columns))
                rows += len(frames[-1])
                if max_rows is not None and rows >= max_rows:
                    break
        except tf.errors.OpError as err:
            raise ValueError(record_error(path, err)) from None
        if max_rows is not None and rows >= max_rows:
            break
    if not frames:
        return _empty(column_kinds(columns))
    frame = pd.concat(frames, ignore_index=True)
    return frame.iloc[:max_rows] if max_rows is not None else frame


def _compression(path: str) -> str:
    return "GZIP" if str(path).endswith(".gz") else ""


def record_error(path: str, err) -> str:
    """A message naming the TFRecord file `path` that raised TF error `err`, with the fix."""
    text = getattr(err, "message", str(err))
    text = text.split("}} ", 1)[-1].split(" [Op:", 1)[0].strip().replace("' failed with ", ": ")
    if "inflate" in text or "header check" in text:
        fix = "it is not gzip-compressed although it ends in .gz: rename it to .tfrecord, or gzip it"
    else:
        fix = "the file is truncated or corrupt: write or copy it again, or remove it from the input"
    return f"TFRecord file {str(path)!r} cannot be read ({text}). Fix: {fix}."


def unreadable_file(files: Sequence[str]) -> Optional[str]:
    """The error message for the first of `files` whose records cannot all be read, None if all can.

    Reads every record (no parsing): meant for locating the file behind a reading error."""
    import tensorflow as tf

    for path in files:
        try:
            for _ in tf.data.TFRecordDataset([path], compression_type=_compression(path)).batch(65536):
                pass
        except tf.errors.OpError as err:
            return record_error(path, err)
    return None
