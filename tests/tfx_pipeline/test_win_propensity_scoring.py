"""The WinPropensity scoring DoFn on one small shard: p_win on every request, weights on won ones."""
import os

import numpy as np
import pandas as pd
import tensorflow as tf

from mtl_keras import names
from mtl_keras.propensity import make_win_model
from tfx_pipeline.components.scoring import ScoreShardFn
from mtl_keras.example_codec import decode_frame
from tfx_pipeline import names as pipeline_names


def _example(row):
    feature = {}
    for key, value in row.items():
        if isinstance(value, float) and np.isnan(value):
            continue  # a lost request has no market price
        if key in (names.WON, names.CLICK, "ad"):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        else:
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_scoring_adds_p_win_and_writes_weighted_impressions(tmp_path):
    frame = pd.DataFrame({
        "ad": [1, 2, 3, 1, 2, 3],
        names.BID_PRICE: [1.0, 2.0, 3.0, 4.0, 5.0, 0.5],
        names.WON: [1, 0, 1, 1, 0, 1],
        names.MARKET_PRICE: [0.5, np.nan, 2.0, 3.0, np.nan, 0.4],
        names.CLICK: [1, 0, 0, 1, 0, 0],
    })
    model = make_win_model("km").fit(frame)
    source = tmp_path / "in" / "Split-train" / "data.gz"
    os.makedirs(source.parent)
    with tf.io.TFRecordWriter(str(source), "GZIP") as writer:
        for _, row in frame.iterrows():
            writer.write(_example(row.to_dict()))
    kinds = {"ad": "int", names.BID_PRICE: "float", names.WON: "int", names.MARKET_PRICE: "float", names.CLICK: "int"}
    fn = ScoreShardFn(model.to_dict(), kinds, floor=0.3, clip=2.5, requests_uri=str(tmp_path / "requests"),
                      impressions_uri=str(tmp_path / "impressions"))
    fn.setup()
    assert list(fn.process(("train", 0, 1, str(source)))) == [("train", 6, 4)]

    spec = {c: tf.io.VarLenFeature(tf.int64 if k == "int" else tf.float32) for c, k in kinds.items()}
    spec.update({c: tf.io.VarLenFeature(tf.float32) for c in (names.P_WIN, pipeline_names.EVAL_IPW, pipeline_names.EVAL_IPW_CLICKED)})

    def read(uri):
        path = os.path.join(uri, "Split-train", "data_tfrecord-00000-of-00001.gz")
        return decode_frame([r.numpy() for r in tf.data.TFRecordDataset(path, "GZIP")], spec)

    requests, impressions = read(tmp_path / "requests"), read(tmp_path / "impressions")
    expected = model.predict_p_win(frame)
    np.testing.assert_allclose(requests[names.P_WIN], expected, rtol=1e-6)
    assert requests[pipeline_names.EVAL_IPW].isna().all()  # weights only on the evaluation impressions
    assert impressions["ad"].tolist() == [1, 3, 1, 3]  # the won rows, in order
    won_p = expected[frame[names.WON].to_numpy() == 1]
    ipw = np.minimum(1.0 / np.maximum(won_p, 0.3), 2.5)
    np.testing.assert_allclose(impressions[pipeline_names.EVAL_IPW], ipw, rtol=1e-6)
    np.testing.assert_allclose(impressions[pipeline_names.EVAL_IPW_CLICKED], ipw * np.array([1, 0, 1, 0]), rtol=1e-6)
    assert np.all((expected >= 0) & (expected <= 1)) and len(set(np.round(expected, 6))) > 1
