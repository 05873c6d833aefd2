"""The WinPropensity scoring DoFn on one small shard: p_win on every request, weights on won ones."""
import os

import numpy as np
import pandas as pd
import tensorflow as tf

from mtl_keras import names
from mtl_keras.propensity import make_win_model
from tfx_pipeline.components.scoring import ScoreShardFn, _order_key
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


def _frame():
    return pd.DataFrame({
        "ad": [1, 2, 3, 1, 2, 3],
        names.BID_PRICE: [1.0, 2.0, 3.0, 4.0, 5.0, 0.5],
        names.WON: [1, 0, 1, 1, 0, 1],
        names.MARKET_PRICE: [0.5, np.nan, 2.0, 3.0, np.nan, 0.4],
        names.CLICK: [1, 0, 0, 1, 0, 0],
    })


KINDS = {"ad": "int", names.BID_PRICE: "float", names.WON: "int", names.MARKET_PRICE: "float", names.CLICK: "int"}
SPEC = {c: tf.io.VarLenFeature(tf.int64 if k == "int" else tf.float32) for c, k in KINDS.items()}
SPEC.update({c: tf.io.VarLenFeature(tf.float32) for c in (names.P_WIN, pipeline_names.EVAL_IPW, pipeline_names.EVAL_IPW_CLICKED)})


def _score(tmp_path, frame, model, append_bytes=True, extra=None):
    """Writes `frame` (plus `extra` features on every row) as one shard and scores it; returns
    (what process yielded, {output: records of Split-train}, {output: frame of them})."""
    source = tmp_path / "in" / "Split-train" / "data.gz"
    os.makedirs(source.parent, exist_ok=True)
    with tf.io.TFRecordWriter(str(source), "GZIP") as writer:
        for _, row in frame.iterrows():
            writer.write(_example({**row.to_dict(), **(extra or {})}))
    out = tmp_path / ("appended" if append_bytes else "parsed")
    fn = ScoreShardFn(model.to_dict(), KINDS, floor=0.3, clip=2.5, requests_uri=str(out / "requests"),
                      impressions_uri=str(out / "impressions"), append_bytes=append_bytes)
    fn.setup()
    yielded = list(fn.process(("train", 0, 1, str(source))))
    records = {}
    for output, uri, split in [("requests", out / "requests", "train"), ("won", out / "requests", "train_won"),
                               ("impressions", out / "impressions", "train")]:
        path = os.path.join(uri, f"Split-{split}", "data_tfrecord-00000-of-00001.gz")
        records[output] = [r.numpy() for r in tf.data.TFRecordDataset(path, "GZIP")]
    return yielded, records, {k: decode_frame(v, SPEC) for k, v in records.items()}


def _by_bid(frame):
    return frame.set_index(names.BID_PRICE, drop=False)  # bids are unique in _frame()


def test_scoring_adds_p_win_and_writes_weighted_impressions(tmp_path):
    frame = _frame()
    model = make_win_model("km").fit(frame)
    yielded, records, frames = _score(tmp_path, frame, model)
    assert yielded == [("train", 6, 4)]
    requests, impressions = frames["requests"], frames["impressions"]
    # Every request once, in the order fixed by the input record's bytes (not the arrival order).
    inputs = [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "in" / "Split-train" / "data.gz"), "GZIP")]
    fixed = [frame[names.BID_PRICE][i] for i in sorted(range(6), key=lambda i: _order_key(inputs[i]))]
    np.testing.assert_array_equal(requests[names.BID_PRICE], fixed)
    assert fixed != frame[names.BID_PRICE].tolist()  # the order did change (else the check proves nothing)
    expected = _by_bid(frame.assign(p=model.predict_p_win(frame)))
    np.testing.assert_allclose(requests[names.P_WIN], expected.loc[requests[names.BID_PRICE], "p"], rtol=1e-6)
    assert requests[pipeline_names.EVAL_IPW].isna().all()  # weights only on the evaluation impressions
    won = expected.loc[impressions[names.BID_PRICE]]
    assert won[names.WON].eq(1).all() and sorted(won["ad"]) == [1, 1, 3, 3]  # the won rows, each once
    ipw = np.minimum(1.0 / np.maximum(won["p"], 0.3), 2.5)
    np.testing.assert_allclose(impressions[pipeline_names.EVAL_IPW], ipw, rtol=1e-6)
    np.testing.assert_allclose(impressions[pipeline_names.EVAL_IPW_CLICKED], ipw * won[names.CLICK], rtol=1e-6)
    assert np.all((expected["p"] >= 0) & (expected["p"] <= 1)) and len(set(np.round(expected["p"], 6))) > 1

    # The won split: exactly the won requests with p_win, record for record, without the weights.
    assert records["won"] == [r for r, w in zip(records["requests"], requests[names.WON]) if w == 1]
    assert frames["won"][pipeline_names.EVAL_IPW].isna().all()


def test_appended_bytes_read_as_the_parsed_and_reserialized_records(tmp_path):
    """Both ways of adding the columns give the same Examples; an input that already carries p_win
    (parse path) has it replaced, not duplicated."""
    frame = _frame()
    model = make_win_model("km").fit(frame)
    _, appended, _ = _score(tmp_path, frame, model, append_bytes=True)
    _, parsed, parsed_frames = _score(tmp_path, frame, model, append_bytes=False)
    def by_bid(records):
        examples = [tf.train.Example.FromString(r) for r in records]
        return {e.features.feature[names.BID_PRICE].float_list.value[0]: e for e in examples}

    for output in appended:
        assert len(appended[output]) == len(parsed[output]) > 0
        assert by_bid(appended[output]) == by_bid(parsed[output]), output
    _, stale, stale_frames = _score(tmp_path / "stale", frame, model, append_bytes=False, extra={names.P_WIN: 0.123})
    stale_p = _by_bid(stale_frames["requests"]).loc[frame[names.BID_PRICE], names.P_WIN]
    np.testing.assert_allclose(stale_p, _by_bid(parsed_frames["requests"]).loc[frame[names.BID_PRICE], names.P_WIN])
    keys = [list(tf.train.Example.FromString(r).features.feature) for r in stale["requests"]]
    assert all(k.count(names.P_WIN) == 1 for k in keys)


def test_split_counts_sum_the_shards_per_split(tmp_path):
    import json

    import apache_beam as beam

    from tfx_pipeline.components.scoring import write_split_counts

    path = str(tmp_path / "counts.json")
    with beam.Pipeline() as pipeline:
        shards = pipeline | beam.Create([("train", 10, 4), ("eval", 3, 1), ("train", 5, 2)])
        write_split_counts(shards, path)
    with open(path) as f:
        assert json.load(f) == {"train": {"requests": 15, "won": 6}, "eval": {"requests": 3, "won": 1}}
