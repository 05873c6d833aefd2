"""Versions heal as in TF Serving, while clients keep sending requests and none fails: a version whose load
failed (copied while incomplete) is retried and served once complete; a deleted newest version is unloaded
and serving falls back to the newest remaining one; retries are bounded."""
import os
import pathlib
import shutil
import time

import pytest

from mtl_keras import names
from serving.export.exporter import export_serving_model
from serving.export.model_config import ModelEntry
from serving.server.local_server import LocalModelServer
from serving.server.model_manager import ModelManager
from request_loop import RequestLoop
from serving_fixtures import build_small_model, keras_predict, sample_rows

ROWS = sample_rows(4, seed=9)


@pytest.fixture(scope="module")
def version_b(tmp_path_factory, spec):
    """(model, path) of a second model's export, with other weights than the session's `model`."""
    model_b = build_small_model(spec, seed=7)
    base = tmp_path_factory.mktemp("b") / "ctr"
    return model_b, export_serving_model(model_b, spec, str(base), version=2, warmup_examples=sample_rows(3))


def _wait(condition, what: str, timeout_s: float = 90.0):
    deadline = time.time() + timeout_s
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _states(manager):
    return {v: (state, message) for v, state, _, message in manager.status()}


def _served_by_all(loop: RequestLoop, version: int) -> bool:
    return loop.last("rest") == version and loop.last("grpc") == version


def _check(loop: RequestLoop, first: int, last: int):
    assert loop.errors == []
    for kind in ("rest", "grpc"):
        assert None not in loop.seen[kind]  # every answer is exactly one version's numbers
        assert loop.seen[kind][0] == first and loop.seen[kind][-1] == last


def test_a_version_copied_incomplete_is_retried_and_served_once_complete(tmp_path, exported, model, version_b):
    model_b, path_b = version_b
    base = tmp_path / "ctr"
    shutil.copytree(exported[1], base / "1")
    want = {1: keras_predict(model, ROWS)[names.P_CTR], 2: keras_predict(model_b, ROWS)[names.P_CTR]}
    server = LocalModelServer([ModelEntry("ctr", str(base))], rest_port=0, grpc_port=0, poll_interval_s=0.1,
                              max_num_load_retries=20, load_retry_interval_s=0.05)
    with server, RequestLoop(server, ROWS, want) as loop:
        loop.wait_for_more(3)
        # A copy under way: saved_model.pb is in place, the variables' data only half written.
        (data,) = pathlib.Path(path_b, "variables").glob("variables.data-*")
        shutil.copytree(path_b, base / "2", ignore=shutil.ignore_patterns(data.name))
        (base / "2" / "variables" / data.name).write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        manager = server.managers["ctr"]
        _wait(lambda: "attempt 2 of 21" in _states(manager).get(2, ("", ""))[1], "a retried load of version 2")
        assert _states(manager)[2][0] == "LOADING" and _states(manager)[1][0] == "AVAILABLE"
        loop.wait_for_more(3)  # version 1 goes on serving meanwhile
        assert _served_by_all(loop, 1)
        shutil.copyfile(data, base / "2" / "variables" / data.name)  # the copy completes
        _wait(lambda: _served_by_all(loop, 2), "version 2 to serve, without a restart")
        _wait(lambda: {v: s[0] for v, s in _states(manager).items()} == {2: "AVAILABLE", 1: "END"}, "1 unloaded")
        loop.wait_for_more(3)
    _check(loop, first=1, last=2)


def test_deleting_the_newest_version_falls_back_to_the_newest_remaining(tmp_path, exported, model, version_b):
    model_b, path_b = version_b
    base = tmp_path / "ctr"
    shutil.copytree(exported[1], base / "1")
    shutil.copytree(path_b, base / "2")
    want = {1: keras_predict(model, ROWS)[names.P_CTR], 2: keras_predict(model_b, ROWS)[names.P_CTR]}
    server = LocalModelServer([ModelEntry("ctr", str(base))], rest_port=0, grpc_port=0, poll_interval_s=0.1)
    with server, RequestLoop(server, ROWS, want) as loop:
        loop.wait_for_more(3)
        manager = server.managers["ctr"]
        assert {v: s[0] for v, s in _states(manager).items()} == {2: "AVAILABLE"}
        shutil.rmtree(base / "2")
        _wait(lambda: _served_by_all(loop, 1), "version 1 to serve again")
        _wait(lambda: {v: s[0] for v, s in _states(manager).items()} == {2: "END", 1: "AVAILABLE"}, "2 unloaded")
        loop.wait_for_more(3)
    _check(loop, first=2, last=1)


def test_load_retries_are_bounded_and_start_afresh_for_a_new_copy(tmp_path, exported):
    base = tmp_path / "ctr"
    shutil.copytree(exported[1], base / "1")
    manager = ModelManager("ctr", str(base), max_num_load_retries=2, load_retry_interval_s=0.01).start()
    try:
        os.makedirs(base / "2")
        (base / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
        messages = []
        for _ in range(40):  # far more polls than retries
            manager.poll_once()
            messages.append(manager.status(2)[0][3])
            time.sleep(0.02)
        assert any("attempt 1 of 3" in m for m in messages) and any("attempt 2 of 3" in m for m in messages)
        assert manager.status(2)[0][:3] == (2, "END", "UNKNOWN")
        assert messages[-1].startswith("Loading failed: ") and len(set(messages)) == 3  # no 4th attempt
        servable = manager.acquire()
        assert servable.version == 1  # the serving version stays
        servable.release()
        shutil.rmtree(base / "2")  # a version that leaves the disk and comes back is tried afresh
        manager.poll_once()
        shutil.copytree(exported[1], base / "2")
        manager.poll_once()
        assert manager.status(2)[0][:2] == (2, "AVAILABLE")
    finally:
        manager.stop()
