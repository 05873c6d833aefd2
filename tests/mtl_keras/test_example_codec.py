"""The numpy tf.Example codec: what TensorFlow parses back, equal to protos built by tf.train and by tfx_bsl."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras.example_codec import column_kinds, decode_frame, encode_frame, feature_kinds, read_tfrecords

INT_EDGES = [0, 1, -1, 127, 128, 2**31, -(2**31) - 1, 2**62 + 5, np.iinfo(np.int64).max, np.iinfo(np.int64).min]


def _proto(row: dict) -> tf.train.Example:
    """What the codec should write for one row, built with tf.train."""
    feature = {}
    for key, value in row.items():
        if isinstance(value, (int, np.integer)):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        elif not np.isnan(value):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _rows(frame: pd.DataFrame):
    return [{c: frame[c].iloc[i] for c in frame.columns} for i in range(len(frame))]


def _mixed_frame(n: int = 500, floats: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {"ad": rng.integers(-(2**40), 2**40, n), "click": rng.integers(0, 2, n),
               "edge": np.resize(np.array(INT_EDGES, np.int64), n), "small": rng.integers(0, 300, n).astype(np.int32)}
    for k in range(floats):
        values = rng.normal(scale=10.0 ** (k % 7 - 3), size=n)
        values[rng.random(n) < 0.3] = np.nan
        columns[f"f{k:03d}"] = values
    columns["flag"] = rng.random(n) < 0.5  # bool: written as a float, as before
    return pd.DataFrame(columns)


def test_parse_example_reads_back_the_exact_values():
    frame = _mixed_frame()
    records = encode_frame(frame)
    ints = ["ad", "click", "edge", "small"]
    floats = [c for c in frame.columns if c not in ints]
    spec = {c: tf.io.FixedLenFeature([], tf.int64) for c in ints}
    spec.update({c: tf.io.FixedLenFeature([], tf.float32, default_value=np.nan) for c in floats})
    parsed = tf.io.parse_example(tf.constant(records), spec)
    for c in ints:
        np.testing.assert_array_equal(parsed[c].numpy(), frame[c].to_numpy(np.int64), err_msg=c)
    for c in floats:
        np.testing.assert_array_equal(parsed[c].numpy(), frame[c].to_numpy(np.float32), err_msg=c)
    # A NaN float is absent from its Example, not written as NaN.
    missing = tf.io.parse_example(tf.constant(records), {"f000": tf.io.VarLenFeature(tf.float32)})["f000"]
    assert missing.values.shape[0] == frame["f000"].notna().sum()


@pytest.mark.parametrize("n,floats", [(1, 3), (300, 70)])
def test_bytes_equal_tf_train_examples_serialized_deterministically(n, floats):
    # Features are written sorted by name (protobuf's deterministic map order), whatever the column order.
    frame = _mixed_frame(n, floats, seed=n)
    frame = frame[sorted(frame.columns, reverse=True)]
    records = encode_frame(frame)
    assert records == encode_frame(frame[sorted(frame.columns)])
    assert len(records) == n
    for record, row in zip(records, _rows(frame)):
        expected = _proto({k: float(v) if isinstance(v, (bool, np.bool_)) else v for k, v in row.items()})
        assert tf.train.Example.FromString(record) == expected
        assert record == expected.SerializeToString(deterministic=True)


def test_long_names_and_long_rows_need_multi_byte_lengths():
    # A 130-byte key and a 116-byte one whose entry length crosses 128 with the int's varint size.
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"k" * 130: [1.5, np.nan, -2.0, 0.0], "j" * 116: np.array([1, 2**20, -5, 2**40]),
                          **{f"c{i:03d}": rng.normal(size=4) for i in range(1200)}})  # Features > 16 KiB
    records = encode_frame(frame)
    for record, row in zip(records, _rows(frame)):
        assert tf.train.Example.FromString(record) == _proto(row)
    assert len(records[0]) > 2**14


def test_empty_frames():
    assert encode_frame(pd.DataFrame({"a": np.array([], np.int64), "b": np.array([], np.float64)})) == []
    no_features = tf.train.Example(features=tf.train.Features())
    assert [tf.train.Example.FromString(r) for r in encode_frame(pd.DataFrame(index=range(2)))] == [no_features] * 2
    all_missing = encode_frame(pd.DataFrame({"price": [np.nan]}))
    assert tf.train.Example.FromString(all_missing[0]) == no_features
    empty = decode_frame([], {"a": "int", "b": "float"})
    assert list(empty.columns) == ["a", "b"] and len(empty) == 0 and empty["a"].dtype == np.int64


def test_same_examples_as_tfx_bsl_record_batch_to_examples():
    pa = pytest.importorskip("pyarrow")
    example_coder = pytest.importorskip("tfx_bsl.coders.example_coder")
    frame = _mixed_frame(400, 25).drop(columns=["flag"]).fillna(0.5)  # tfx_bsl writes a null as an empty Feature
    arrays = []
    for column in frame.columns:
        values = frame[column].to_numpy()
        values = values.astype(np.int64 if values.dtype.kind == "i" else np.float32)
        offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
        arrays.append(pa.ListArray.from_arrays(offsets, pa.array(values)))
    expected = example_coder.RecordBatchToExamples(pa.RecordBatch.from_arrays(arrays, list(frame.columns)))
    got = encode_frame(frame)
    assert [tf.train.Example.FromString(r) for r in got] == [tf.train.Example.FromString(r) for r in expected]
    assert sum(map(len, got)) == sum(map(len, expected))


def test_decode_keeps_dtypes_and_turns_missing_values_into_nan():
    frame = pd.DataFrame({"ad": [3, -4, 2**40], "price": [2.5, np.nan, 1.0], "bid": [1.0, 2.0, 3.0]})
    records = encode_frame(frame)
    got = decode_frame(records, {"ad": "int", "price": tf.float32, "bid": tf.io.VarLenFeature(tf.float32),
                                 "absent": np.int64})
    assert got["ad"].tolist() == [3, -4, 2**40] and got["ad"].dtype == np.int64
    assert got["bid"].dtype == np.float32
    np.testing.assert_array_equal(got["price"].to_numpy(), [2.5, np.nan, 1.0])
    assert got["absent"].isna().all()
    # A numpy array or a tf.string tensor of records decodes the same.
    pd.testing.assert_frame_equal(decode_frame(np.array(records, dtype=object), {"ad": "int"}), got[["ad"]])
    pd.testing.assert_frame_equal(decode_frame(tf.constant(records), {"ad": "int"}), got[["ad"]])


def test_bytes_features_decode_with_none_for_missing_and_kinds_are_read_from_records():
    records = [tf.train.Example(features=tf.train.Features(feature={
        "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x\x00"])),
        "n": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))})).SerializeToString(),
        encode_frame(pd.DataFrame({"n": [2], "p": [0.5]}))[0]]
    kinds = feature_kinds(records)
    assert kinds == {"name": "bytes", "n": "int", "p": "float"}
    got = decode_frame(records, kinds)
    assert got["name"].tolist() == [b"x\x00", None] and got["n"].tolist() == [1, 2]


def test_read_tfrecords_in_batches_with_max_rows(tmp_path):
    frame = _mixed_frame(250)
    path = str(tmp_path / "data.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in encode_frame(frame):
            writer.write(record)
    kinds = column_kinds({c: str(frame[c].dtype) for c in frame.columns})
    got = read_tfrecords([path], kinds, batch_size=64)
    np.testing.assert_array_equal(got["edge"].to_numpy(), frame["edge"].to_numpy())
    np.testing.assert_array_equal(got["f001"].to_numpy(), frame["f001"].to_numpy(np.float32).astype(np.float64))
    assert len(read_tfrecords([path], kinds, max_rows=70, batch_size=64)) == 70


@pytest.mark.parametrize("frame,match", [
    (pd.DataFrame({"country": ["de", "fr"]}), "column 'country' has dtype object.*Fix: map strings"),
    (pd.DataFrame({"ad": pd.array([1, None], dtype="Int64")}), "integer column 'ad'.*1 missing.*Fix"),
    (pd.DataFrame({0: [1.0]}), "column name 0 is a int.*Fix"),
])
def test_bad_frames_name_the_column_and_the_fix(frame, match):
    with pytest.raises(ValueError, match=match):
        encode_frame(frame)


def test_bad_decode_requests_name_the_column():
    with pytest.raises(ValueError, match="Column 'x': cannot decode.*Fix"):
        decode_frame([b""], {"x": "complex"})
    several = tf.train.Example(features=tf.train.Features(feature={
        "ids": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 2]))})).SerializeToString()
    with pytest.raises(ValueError, match="Column 'ids' has up to 2 values"):
        decode_frame([several], {"ids": "int"})
