"""`mtl-ads pipeline run`: bad arguments fail before TFX (or TensorFlow) is imported, --require-blessed
turns an unblessed run into a failure, and executions a killed run left RUNNING in a real SQLite ML
Metadata store are marked FAILED."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from mtl_keras.cli import build_parser, main
from tfx_pipeline import run_checks, stale_runs

# Runs each case through the real CLI in a fresh interpreter and reports the exit status, the
# message and whether TFX or TensorFlow got imported.
PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from mtl_keras.cli import main

    results = {}
    for name, argv in json.loads(sys.argv[1]).items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            results[name] = [main(argv), err.getvalue()]
    print(json.dumps({"results": results, "imported": [m for m in ("tfx", "tensorflow") if m in sys.modules]}))
""")


@pytest.fixture
def layout(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "requests-00000.tfrecord").write_bytes(b"x")
    (data / "feature_spec.json").write_text("{}")
    (tmp_path / "file.txt").write_text("x")
    return tmp_path


def _argv(layout, **override):
    args = {"--data": str(layout / "data"), "--pipeline-root": str(layout / "root"),
            "--serving-dir": str(layout / "serving"), **override}
    return ["pipeline", "run"] + [x for flag, value in args.items() for x in (flag, value)]


CASES = {
    "data_missing": ({"--data": "{t}/nope"}, "--data '{t}/nope' does not exist"),
    "data_is_a_file": ({"--data": "{t}/file.txt"}, "--data '{t}/file.txt' is not a directory"),
    "data_without_matching_files": ({"--pattern": "*.tfrecord.gz"},
                                    "has no files matching '*.tfrecord.gz' (--format tfrecord)"),
    "pipeline_root_under_a_file": ({"--pipeline-root": "{t}/file.txt/root"},
                                   "--pipeline-root '{t}/file.txt/root' is not writable: '{t}/file.txt' is a file"),
    "serving_dir_under_a_file": ({"--serving-dir": "{t}/file.txt/s"}, "--serving-dir '{t}/file.txt/s' is not writable"),
    "metadata_is_a_directory": ({"--metadata": "{t}/data"}, "--metadata '{t}/data' is a directory"),
    "model_config_missing": ({"--model-config": "{t}/nope.json"}, "--model-config '{t}/nope.json' does not exist"),
    "min_auc_out_of_range": ({"--min-auc": "2"}, "--min-auc must be in [0, 1], got 2.0"),
    "beam_workers_zero": ({"--beam-workers": "0"}, "--beam-workers must be >= 1, got 0"),
}


def test_bad_arguments_fail_before_tfx_and_tensorflow_are_imported(layout):
    t = str(layout)
    argvs = {name: _argv(layout, **{k: v.format(t=t) for k, v in override.items()})
             for name, (override, _) in CASES.items()}
    probe = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argvs)], capture_output=True, text=True,
                           timeout=300)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    for name, (_, message) in CASES.items():
        code, err = report["results"][name]
        assert code == 2 and message.format(t=t) in err, (name, err)
    assert report["imported"] == []


def test_a_pipeline_root_without_write_permission_fails_up_front(capsys):
    base = pathlib.Path(tempfile.mkdtemp(prefix="pipeline-checks-"))  # world-readable, unlike tmp_path
    try:
        os.chmod(base, 0o755)
        (base / "data").mkdir(mode=0o755)
        (base / "data" / "requests-00000.tfrecord").write_bytes(b"x")
        (base / "data" / "feature_spec.json").write_text("{}")
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        code = _as_unprivileged_user(lambda: main(_argv(base, **{"--pipeline-root": str(locked / "root")})))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert code == 2
    assert f"--pipeline-root '{locked / 'root'}' is not writable (Permission denied)" in capsys.readouterr().err


def _as_unprivileged_user(call):
    """call() as the user nobody when this process is root (root may write anywhere), else as is."""
    if os.geteuid() != 0:
        return call()
    try:
        os.seteuid(65534)
    except PermissionError:
        pytest.skip("running as root without the right to drop privileges")
    try:
        return call()
    finally:
        os.seteuid(0)


def test_require_blessed_fails_an_unblessed_run():
    args = build_parser("pipeline").parse_args(["pipeline", "run", "--data", "d", "--pipeline-root", "r",
                                                "--serving-dir", "s", "--require-blessed"])
    assert args.require_blessed
    assert run_checks.blessing_failure(True, 0.5) is None
    assert "did not bless the model" in run_checks.blessing_failure(False, 0.5)
    assert "--min-auc 0.5" in run_checks.blessing_failure(False, 0.5)
    assert "did not run to the end" in run_checks.blessing_failure(None, 0.5)


def _execution(pb, store, type_id, state, contexts, output_type_id=None):
    execution = pb.Execution(type_id=type_id, last_known_state=state)
    events = []
    if output_type_id is not None:
        artifact = pb.Artifact(type_id=output_type_id, uri="/tmp/model", state=pb.Artifact.PENDING)
        events = [(artifact, pb.Event(type=pb.Event.OUTPUT))]
    execution_id, artifact_ids, _ = store.put_execution(execution, events, contexts)
    return execution_id, artifact_ids


def test_running_executions_of_a_killed_run_are_marked_failed_in_a_real_store(tmp_path):
    from ml_metadata.proto import metadata_store_pb2 as pb

    path = str(tmp_path / "metadata.sqlite")
    assert stale_runs.mark_stale_executions(path, "mtl-ads") == []  # no store yet
    store = stale_runs.store_for(path)
    types = {name: store.put_context_type(pb.ContextType(name=name)) for name in ("pipeline", "pipeline_run", "node")}
    trainer = store.put_execution_type(pb.ExecutionType(name="tfx.components.trainer.component.Trainer"))
    model = store.put_artifact_type(pb.ArtifactType(name="Model"))
    ids = store.put_contexts([pb.Context(type_id=types["pipeline"], name="mtl-ads"),
                              pb.Context(type_id=types["pipeline_run"], name="run-1"),
                              pb.Context(type_id=types["node"], name="mtl-ads.Trainer"),
                              pb.Context(type_id=types["pipeline"], name="other")])
    ours, run, node, other = store.get_contexts_by_id(ids)
    killed, (pending,) = _execution(pb, store, trainer, pb.Execution.RUNNING, [ours, run, node], model)
    done, _ = _execution(pb, store, trainer, pb.Execution.COMPLETE, [ours, run, node])
    elsewhere, _ = _execution(pb, store, trainer, pb.Execution.RUNNING, [other])

    marked = stale_runs.mark_stale_executions(path, "mtl-ads")
    assert marked == [stale_runs.StaleExecution(killed, "Trainer", "run-1", 1)]
    assert marked[0].describe() == f"Trainer (execution {killed} of run run-1): RUNNING -> FAILED, " \
                                   "1 pending outputs abandoned"
    store = stale_runs.store_for(path)  # a new connection reads what was written
    states = {e.id: e for e in store.get_executions_by_id([killed, done, elsewhere])}
    assert states[killed].last_known_state == pb.Execution.FAILED
    assert states[killed].custom_properties[stale_runs.NOTE_PROPERTY].string_value == stale_runs.NOTE
    assert states[done].last_known_state == pb.Execution.COMPLETE
    assert states[elsewhere].last_known_state == pb.Execution.RUNNING  # another pipeline's run
    assert store.get_artifacts_by_id([pending])[0].state == pb.Artifact.ABANDONED
    assert stale_runs.mark_stale_executions(path, "mtl-ads") == []  # nothing left to mark
    assert [s.execution_id for s in stale_runs.mark_stale_executions(path)] == [elsewhere]
