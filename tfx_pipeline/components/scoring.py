"""The Beam job of the WinPropensity component: p_win for every request, TFMA weights on won ones.

Kept free of TFX imports: Beam workers (multi_processing, Dataflow) unpickle ScoreShardFn and import
only this module, TensorFlow and mtl_keras; importing TFX too would add ~15 s to every worker's start.
"""
from __future__ import annotations

import hashlib
import os
from typing import Dict, List, Sequence, Tuple

import apache_beam as beam
import numpy as np
import pandas as pd

from mtl_keras import example_codec, names, propensity_weights
from tfx_pipeline import examples_io
from tfx_pipeline import names as pipeline_names

RECORDS_PREFIX = "data_tfrecord"
APPENDED_COLUMNS = (names.P_WIN, pipeline_names.EVAL_IPW, pipeline_names.EVAL_IPW_CLICKED)
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


def write_split_counts(counts, path: str):
    """Adds the writing of {split: {"requests": n, "won": m}} (JSON at `path`) from ScoreShardFn's
    per-shard counts: the Trainer's batch count without a counting pass over its input."""
    return counts | "AllCounts" >> beam.combiners.ToList() | "WriteCounts" >> beam.Map(_write_counts, path)


def _write_counts(rows, path: str) -> None:
    import json

    import tensorflow as tf

    totals: Dict[str, Dict[str, int]] = {}
    for split, requests, won in rows:
        split_totals = totals.setdefault(split, {"requests": 0, "won": 0})
        split_totals["requests"] += int(requests)
        split_totals["won"] += int(won)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(totals, sort_keys=True))


class ScoreShardFn(beam.DoFn):
    """Scores one input shard and writes its output shards; yields (split, requests, won requests).

    Per input shard of split S: every request with p_win (`requests_uri`/Split-S), the won ones
    with p_win (`requests_uri`/Split-S_won, the rows the Trainer reads: lost requests are filtered
    here once, not at every epoch) and the won ones with the TFMA weights (`impressions_uri`/Split-S).
    Whole files per element: Beam's per-record overhead on the DirectRunner cost more than the
    scoring itself, and shards are the unit of parallelism on Dataflow as well (a shard is held in
    memory while it is put in a fixed order: see `_order_key`). Weights are
    min(1/max(p_win, floor), clip) (mtl_keras.propensity_weights, the formula training uses), not
    self-normalised; `eval_ipw_clicked` is click times that.

    New columns are appended to each record as the bytes of a one-feature-per-column Example
    (protobuf merges concatenated messages; tf.io and tfx_bsl read the union) instead of a parse
    and re-serialise per record (the demo's WinPropensity: 19 -> 8 s, its won split included). `append_bytes=False` (the input already carries one of
    the columns: a merged map would hold its key twice) takes the parse path instead.
    """

    def __init__(self, win_model: Dict, column_kinds: Dict[str, str], floor: float, clip: float,
                 requests_uri: str, impressions_uri: str, batch_size: int = 8192, append_bytes: bool = True):
        self._win_model = win_model
        self._columns = column_kinds
        self._floor, self._clip = floor, clip
        self._requests_uri, self._impressions_uri = requests_uri, impressions_uri
        self._batch_size = batch_size
        self._append_bytes = append_bytes

    def setup(self):
        from mtl_keras.propensity import win_model_from_dict

        self._model = win_model_from_dict(self._win_model)

    def process(self, element):
        import tensorflow as tf

        split, index, count, path = element
        name = f"{RECORDS_PREFIX}-{index:05d}-of-{count:05d}.gz"
        outputs = [os.path.join(self._requests_uri, f"Split-{split}", name),
                   os.path.join(self._requests_uri, f"Split-{won_split(split)}", name),
                   os.path.join(self._impressions_uri, f"Split-{split}", name)]
        for out in outputs:
            tf.io.gfile.makedirs(os.path.dirname(out))
        written = [0, 0]
        compression = "GZIP" if path.endswith(".gz") else ""
        shard = [r for batch in tf.data.TFRecordDataset(path, compression_type=compression).batch(8192)
                 for r in batch.numpy()]
        # ExampleGen shuffles with unseeded keys (Beam Reshuffle): the same rows arrive in another
        # order every run. Writing them in an order fixed by their bytes makes everything
        # downstream (Transform, the Trainer's seeded shuffle) a function of the data and the seed.
        shard.sort(key=_order_key)
        writers = [tf.io.TFRecordWriter(out, "GZIP") for out in outputs]
        try:
            for start in range(0, len(shard), self._batch_size):
                records = shard[start:start + self._batch_size]
                frame = example_codec.decode_frame(records, self._columns)
                p_win = self._model.predict_p_win(frame).astype(np.float32)
                ipw = propensity_weights.inverse_propensity_np(p_win, self._floor, self._clip).astype(np.float32)
                won = np.flatnonzero(frame[names.WON].to_numpy() == 1)
                weights = pd.DataFrame({pipeline_names.EVAL_IPW: ipw[won],
                                        pipeline_names.EVAL_IPW_CLICKED: frame[names.CLICK].to_numpy(np.float32)[won] * ipw[won]})
                scored, impressions = self._add_columns(records, won, pd.DataFrame({names.P_WIN: p_win}), weights)
                for record in scored:
                    writers[0].write(record)
                for i, record in zip(won, impressions):
                    writers[1].write(scored[i])
                    writers[2].write(record)
                written[0] += len(records)
                written[1] += len(won)
        finally:
            for writer in writers:
                writer.close()
        yield split, written[0], written[1]

    def _add_columns(self, records, won: np.ndarray, p_win: pd.DataFrame, weights: pd.DataFrame):
        """(every record with p_win, the `won` records with p_win and the weights), serialized."""
        if self._append_bytes:
            scored = [r + extra for r, extra in zip(records, example_codec.encode_frame(p_win))]
            return scored, [scored[i] + extra for i, extra in zip(won, example_codec.encode_frame(weights))]
        import tensorflow as tf

        scored, examples = [], []
        for i, record in enumerate(records):
            example = tf.train.Example.FromString(record)
            example.features.feature[names.P_WIN].float_list.value[:] = [p_win.iloc[i, 0]]
            scored.append(example.SerializeToString())
            examples.append(example)
        impressions = []
        for i, row in zip(won, weights.itertuples(index=False)):
            for column, value in zip(weights.columns, row):
                examples[i].features.feature[column].float_list.value[:] = [value]
            impressions.append(examples[i].SerializeToString())
        return scored, impressions


def _order_key(record: bytes) -> bytes:
    """A pseudo-random but fixed position for a record: a hash of its bytes (not the bytes, whose
    order would sort rows by their first features)."""
    return hashlib.blake2b(record, digest_size=8).digest()


def won_split(split: str) -> str:
    """The name of the split holding the won requests of `split` (with p_win, for Transform and the Trainer)."""
    return f"{split}{pipeline_names.WON_SPLIT_SUFFIX}"
