"""What a pipeline run did, read back from ML Metadata and its artifacts: component executions and
their seconds, cache hits, the blessing, the pushed model path and the TFMA metrics per task."""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional

from mtl_keras import names

# MLMD execution states (metadata_store_pb2.Execution.State).
CANDIDATE_MODEL = "candidate"  # TFMA's name for the evaluated model when it has a baseline
_STATE_NAMES = {0: "UNKNOWN", 1: "NEW", 2: "RUNNING", 3: "COMPLETE", 4: "FAILED", 5: "CACHED", 6: "CANCELED"}


@dataclasses.dataclass
class ComponentRun:
    component: str
    state: str
    seconds: float
    started_at: float = float("nan")  # seconds since the epoch (MLMD's create time)


def component_runs(metadata_path: str, run_id: Optional[str] = None) -> List[ComponentRun]:
    """Executions of the pipeline recorded in the SQLite MLMD store, oldest first.

    run_id: restrict to one pipeline run (its context name); None for every run.
    """
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    if run_id is not None:
        context = store.get_context_by_type_and_name("pipeline_run", run_id)
        if context is None:
            raise ValueError(f"No pipeline run {run_id!r} in {metadata_path}.")
        executions = store.get_executions_by_context(context.id)
    else:
        executions = store.get_executions()
    node_type = store.get_context_type("node").id
    runs = []
    for e in sorted(executions, key=lambda e: e.id):
        nodes = [c.name for c in store.get_contexts_by_execution(e.id) if c.type_id == node_type]
        component = nodes[0].split(".", 1)[-1] if nodes else e.type.split(".")[-1]
        seconds = (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000.0
        runs.append(ComponentRun(component, _STATE_NAMES.get(e.last_known_state, str(e.last_known_state)), seconds,
                                 e.create_time_since_epoch / 1000.0))
    return runs


def run_ids(metadata_path: str) -> List[str]:
    """Pipeline run ids in the store, oldest first."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    return [c.name for c in sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)]


def latest_artifact_uri(metadata_path: str, type_name: str, run_id: Optional[str] = None) -> Optional[str]:
    """The newest artifact of `type_name`; with `run_id`, the newest one that run produced or reused."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    if run_id is None:
        artifacts = store.get_artifacts_by_type(type_name)
    else:
        context = store.get_context_by_type_and_name("pipeline_run", run_id)
        if context is None:
            raise ValueError(f"No pipeline run {run_id!r} in {metadata_path}.")
        type_id = store.get_artifact_type(type_name).id
        artifacts = [a for a in store.get_artifacts_by_context(context.id) if a.type_id == type_id]
    return max(artifacts, key=lambda a: a.id).uri if artifacts else None


def pushed_model_path(metadata_path: str) -> Optional[str]:
    """The serving directory version the latest Pusher execution wrote; None when it pushed nothing."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    artifacts = store.get_artifacts_by_type("PushedModel")
    if not artifacts:
        return None
    latest = max(artifacts, key=lambda a: a.id)
    if latest.custom_properties["pushed"].int_value != 1:
        return None
    return latest.custom_properties["pushed_destination"].string_value


def is_blessed(evaluation_blessing_uri: str) -> bool:
    return os.path.exists(os.path.join(evaluation_blessing_uri, "BLESSED"))


def task_metrics(evaluation_uri: str) -> Dict[str, Dict[str, float]]:
    """Overall-slice metrics per model output, e.g. {"p_ctr": {"auc": ..., "binary_crossentropy": ...}}."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri)
    metrics: Dict[str, Dict[str, float]] = {}
    for slice_key, by_output in result.slicing_metrics:
        if slice_key != ():
            continue
        for output, by_class in by_output.items():
            if output not in names.PREDICTION_KEYS:
                continue
            for name, value in by_class.get("", {}).items():
                if "doubleValue" in value:
                    metrics.setdefault(output, {})[name] = value["doubleValue"]
    return metrics


def format_table(runs: List[ComponentRun]) -> str:
    width = max((len(r.component) for r in runs), default=10)
    lines = [f"{'component':<{width}}  {'state':<9} {'seconds':>8}"]
    lines += [f"{r.component:<{width}}  {r.state:<9} {r.seconds:8.1f}" for r in runs]
    return "\n".join(lines)


def calibration_buckets(evaluation_uri: str, output: str):
    """Overall-slice CalibrationPlot of one output: (mean prediction, mean label, weight) per non-empty bucket."""
    import numpy as np
    import tensorflow_model_analysis as tfma

    # Against a baseline TFMA keys the plots by model name: the evaluated model is the "candidate".
    for model_name in (None, CANDIDATE_MODEL):
        result = tfma.load_eval_result(evaluation_uri, model_name=model_name)
        for slice_key, by_output in result.plots or []:
            if slice_key != () or output not in by_output:
                continue
            buckets = by_output[output][""]["calibrationHistogramBuckets"]["buckets"]
            rows = [(b.get("totalWeightedRefinedPrediction", 0.0), b.get("totalWeightedLabel", 0.0),
                     b.get("numWeightedExamples", 0.0)) for b in buckets]
            rows = np.array([r for r in rows if r[2] > 0], dtype=np.float64).reshape(-1, 3)
            return rows[:, 0] / rows[:, 2], rows[:, 1] / rows[:, 2], rows[:, 2]
    raise ValueError(f"No calibration plot for output {output!r} in {evaluation_uri}.")


def artifacts_table(metadata_path: str):
    """Every artifact in the store as a DataFrame: id, type, producing component, URI."""
    import pandas as pd
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    types = {t.id: t.name for t in store.get_artifact_types()}
    node_type = store.get_context_type("node").id
    producers = {}
    for event in store.get_events_by_artifact_ids([a.id for a in store.get_artifacts()]):
        if event.type == event.OUTPUT:
            nodes = [c.name for c in store.get_contexts_by_execution(event.execution_id) if c.type_id == node_type]
            producers[event.artifact_id] = nodes[0].split(".", 1)[-1] if nodes else "?"
    return pd.DataFrame(
        [{"id": a.id, "type": types[a.type_id], "producer": producers.get(a.id, "?"), "uri": a.uri}
         for a in sorted(store.get_artifacts(), key=lambda a: a.id)]
    )
