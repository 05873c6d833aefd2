"""Lineage of a pushed model, read from the local pipeline's SQLite ML Metadata store.

`lineage(path)` starts at a PushedModel (the latest pushed one, or `model_version`), takes the
Pusher execution that wrote it, then every execution upstream of the model it pushed, following
input artifacts to the executions that output them: Trainer, Transform, WinPropensity, the data
validation gate, ExampleValidator, SchemaGen, StatisticsGen, ExampleGen. The blessing the Pusher
read is listed among its inputs; the Evaluator is not walked (its baseline is an older model).

An artifact reused from the cache is output by its first execution and by each CACHED one of
later runs: the producer taken is the one in the consumer's pipeline run, so a cached run shows as
CACHED steps. Steps come downstream first (descending execution id, a topological order).
Vertex AI runs keep their own metadata (Vertex ML Metadata): this reads local runs only.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Dict, List, Optional, Union

from tfx_pipeline.local_runner import METADATA_FILE

_STATES = {0: "UNKNOWN", 1: "NEW", 2: "RUNNING", 3: "COMPLETE", 4: "FAILED", 5: "CACHED", 6: "CANCELED"}
_DETAILS = ("input_base", "input_fingerprint", "span", "pushed_destination", "pushed_version")
PUSHED_MODEL = "PushedModel"


@dataclasses.dataclass(frozen=True)
class LineageStep:
    """One execution in a model's lineage; `inputs` / `outputs` map an artifact key to its URIs.

    `details`: ExampleGen's data (input_base, input_fingerprint, span) and the Pusher's
    destination (pushed_destination, pushed_version), where the execution has them.
    """

    component: str
    execution_id: int
    run_id: Optional[str]
    state: str
    cached: bool
    start_time: datetime.datetime
    end_time: datetime.datetime
    inputs: Dict[str, List[str]]
    outputs: Dict[str, List[str]]
    details: Dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.end_time - self.start_time).total_seconds()

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.update(start_time=self.start_time.isoformat(), end_time=self.end_time.isoformat())
        return out


def metadata_path_of(path: Union[str, os.PathLike]) -> str:
    """The SQLite MLMD file of `path`: the file itself, DIR/metadata.sqlite (`mtl-ads pipeline run`)
    or, for a pipeline root inside a workdir (`tfx_pipeline.presets.Workdir`), the workdir's one."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    candidates = [os.path.join(path, METADATA_FILE),
                  os.path.join(os.path.dirname(os.path.abspath(path)), METADATA_FILE)]
    if os.path.isdir(path):
        for candidate in candidates:
            if os.path.isfile(candidate):
                return candidate
    raise ValueError(f"lineage: no ML Metadata store at {path!r} (looked for {', '.join(candidates)}); pass the "
                     "--pipeline-root of a local run or its SQLite file (`mtl-ads pipeline run --metadata`).")


def _open_store(metadata_path: str):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _pushed_model(store, model_version: Optional[Union[str, int]]):
    artifacts = sorted(store.get_artifacts_by_type(PUSHED_MODEL), key=lambda a: a.id)
    pushed = [a for a in artifacts if a.custom_properties["pushed"].int_value == 1]
    if model_version is None:
        if not pushed:
            raise ValueError("lineage: the store holds no pushed model (no Pusher ran, or no model was blessed); "
                             "run the pipeline until the Evaluator blesses a model, then ask again.")
        return pushed[-1]
    wanted = str(model_version)
    for artifact in reversed(pushed):
        if artifact.custom_properties["pushed_version"].string_value == wanted:
            return artifact
    versions = [a.custom_properties["pushed_version"].string_value for a in pushed]
    raise ValueError(f"lineage: model_version {wanted!r} was not pushed by this pipeline; pushed versions are "
                     f"{versions} (leave --model out for the latest).")


