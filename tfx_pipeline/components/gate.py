"""DataValidationGate: stops the pipeline when the data do not fit the schema or the FeatureSpec.

ExampleValidator only records anomalies; this component reads them and fails the run, naming every
column at fault. It also checks what an inferred schema cannot: that every feature of the
FeatureSpec and every funnel column exists with a usable type (a schema inferred from bad data
agrees with the bad data).
"""

import json
import os
from typing import Dict, List

from tfx import v1 as tfx
from tfx.types import standard_artifact_utils
from tfx.utils import io_utils

from mtl_keras import names
from mtl_keras.features import FeatureSpec
from tfx_pipeline.components.artifacts import DataValidation

# Funnel columns every request log must have, and the schema types allowed for them.
REQUIRED_FUNNEL_COLUMNS = {
    names.BID_PRICE: ("INT", "FLOAT"),
    names.WON: ("INT",),
    names.MARKET_PRICE: ("INT", "FLOAT"),
    names.CLICK: ("INT",),
    names.CONVERSION: ("INT",),
}


def schema_problems(schema, feature_spec: FeatureSpec) -> List[str]:
    """Messages for every missing or mistyped column of the schema; empty when all is well."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    types = {f.name: schema_pb2.FeatureType.Name(f.type) for f in schema.feature}
    wanted: Dict[str, tuple] = dict(REQUIRED_FUNNEL_COLUMNS)
    wanted.update({f.name: ("INT",) for f in feature_spec.categorical})
    wanted.update({f.name: ("INT", "FLOAT") for f in feature_spec.numeric})
    problems = []
    for column, allowed in wanted.items():
        if column not in types:
            problems.append(f"column {column!r} is missing from the data; add it or remove it from the FeatureSpec")
        elif types[column] not in allowed:
            problems.append(f"column {column!r} has type {types[column]} but must be {' or '.join(allowed)}; "
                            "fix its values in the data")
    return problems


def anomaly_problems(anomalies_uri: str, split_names: str) -> List[str]:
    """Messages for every anomaly ExampleValidator found, per split and column."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    problems = []
    for split in standard_artifact_utils.decode_split_names(split_names):
        path = os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb")
        if not os.path.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))
        for column, info in sorted(anomalies.anomaly_info.items()):
            reasons = "; ".join(r.description or r.short_description for r in info.reason)
            problems.append(f"split {split!r}, column {column!r}: {reasons or info.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            reasons = "; ".join(r.description for r in anomalies.dataset_anomaly_info.reason)
            problems.append(f"split {split!r}, whole data set: {reasons}")
    return problems


@tfx.dsl.components.component
def DataValidationGate(
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    validation: tfx.dsl.components.OutputArtifact[DataValidation],
    feature_spec_json: tfx.dsl.components.Parameter[str],
):
    """Raises a ValueError listing every anomaly and schema problem; passes the data otherwise."""
    spec = FeatureSpec.from_json(feature_spec_json)
    schema_proto = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema.uri))
    problems = schema_problems(schema_proto, spec) + anomaly_problems(anomalies.uri, anomalies.split_names)
    if problems:
        raise ValueError(
            "The data failed validation, so the pipeline stops before training:\n  - " + "\n  - ".join(problems)
        )
    io_utils.write_string_file(
        os.path.join(validation.uri, "validation.json"), json.dumps({"passed": True, "columns": len(schema_proto.feature)})
    )
