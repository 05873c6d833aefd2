"""lineage() on the tiny pipeline's two runs: the exact chain from the Pusher back to ExampleGen."""
import argparse
import json

import pytest

from tfx_pipeline import pipeline as p
from tfx_pipeline import run_summary
from tfx_pipeline.lineage import format_lineage, lineage, metadata_path_of
from tfx_pipeline.lineage_cli import register_lineage

CHAIN = [p.PUSHER, p.TRAINER, p.TRANSFORM, p.WIN_PROPENSITY, p.GATE, p.EXAMPLE_VALIDATOR, p.SCHEMA_GEN,
         p.STATISTICS_GEN, p.EXAMPLE_GEN]
# component -> input key -> (the component that output it, its output key)
EDGES = {
    p.PUSHER: {"model": (p.TRAINER, "model")},
    p.TRAINER: {"examples": (p.TRANSFORM, "transformed_examples"), "transform_graph": (p.TRANSFORM, "transform_graph"),
                "schema": (p.WIN_PROPENSITY, "scored_schema"),
                "hyperparameters": (p.WIN_PROPENSITY, "trainer_win_model")},
    p.TRANSFORM: {"examples": (p.WIN_PROPENSITY, "scored_examples"), "schema": (p.WIN_PROPENSITY, "scored_schema")},
    p.WIN_PROPENSITY: {"examples": (p.EXAMPLE_GEN, "examples"), "schema": (p.SCHEMA_GEN, "schema"),
                       "validation": (p.GATE, "validation")},
    p.GATE: {"anomalies": (p.EXAMPLE_VALIDATOR, "anomalies"), "schema": (p.SCHEMA_GEN, "schema")},
    p.EXAMPLE_VALIDATOR: {"statistics": (p.STATISTICS_GEN, "statistics"), "schema": (p.SCHEMA_GEN, "schema")},
    p.SCHEMA_GEN: {"statistics": (p.STATISTICS_GEN, "statistics")},
    p.STATISTICS_GEN: {"examples": (p.EXAMPLE_GEN, "examples")},
    p.EXAMPLE_GEN: {},
}


def _by_component(steps):
    return {s.component: s for s in steps}


def _first_run_version(workdir, run_ids):
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(workdir.metadata_path))
    context = store.get_context_by_type_and_name("pipeline_run", run_ids[0])
    pushed = [a for a in store.get_artifacts_by_context(context.id) if a.type == "PushedModel"]
    assert len(pushed) == 1 and pushed[0].custom_properties["pushed"].int_value == 1
    return pushed[0].custom_properties["pushed_version"].string_value


def _check_links(steps):
    by = _by_component(steps)
    for step in steps:
        expected = EDGES[step.component]
        extra = {"model_blessing"} if step.component == p.PUSHER else set()
        assert set(step.inputs) == set(expected) | extra, step.component
        for key, (producer, output_key) in expected.items():
            assert step.inputs[key] == by[producer].outputs[output_key], (step.component, key)
    # Along the list, every step after the Pusher outputs something a step before it reads.
    for i, step in enumerate(steps[1:], start=1):
        read = {uri for before in steps[:i] for uris in before.inputs.values() for uri in uris}
        assert read & {uri for uris in step.outputs.values() for uri in uris}, step.component


def test_latest_push_is_the_cached_second_run(tiny_runs):
    workdir, run_ids = tiny_runs
    steps = lineage(workdir.pipeline_root)
    assert [s.component for s in steps] == CHAIN
    assert {s.run_id for s in steps} == {run_ids[1]}
    # The second run reran the Evaluator and the Pusher; everything the model was made of was cached.
    assert [s.state for s in steps] == ["COMPLETE"] + ["CACHED"] * (len(CHAIN) - 1)
    assert [s.cached for s in steps] == [False] + [True] * (len(CHAIN) - 1)
    assert [s.execution_id for s in steps] == sorted((s.execution_id for s in steps), reverse=True)
    assert all(s.start_time <= s.end_time for s in steps)
    assert steps[0].details["pushed_destination"] == run_summary.pushed_model_path(workdir.metadata_path)
    assert steps[-1].details["input_base"] == workdir.data_dir
    assert steps[-1].inputs == {}
    _check_links(steps)


def test_a_chosen_version_is_the_first_run_which_made_the_cached_artifacts(tiny_runs):
    workdir, run_ids = tiny_runs
    version = _first_run_version(workdir, run_ids)
    first = lineage(workdir.metadata_path, model_version=version)
    assert [s.component for s in first] == CHAIN
    assert {s.run_id for s in first} == {run_ids[0]}
    assert all(s.state == "COMPLETE" and not s.cached for s in first)
    assert first[0].details["pushed_version"] == version
    _check_links(first)
    # The cache hits of the second run point at the very artifacts the first run wrote.
    latest = _by_component(lineage(workdir.base))
    for step in first[1:]:
        assert latest[step.component].outputs == step.outputs, step.component
        assert latest[step.component].execution_id > step.execution_id
    assert latest[p.PUSHER].outputs != first[0].outputs


def test_format_and_the_cli(tiny_runs, capsys):
    workdir, _ = tiny_runs
    steps = lineage(workdir.pipeline_root)
    text = format_lineage(steps)
    assert [line.split()[0] for line in text.splitlines() if not line.startswith(" ")] == CHAIN
    assert f"pushed_destination: {steps[0].details['pushed_destination']}" in text
    parser = argparse.ArgumentParser()
    register_lineage(parser.add_subparsers())
    args = parser.parse_args(["lineage", "--pipeline-root", workdir.pipeline_root, "--json"])
    assert args.func(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [s["component"] for s in printed] == CHAIN and printed[1]["cached"] is True
    args = parser.parse_args(["lineage", "--pipeline-root", workdir.pipeline_root,
                              "--model", steps[0].details["pushed_version"]])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == text


def test_store_resolution(tiny_runs):
    workdir, _ = tiny_runs
    for path in (workdir.base, workdir.pipeline_root, workdir.metadata_path):
        assert metadata_path_of(path) == workdir.metadata_path


def test_bad_input_names_the_fix(tiny_runs, tmp_path):
    workdir, _ = tiny_runs
    with pytest.raises(ValueError, match=r"model_version '42' was not pushed.*pushed versions are \['\d+', '\d+'\]"):
        lineage(workdir.pipeline_root, model_version=42)
    with pytest.raises(ValueError, match="no ML Metadata store.*--pipeline-root of a local run"):
        lineage(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="`steps` must be the list lineage"):
        format_lineage("not steps")
