"""WinPropensity: fits a survival model of the market price on all requests, scores every request.

Outputs (1) every request with `p_win` added, for Transform and training, (2) a schema with
`p_win` and only the model's features and funnel columns (so ground truth never reaches
Transform or serving), (3) the won impressions with the TFMA weights `eval_ipw` (1/p_win,
floored and clipped) and `eval_ipw_clicked` (click × that), and (4) the fitted win model as JSON.
Scoring runs in Beam, one input shard per element (see _ScoreFileFn).
"""

import json
import os
from typing import Dict

import apache_beam as beam
import numpy as np
from tfx import v1 as tfx
from tfx.types import standard_artifact_utils
from tfx.utils import io_utils

from mtl_keras import names
from mtl_keras.features import FeatureSpec
from tfx_pipeline import examples_io
from tfx_pipeline.components.artifacts import DataValidation, WinModel

WIN_MODEL_FILE = "win_model.json"
_RECORDS = "data_tfrecord"


def make_scored_schema(schema, feature_spec: FeatureSpec):
    """The input schema restricted to the features and funnel columns, plus a required float p_win."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    keep = set(feature_spec.names) | set(names.FUNNEL_COLUMNS)
    out = schema_pb2.Schema()
    out.CopyFrom(schema)
    del out.feature[:]
    out.feature.extend(f for f in schema.feature if f.name in keep and f.name != names.P_WIN)
    p_win = out.feature.add(name=names.P_WIN, type=schema_pb2.FLOAT)
    p_win.presence.min_fraction = 1.0
    p_win.presence.min_count = 1
    p_win.shape.dim.add(size=1)
    return out


class _ScoreFileFn(beam.DoFn):
    """Scores one input shard and writes its two output shards; yields (split, requests, impressions).

    Whole files per element: Beam's per-record overhead on the DirectRunner cost more than the
    scoring itself, and shards are the unit of parallelism on Dataflow as well.
    """

    def __init__(self, win_model: Dict, column_kinds: Dict[str, str], floor: float, clip: float,
                 requests_uri: str, impressions_uri: str, batch_size: int = 8192):
        self._win_model = win_model
        self._columns = column_kinds
        self._floor, self._clip = floor, clip
        self._requests_uri, self._impressions_uri = requests_uri, impressions_uri
        self._batch_size = batch_size

    def setup(self):
        import tensorflow as tf

        from mtl_keras.propensity import win_model_from_dict

        self._model = win_model_from_dict(self._win_model)
        dtypes = {"int": tf.int64, "float": tf.float32}
        self._spec = {c: tf.io.VarLenFeature(dtypes[k]) for c, k in self._columns.items()}

    def process(self, element):
        import tensorflow as tf

        split, index, count, path = element
        name = f"{_RECORDS}-{index:05d}-of-{count:05d}.gz"
        outputs = [os.path.join(uri, f"Split-{split}", name) for uri in (self._requests_uri, self._impressions_uri)]
        for out in outputs:
            tf.io.gfile.makedirs(os.path.dirname(out))
        written = [0, 0]
        compression = "GZIP" if path.endswith(".gz") else ""
        with tf.io.TFRecordWriter(outputs[0], "GZIP") as requests, tf.io.TFRecordWriter(outputs[1], "GZIP") as won_rows:
            for batch in tf.data.TFRecordDataset(path, compression_type=compression).batch(self._batch_size):
                records = batch.numpy()
                frame = examples_io.parse_frame(records, self._spec)
                p_win = self._model.predict_p_win(frame).astype(np.float32)
                ipw = np.minimum(1.0 / np.maximum(p_win, self._floor), self._clip).astype(np.float32)
                won = frame[names.WON].to_numpy() == 1
                click = frame[names.CLICK].to_numpy(np.float32)
                for i, record in enumerate(records):
                    example = tf.train.Example.FromString(record)
                    example.features.feature[names.P_WIN].float_list.value[:] = [p_win[i]]
                    requests.write(example.SerializeToString())
                    if won[i]:
                        example.features.feature[names.EVAL_IPW].float_list.value[:] = [ipw[i]]
                        example.features.feature[names.EVAL_IPW_CLICKED].float_list.value[:] = [click[i] * ipw[i]]
                        won_rows.write(example.SerializeToString())
                written[0] += len(records)
                written[1] += int(won.sum())
        yield split, written[0], written[1]


@tfx.dsl.components.component(use_beam=True)
def WinPropensity(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    validation: tfx.dsl.components.InputArtifact[DataValidation],
    scored_examples: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Examples],
    impressions: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Examples],
    scored_schema: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Schema],
    win_model: tfx.dsl.components.OutputArtifact[WinModel],
    feature_spec_json: tfx.dsl.components.Parameter[str],
    win_model_json: tfx.dsl.components.Parameter[str],
    propensity_floor: tfx.dsl.components.Parameter[float] = 0.05,
    weight_clip: tfx.dsl.components.Parameter[float] = 20.0,
    fit_split: tfx.dsl.components.Parameter[str] = "train",
    beam_pipeline: tfx.dsl.components.BeamComponentParameter[beam.Pipeline] = None,
):
    """win_model_json: {"kind": ..., **make_win_model kwargs}; fitted on every request of `fit_split`."""
    from mtl_keras.propensity import make_win_model

    spec = FeatureSpec.from_json(feature_spec_json)
    model_args = json.loads(win_model_json)
    if "kind" not in model_args:
        raise ValueError(f"win_model_json needs a 'kind' (one of {names.WIN_MODEL_KINDS}); got {model_args}.")
    schema_proto = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema.uri))
    columns = spec.names + [names.BID_PRICE, names.WON, names.MARKET_PRICE, names.CLICK]
    parse_spec = examples_io.parse_spec_from_schema(schema_proto, columns)
    splits = standard_artifact_utils.decode_split_names(examples.split_names)
    if fit_split not in splits:
        raise ValueError(f"fit_split={fit_split!r} is not a split of the examples ({splits}).")

    frame = examples_io.read_frame(examples_io.split_files(examples.uri, fit_split), parse_spec)
    model = make_win_model(**model_args).fit(frame)
    model.save(os.path.join(win_model.uri, WIN_MODEL_FILE))
    io_utils.write_pbtxt_file(os.path.join(scored_schema.uri, "schema.pbtxt"), make_scored_schema(schema_proto, spec))

    kinds = {c: "int" if parse_spec[c].dtype.is_integer else "float" for c in columns}
    shards = []
    for split in splits:
        files = examples_io.split_files(examples.uri, split)
        shards += [(split, i, len(files), f) for i, f in enumerate(files)]
    score = _ScoreFileFn(model.to_dict(), kinds, propensity_floor, weight_clip, scored_examples.uri, impressions.uri)
    with beam_pipeline as pipeline:
        _ = (
            pipeline
            | "Shards" >> beam.Create(shards)
            | "Reshuffle" >> beam.Reshuffle()  # one worker per shard on distributed runners
            | "Score" >> beam.ParDo(score)
        )
    for output in (scored_examples, impressions):
        output.split_names = standard_artifact_utils.encode_split_names(splits)
