"""The Beam job of the WinPropensity component: p_win for every request, TFMA weights on won ones.

Kept free of TFX imports: Beam workers (multi_processing, Dataflow) unpickle ScoreShardFn and import
only this module, TensorFlow and mtl_keras; importing TFX too would add ~15 s to every worker's start.
"""
from __future__ import annotations

import os
from typing import Dict, List, Sequence, Tuple

import apache_beam as beam
import numpy as np

from mtl_keras import example_codec, names, propensity_weights
from tfx_pipeline import examples_io
from tfx_pipeline import names as pipeline_names

RECORDS_PREFIX = "data_tfrecord"
Shard = Tuple[str, int, int, str]  # (split, index, number of shards in the split, path)


def input_shards(examples_uri: str, splits: Sequence[str]) -> List[Shard]:
    """Every file of every split of an Examples artifact, one Beam element each."""
    shards = []
    for split in splits:
        files = examples_io.split_files(examples_uri, split)
        shards += [(split, i, len(files), f) for i, f in enumerate(files)]
    return shards


def column_kinds(parse_spec: Dict[str, object]) -> Dict[str, str]:
    """"int" or "float" per column of a tf.io parse spec (what ScoreShardFn takes: plain, picklable)."""
    return example_codec.column_kinds(parse_spec)


def score_shards(pipeline: beam.Pipeline, shards: List[Shard], score_fn: "ScoreShardFn"):
    """Adds the scoring to `pipeline`: one element per shard, spread over the workers."""
    return (
        pipeline
        | "Shards" >> beam.Create(shards)
        | "Reshuffle" >> beam.Reshuffle()  # one worker per shard on distributed runners
        | "Score" >> beam.ParDo(score_fn)
    )


class ScoreShardFn(beam.DoFn):
    """Scores one input shard and writes its two output shards; yields (split, requests, impressions).

    Whole files per element: Beam's per-record overhead on the DirectRunner cost more than the
    scoring itself, and shards are the unit of parallelism on Dataflow as well. Weights are
    min(1/max(p_win, floor), clip) (mtl_keras.propensity_weights, the formula training uses), not
    self-normalised; `eval_ipw_clicked` is click times that.
    """

    def __init__(self, win_model: Dict, column_kinds: Dict[str, str], floor: float, clip: float,
                 requests_uri: str, impressions_uri: str, batch_size: int = 8192):
        self._win_model = win_model
        self._columns = column_kinds
        self._floor, self._clip = floor, clip
        self._requests_uri, self._impressions_uri = requests_uri, impressions_uri
        self._batch_size = batch_size

    def setup(self):
        from mtl_keras.propensity import win_model_from_dict

        self._model = win_model_from_dict(self._win_model)

    def process(self, element):
        import tensorflow as tf

        split, index, count, path = element
        name = f"{RECORDS_PREFIX}-{index:05d}-of-{count:05d}.gz"
        outputs = [os.path.join(uri, f"Split-{split}", name) for uri in (self._requests_uri, self._impressions_uri)]
        for out in outputs:
            tf.io.gfile.makedirs(os.path.dirname(out))
        written = [0, 0]
        compression = "GZIP" if path.endswith(".gz") else ""
        with tf.io.TFRecordWriter(outputs[0], "GZIP") as requests, tf.io.TFRecordWriter(outputs[1], "GZIP") as won_rows:
            for batch in tf.data.TFRecordDataset(path, compression_type=compression).batch(self._batch_size):
                records = batch.numpy()
                frame = example_codec.decode_frame(batch, self._columns)
                p_win = self._model.predict_p_win(frame).astype(np.float32)
                ipw = propensity_weights.inverse_propensity_np(p_win, self._floor, self._clip).astype(np.float32)
                won = frame[names.WON].to_numpy() == 1
                click = frame[names.CLICK].to_numpy(np.float32)
                for i, record in enumerate(records):
                    example = tf.train.Example.FromString(record)
                    example.features.feature[names.P_WIN].float_list.value[:] = [p_win[i]]
                    requests.write(example.SerializeToString())
                    if won[i]:
                        example.features.feature[pipeline_names.EVAL_IPW].float_list.value[:] = [ipw[i]]
                        example.features.feature[pipeline_names.EVAL_IPW_CLICKED].float_list.value[:] = [click[i] * ipw[i]]
                        won_rows.write(example.SerializeToString())
                written[0] += len(records)
                written[1] += int(won.sum())
        yield split, written[0], written[1]
