"""tf.Example records <-> frames (used by WinPropensity), and the schema it hands to Transform."""
import numpy as np
import tensorflow as tf

from mtl_keras import names
from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from tfx_pipeline.components.win_propensity import make_scored_schema
from mtl_keras.example_codec import decode_frame


def _example(**values):
    feature = {}
    for key, value in values.items():
        if isinstance(value, int):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        else:
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_parse_frame_keeps_ints_and_marks_missing_values_nan():
    records = [_example(ad=3, won=1, market_price=2.5), _example(ad=4, won=0), _example(ad=5, won=1, market_price=1.0)]
    spec = {"ad": tf.io.VarLenFeature(tf.int64), "won": tf.io.VarLenFeature(tf.int64),
            names.MARKET_PRICE: tf.io.VarLenFeature(tf.float32)}
    frame = decode_frame(records, spec)
    assert frame["ad"].tolist() == [3, 4, 5] and frame["ad"].dtype.kind == "i"
    np.testing.assert_array_equal(frame[names.MARKET_PRICE].to_numpy(), [2.5, np.nan, 1.0])


def test_scored_schema_keeps_features_and_funnel_adds_p_win_and_drops_ground_truth():
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    for name, kind in [("ad", schema_pb2.INT), ("price", schema_pb2.FLOAT), (names.CLICK, schema_pb2.INT),
                       (names.TRUE_P_CTR, schema_pb2.FLOAT), ("unused", schema_pb2.BYTES)]:
        schema.feature.add(name=name, type=kind)
    spec = FeatureSpec(categorical=[CategoricalFeature("ad", vocabulary_size=3)], numeric=[NumericFeature("price")])
    scored = make_scored_schema(schema, spec)
    assert [f.name for f in scored.feature] == ["ad", "price", names.CLICK, names.P_WIN]
    p_win = scored.feature[-1]
    assert p_win.type == schema_pb2.FLOAT and p_win.presence.min_fraction == 1.0 and p_win.shape.dim[0].size == 1


def test_quoted_csv_headers_are_rejected_before_the_pipeline_runs(tmp_path, capsys):
    import pytest

    from mtl_keras.cli import main
    from tfx_pipeline.examples_io import check_csv_headers

    (tmp_path / "plain.csv").write_text("ad,click\n1,0\n")
    check_csv_headers(str(tmp_path), "plain.csv")
    (tmp_path / "quoted.csv").write_text('"ad","click"\n1,0\n')
    with pytest.raises(ValueError, match='quotes its column names'):
        check_csv_headers(str(tmp_path), "*.csv")
    with pytest.raises(ValueError, match="No CSV files"):
        check_csv_headers(str(tmp_path), "*.tsv")
    code = main(["pipeline", "run", "--data", str(tmp_path), "--format", "csv", "--pattern", "quoted.csv",
                 "--pipeline-root", str(tmp_path / "root"), "--serving-dir", str(tmp_path / "serving")])
    assert code == 2 and '"ad"' in capsys.readouterr().err
