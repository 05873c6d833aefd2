"""One pipeline run as ML Metadata recorded it: every execution (times, state, artifact URIs) and the
execution properties the report and the model card read (the Trainer's custom_config, ...).

`run_facts(path)` is the latest run; `pushed_run_facts(path, version)` the run whose Pusher pushed
`version` (a cached run's executions carry the artifacts they reused, see tfx_pipeline.lineage).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
from typing import Dict, List, Optional, Tuple, Union

# The lineage module's readers of the SQLite store (same package, same store layout).
from tfx_pipeline.lineage import LineageStep, _Graph, _open_store, _pushed_model, _step, _text, metadata_path_of
from tfx_pipeline.builders import TRAINER
from tfx_pipeline.trainer import MODEL_CONFIG_KEY

# Execution properties kept (others are large or unused here).
_PROPERTIES = ("custom_config", "input_base", "span", "input_fingerprint", "propensity_floor", "weight_clip",
               "win_model_json", "feature_spec_json")


@dataclasses.dataclass(frozen=True)
class RunFacts:
    """A run's executions, oldest first, their kept execution properties by component, and when each
    artifact the run produced or reused was created (URI -> UTC time; a reused one keeps its first)."""

    metadata_path: str
    pipeline_name: str
    run_id: str
    steps: Tuple[LineageStep, ...]
    properties: Dict[str, Dict[str, str]]
    created: Dict[str, datetime.datetime]

    def step(self, component: str) -> Optional[LineageStep]:
        """The run's last execution of `component`; None when it did not run."""
        found = [s for s in self.steps if s.component == component]
        return found[-1] if found else None

    def output(self, component: str, key: str) -> Optional[str]:
        """URI of `component`'s output `key` in this run, or None."""
        step = self.step(component)
        uris = step.outputs.get(key, []) if step else []
        return uris[0] if uris else None

    def input(self, component: str, key: str) -> Optional[str]:
        step = self.step(component)
        uris = step.inputs.get(key, []) if step else []
        return uris[0] if uris else None

    def custom_config(self, component: str) -> Dict:
        text = self.properties.get(component, {}).get("custom_config", "")
        return json.loads(text) if text and text != "null" else {}

    def model_config(self) -> Optional[Dict]:
        """The Trainer's ModelConfig as a dict (features: the raw FeatureSpec); None without a Trainer."""
        return self.custom_config(TRAINER).get(MODEL_CONFIG_KEY)


def _run_facts(store, metadata_path: str, run_id: str) -> RunFacts:
    graph = _Graph(store)
    context = store.get_context_by_type_and_name("pipeline_run", run_id)
    if context is None:
        raise ValueError(f"run_facts: no pipeline run {run_id!r} in {metadata_path}; pass run_id=None for the latest "
                         "or one of the store's run ids (tfx_pipeline.run_summary.run_ids).")
    steps, properties = [], {}
    for execution in sorted(store.get_executions_by_context(context.id), key=lambda e: e.id):
        step = _step(graph, execution, graph.artifacts_of(execution.id, outputs=False),
                     graph.artifacts_of(execution.id, outputs=True))
        steps.append(step)
        properties[step.component] = {k: _text(execution.custom_properties[k]) for k in _PROPERTIES
                                      if k in execution.custom_properties}
    created = {a.uri: datetime.datetime.fromtimestamp(a.create_time_since_epoch / 1000.0, tz=datetime.timezone.utc)
               for a in store.get_artifacts_by_context(context.id)}
    pipeline_type = store.get_context_type("pipeline").id
    pipelines = [c.name for s in steps[:1] for c in graph.contexts(s.execution_id) if c.type_id == pipeline_type]
    return RunFacts(metadata_path=metadata_path, pipeline_name=pipelines[0] if pipelines else "", run_id=run_id,
                    steps=tuple(steps), properties=properties, created=created)


def run_facts(pipeline_root_or_metadata_path: Union[str, os.PathLike], run_id: Optional[str] = None) -> RunFacts:
    """The facts of run `run_id` (default: the latest run in the store)."""
    metadata_path = metadata_path_of(pipeline_root_or_metadata_path)
    store = _open_store(metadata_path)
    if run_id is None:
        runs = sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
        if not runs:
            raise ValueError(f"run_facts: the store {metadata_path} holds no pipeline run; run the pipeline first "
                             "(`mtl-ads pipeline run` or `mtl-ads demo`).")
        run_id = runs[-1].name
    return _run_facts(store, metadata_path, run_id)


def pushed_run_facts(pipeline_root_or_metadata_path: Union[str, os.PathLike],
                     model_version: Optional[Union[str, int]] = None) -> Tuple[RunFacts, LineageStep]:
    """(facts of the run that pushed `model_version`, its Pusher step); None: the latest pushed model."""
    metadata_path = metadata_path_of(pipeline_root_or_metadata_path)
    store = _open_store(metadata_path)
    graph = _Graph(store)
    pushed = _pushed_model(store, model_version)
    pusher = graph.producer(pushed.id, None)
    run_id = graph.run_of(pusher.id) if pusher is not None else None
    if run_id is None:
        raise ValueError(f"pushed_run_facts: the PushedModel {pushed.uri!r} has no Pusher execution in a pipeline run; "
                         "the store is incomplete, rerun the pipeline.")
    facts = _run_facts(store, metadata_path, run_id)
    step = next(s for s in facts.steps if s.execution_id == pusher.id)
    return facts, step


def pushed_steps(facts: RunFacts) -> List[LineageStep]:
    """The run's Pusher steps that pushed a model (details hold pushed_destination / pushed_version)."""
    return [s for s in facts.steps if s.details.get("pushed_destination")]
