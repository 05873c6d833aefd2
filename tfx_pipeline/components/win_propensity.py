"""WinPropensity: fits a survival model of the market price on all requests, scores every request.

Outputs (1) every request with `p_win` added (splits train, eval) and the won ones (train_won,
eval_won: Transform analyses train and transforms these, the Trainer reads them), (2) a schema with
`p_win` and only the model's features and funnel columns (so ground truth never reaches
Transform or serving), (3) the won impressions with the TFMA weights `eval_ipw` (1/p_win,
floored and clipped) and `eval_ipw_clicked` (click × that), (4) the fitted win model as JSON and
(5) for the Trainer: that model and the requests and won rows per split (its batch count).
Scoring runs in Beam, one input shard per element (see scoring.ScoreShardFn).
"""

import json
import os

import apache_beam as beam
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import standard_artifact_utils
from tfx.utils import io_utils

from mtl_keras import names
from mtl_keras.features import FeatureSpec
from tfx_pipeline import examples_io
from tfx_pipeline import names as pipeline_names
from tfx_pipeline.components.artifacts import DataValidation, WinModel
from tfx_pipeline.components.scoring import (APPENDED_COLUMNS, ScoreShardFn, column_kinds, input_shards,
                                             score_shards, won_split, write_split_counts)
from mtl_keras.propensity.factory import WIN_MODEL_KINDS

WIN_MODEL_FILE = "win_model.json"
TRAINER_WIN_MODEL_FILE = "best_hyperparameters.txt"  # the file name the Trainer's HyperParameters reader expects
TRAINER_WIN_MODEL_KEY = pipeline_names.TRAINER_WIN_MODEL_KEY
COUNTS_FILE = "example_counts.json"


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


def scoring_parse_spec(schema, feature_spec: FeatureSpec):
    """How the win model's fit and scoring parse requests: the features and the funnel columns."""
    columns = feature_spec.names + [names.BID_PRICE, names.WON, names.MARKET_PRICE, names.CLICK]
    return examples_io.parse_spec_from_schema(schema, columns)


@tfx.dsl.components.component(use_beam=True)
def WinPropensity(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    validation: tfx.dsl.components.InputArtifact[DataValidation],
    scored_examples: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Examples],
    impressions: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Examples],
    scored_schema: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Schema],
    win_model: tfx.dsl.components.OutputArtifact[WinModel],
    # The fitted win model for the Trainer, which exports it as the `win_probability` signature:
    # the stock Trainer reads a HyperParameters artifact's JSON into fn_args.hyperparameters.
    trainer_win_model: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.HyperParameters],
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
        raise ValueError(f"win_model_json needs a 'kind' (one of {WIN_MODEL_KINDS}); got {model_args}.")
    schema_proto = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema.uri))
    parse_spec = scoring_parse_spec(schema_proto, spec)
    splits = standard_artifact_utils.decode_split_names(examples.split_names)
    if fit_split not in splits:
        raise ValueError(f"fit_split={fit_split!r} is not a split of the examples ({splits}).")

    frame = examples_io.read_frame(examples_io.split_files(examples.uri, fit_split), parse_spec)
    # ExampleGen's output order changes run to run (an unseeded Beam Reshuffle); in a canonical
    # order, the fit (its row sample, its folds) depends on the rows and the seed only.
    frame = frame.sort_values(list(frame.columns), kind="mergesort", ignore_index=True)
    model = make_win_model(**model_args).fit(frame)
    model.save(os.path.join(win_model.uri, WIN_MODEL_FILE))
    io_utils.write_pbtxt_file(os.path.join(scored_schema.uri, "schema.pbtxt"), make_scored_schema(schema_proto, spec))

    # Appending the new columns' bytes is safe when the input has none of them (see ScoreShardFn).
    append_bytes = not set(APPENDED_COLUMNS) & {f.name for f in schema_proto.feature}
    score = ScoreShardFn(model.to_dict(), column_kinds(parse_spec), propensity_floor, weight_clip,
                         scored_examples.uri, impressions.uri, append_bytes=append_bytes)
    counts_path = os.path.join(trainer_win_model.uri, COUNTS_FILE)
    with beam_pipeline as pipeline:
        write_split_counts(score_shards(pipeline, input_shards(examples.uri, splits), score), counts_path)
    counts = json.loads(io_utils.read_string_file(counts_path))
    fileio.remove(counts_path)  # the Trainer reads the only file of its hyperparameters artifact
    io_utils.write_string_file(os.path.join(trainer_win_model.uri, TRAINER_WIN_MODEL_FILE), json.dumps(
        {TRAINER_WIN_MODEL_KEY: model.to_dict(), pipeline_names.EXAMPLE_COUNTS_KEY: counts}))
    scored_examples.split_names = standard_artifact_utils.encode_split_names(
        list(splits) + [won_split(s) for s in splits])
    impressions.split_names = standard_artifact_utils.encode_split_names(splits)