class _Graph:
    """Read access to the store's executions, events and contexts, memoised."""

    def __init__(self, store):
        from ml_metadata.proto import metadata_store_pb2

        self.store = store
        self.event = metadata_store_pb2.Event
        self.node_type = store.get_context_type("node").id
        self.run_type = store.get_context_type("pipeline_run").id
        self._contexts: Dict[int, list] = {}

    def contexts(self, execution_id: int) -> list:
        if execution_id not in self._contexts:
            self._contexts[execution_id] = self.store.get_contexts_by_execution(execution_id)
        return self._contexts[execution_id]

    def run_of(self, execution_id: int) -> Optional[str]:
        runs = [c.name for c in self.contexts(execution_id) if c.type_id == self.run_type]
        return runs[0] if runs else None

    def component_of(self, execution) -> str:
        nodes = [c.name for c in self.contexts(execution.id) if c.type_id == self.node_type]
        return nodes[0].split(".", 1)[-1] if nodes else execution.type.split(".")[-1]

    def artifacts_of(self, execution_id: int, outputs: bool) -> Dict[str, list]:
        """key -> artifacts, of the execution's input or output events."""
        kinds = ((self.event.OUTPUT, self.event.DECLARED_OUTPUT) if outputs
                 else (self.event.INPUT, self.event.DECLARED_INPUT))
        events = [e for e in self.store.get_events_by_execution_ids([execution_id]) if e.type in kinds]
        by_id = {a.id: a for a in self.store.get_artifacts_by_id(list({e.artifact_id for e in events}))}
        out: Dict[str, list] = {}
        for event in events:
            key = next((s.key for s in event.path.steps if s.HasField("key")), "")
            out.setdefault(key, []).append(by_id[event.artifact_id])
        return out

    def producer(self, artifact_id: int, run_id: Optional[str]):
        """The execution that output the artifact: the one in `run_id` if any (a cache hit), else the first."""
        ids = sorted({e.execution_id for e in self.store.get_events_by_artifact_ids([artifact_id])
                      if e.type in (self.event.OUTPUT, self.event.DECLARED_OUTPUT)})
        if not ids:
            return None
        same_run = [i for i in ids if self.run_of(i) == run_id]
        return self.store.get_executions_by_id([(same_run or ids)[0]])[0]


def _step(graph: _Graph, execution, inputs: Dict[str, list], outputs: Dict[str, list]) -> LineageStep:
    def when(ms: int) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)

    details = {k: _text(execution.custom_properties[k]) for k in _DETAILS if k in execution.custom_properties}
    for artifacts in outputs.values():
        for artifact in artifacts:
            if artifact.type == PUSHED_MODEL:
                details.update({k: _text(artifact.custom_properties[k]) for k in _DETAILS
                                if k in artifact.custom_properties})
    state = _STATES.get(execution.last_known_state, str(execution.last_known_state))
    return LineageStep(
        component=graph.component_of(execution), execution_id=execution.id, run_id=graph.run_of(execution.id),
        state=state, cached=state == "CACHED", start_time=when(execution.create_time_since_epoch),
        end_time=when(execution.last_update_time_since_epoch),
        inputs={k: [a.uri for a in v] for k, v in sorted(inputs.items())},
        outputs={k: [a.uri for a in v] for k, v in sorted(outputs.items())}, details=details)


def _text(value) -> str:
    kind = value.WhichOneof("value")
    return str(getattr(value, kind)) if kind else ""


def lineage(pipeline_root_or_metadata_path: Union[str, os.PathLike],
            model_version: Optional[Union[str, int]] = None) -> List[LineageStep]:
    """The executions behind a pushed model, downstream first (the Pusher) to ExampleGen.

    `pipeline_root_or_metadata_path`: a local run's pipeline root (or workdir) or its SQLite MLMD
    file. `model_version`: the pushed version (the serving directory's subdirectory name); None
    for the latest pushed model.
    """
    store = _open_store(metadata_path_of(pipeline_root_or_metadata_path))
    graph = _Graph(store)
    pushed = _pushed_model(store, model_version)
    pusher = graph.producer(pushed.id, None)
    if pusher is None:
        raise ValueError(f"lineage: no execution output the PushedModel {pushed.uri!r}; the store is incomplete, "
                         "rerun the pipeline.")
    steps, seen = {}, set()
    pending = [(pusher, ("model",))]  # the Pusher: walk the model it pushed, not the blessing
    while pending:
        execution, walk = pending.pop()
        if execution.id in seen:
            continue
        seen.add(execution.id)
        inputs = graph.artifacts_of(execution.id, outputs=False)
        steps[execution.id] = _step(graph, execution, inputs, graph.artifacts_of(execution.id, outputs=True))
        run_id = steps[execution.id].run_id
        for key, artifacts in inputs.items():
            if walk and key not in walk:
                continue
            for artifact in artifacts:
                producer = graph.producer(artifact.id, run_id)
                if producer is not None and producer.id not in seen:
                    pending.append((producer, ()))
    return [steps[i] for i in sorted(steps, reverse=True)]


def format_lineage(steps: List[LineageStep]) -> str:
    """A readable listing of `lineage`'s steps: one header line per execution, then its artifacts."""
    if not isinstance(steps, list) or not all(isinstance(s, LineageStep) for s in steps):
        raise ValueError("format_lineage: `steps` must be the list lineage() returns.")
    width = max((len(s.component) for s in steps), default=9)
    lines = []
    for s in steps:
        lines.append(f"{s.component:<{width}}  execution {s.execution_id:<5} {s.state:<9} "
                     f"{s.start_time:%Y-%m-%d %H:%M:%S} UTC  {s.seconds:8.1f} s  run {s.run_id}")
        for direction, artifacts in (("in ", s.inputs), ("out", s.outputs)):
            for key, uris in artifacts.items():
                lines += [f"    {direction} {key}: {uri}" for uri in uris]
        lines += [f"    {key}: {value}" for key, value in s.details.items()]
    return "\n".join(lines)
