"""Executions that a killed local run left RUNNING in ML Metadata, marked FAILED before the next run.

A LocalDagRunner killed mid-component never updates its execution: it stays RUNNING forever, the
run tables show it as still going, and its PENDING output artifacts look like work in progress. The
next `mtl-ads pipeline run` on the same store marks those executions FAILED and their PENDING
outputs ABANDONED. Only one local run uses a SQLite store at a time, so a RUNNING execution found
before a run starts belongs to a run that is gone.
"""
from __future__ import annotations

import dataclasses
import os
from typing import List, Optional

NOTE_PROPERTY = "mtl_ads_note"
NOTE = "marked FAILED by mtl-ads pipeline run: left RUNNING by a run that was killed"


@dataclasses.dataclass(frozen=True)
class StaleExecution:
    """One execution marked FAILED: its id, component, pipeline run and abandoned outputs."""

    execution_id: int
    component: str
    run_id: Optional[str]
    abandoned_artifacts: int

    def describe(self) -> str:
        run = f" of run {self.run_id}" if self.run_id else ""
        outputs = f", {self.abandoned_artifacts} pending outputs abandoned" if self.abandoned_artifacts else ""
        return f"{self.component} (execution {self.execution_id}{run}): RUNNING -> FAILED{outputs}"


def store_for(metadata_path: str):
    """A MetadataStore on the SQLite file (read-write; created if missing)."""
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def mark_stale_executions(metadata_path: str, pipeline_name: Optional[str] = None) -> List[StaleExecution]:
    """Marks every RUNNING execution of `pipeline_name` (of any pipeline when None) FAILED and its
    PENDING output artifacts ABANDONED; returns what it marked. A missing store marks nothing."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    if not os.path.isfile(metadata_path):
        return []
    store = store_for(metadata_path)
    if pipeline_name is None:
        executions = store.get_executions()
    else:
        context = store.get_context_by_type_and_name("pipeline", pipeline_name)
        executions = store.get_executions_by_context(context.id) if context is not None else []
    stale = [e for e in executions if e.last_known_state == pb.Execution.RUNNING]
    if not stale:
        return []
    outputs = {}
    for event in store.get_events_by_execution_ids([e.id for e in stale]):
        if event.type in (pb.Event.OUTPUT, pb.Event.PENDING_OUTPUT):
            outputs.setdefault(event.execution_id, set()).add(event.artifact_id)
    output_ids = sorted(set().union(*outputs.values())) if outputs else []
    pending = [a for a in store.get_artifacts_by_id(output_ids) if a.state == pb.Artifact.PENDING] if output_ids else []
    for artifact in pending:
        artifact.state = pb.Artifact.ABANDONED
    for execution in stale:
        execution.last_known_state = pb.Execution.FAILED
        execution.custom_properties[NOTE_PROPERTY].string_value = NOTE
    if pending:
        store.put_artifacts(pending)
    store.put_executions(stale)
    abandoned = {a.id for a in pending}
    return [StaleExecution(e.id, *_names(store, e), len(outputs.get(e.id, set()) & abandoned)) for e in stale]


def _names(store, execution):
    """(component, pipeline run id) from the execution's node and pipeline_run contexts."""
    component, run_id = execution.type.split(".")[-1], None
    types = {t.id: t.name for t in store.get_context_types()}
    for context in store.get_contexts_by_execution(execution.id):
        kind = types.get(context.type_id)
        if kind == "node":
            component = context.name.split(".", 1)[-1]
        elif kind == "pipeline_run":
            run_id = context.name
    return component, run_id
