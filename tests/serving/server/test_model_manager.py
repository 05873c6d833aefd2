"""Version polling: new versions load while requests flow, none is dropped; policies; broken versions."""
import os
import shutil
import threading
import time

import numpy as np
import pytest

from mtl_keras import names
from serving.errors import ServingError
from serving.export.exporter import export_serving_model
from serving.client.grpc_client import GrpcClient
from serving.server.local_server import LocalModelServer
from serving.export.model_config import ModelEntry
from serving.server.model_manager import ModelManager
from serving.client.rest_client import RestClient
from serving_fixtures import build_small_model, keras_predict, sample_rows
from serving import names as serving_names

ROWS = sample_rows(4, seed=5)


def _wait(condition, timeout_s=60.0):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_switch_to_a_new_version_drops_no_request(tmp_path, exported, model, spec):
    base = str(tmp_path / "ctr")
    shutil.copytree(exported[1], os.path.join(base, "1"))
    model_b = build_small_model(spec, seed=7)
    want = {1: keras_predict(model, ROWS), 2: keras_predict(model_b, ROWS)}
    assert not np.allclose(want[1][names.P_CTR], want[2][names.P_CTR])
    errors, seen = [], {"rest": [], "grpc": []}
    stop = threading.Event()

    def loop(kind, port):
        client = RestClient("127.0.0.1", port, "ctr") if kind == "rest" else GrpcClient(f"127.0.0.1:{port}", "ctr")
        deadline = time.time() + 120  # bounded even if the switch never happens
        while not stop.is_set() and time.time() < deadline:
            try:
                got = client.predict(ROWS, serving_names.SIGNATURE_PREDICT_RAW)
            except Exception as err:  # any failure during the switch is what this test looks for
                errors.append(repr(err))
                continue
            matches = [v for v in (1, 2) if np.allclose(got[names.P_CTR], want[v][names.P_CTR], rtol=1e-6)]
            seen[kind].append(matches[0] if len(matches) == 1 else None)
        client.close()

    with LocalModelServer([ModelEntry("ctr", base)], rest_port=0, grpc_port=0, poll_interval_s=0.1) as server:
        threads = [
            threading.Thread(target=loop, args=(kind, port))
            for kind, port in [("rest", server.rest_port), ("rest", server.rest_port), ("grpc", server.grpc_port)]
        ]
        for t in threads:
            t.start()
        _wait(lambda: len(seen["rest"]) >= 5 and len(seen["grpc"]) >= 3)
        export_serving_model(model_b, spec, base, version=2)
        manager = server.managers["ctr"]
        _wait(lambda: [s[:2] for s in manager.status()] == [(2, "AVAILABLE"), (1, "END")])
        count = len(seen["rest"]) + len(seen["grpc"])
        _wait(lambda: len(seen["rest"]) + len(seen["grpc"]) >= count + 10)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    for kind in ("rest", "grpc"):
        versions = seen[kind]
        assert None not in versions  # every answer is exactly one version's numbers
        assert versions[0] == 1 and versions[-1] == 2
    # With one gRPC thread, answers switch from 1 to 2 once and never go back.
    first_two = seen["grpc"].index(2)
    assert set(seen["grpc"][first_two:]) == {2}


def test_policies_labels_and_a_broken_version(tmp_path, exported):
    base = str(tmp_path / "ctr")
    for version in (1, 2):
        shutil.copytree(exported[1], os.path.join(base, str(version)))
    specific = ModelManager("ctr", base, policy="specific", versions=[1], labels={"stable": 1}).start()
    all_versions = ModelManager("ctr", base, policy="all").start()
    try:
        assert [s[:2] for s in specific.status()] == [(1, "AVAILABLE")]
        assert [s[:2] for s in all_versions.status()] == [(2, "AVAILABLE"), (1, "AVAILABLE")]
        servable = all_versions.acquire()
        assert servable.version == 2  # latest when none is asked for
        servable.release()
        assert specific.acquire(label="stable").release() is None
        with pytest.raises(ServingError, match="Unknown version label 'canary'") as err:
            specific.acquire(label="canary")
        assert err.value.http_status == 404
        # A pushed version whose saved_model.pb is garbage is reported; the serving one stays.
        latest = ModelManager("ctr", base, max_num_load_retries=0).start()
        try:
            os.makedirs(os.path.join(base, "3"))
            with open(os.path.join(base, "3", "saved_model.pb"), "wb") as f:
                f.write(b"not a SavedModel")
            latest.poll_once()
            states = {v: (state, code) for v, state, code, _ in latest.status()}
            assert states == {3: ("END", "UNKNOWN"), 2: ("AVAILABLE", "OK")}
            assert "Loading failed" in latest.status(3)[0][3]
            servable = latest.acquire()
            assert servable.version == 2
            servable.release()
        finally:
            latest.stop()
    finally:
        specific.stop()
        all_versions.stop()


def test_manager_arguments_are_checked():
    with pytest.raises(ValueError, match="policy must be one of"):
        ModelManager("m", "/tmp", policy="newest")
    with pytest.raises(ValueError, match="needs at least one version"):
        ModelManager("m", "/tmp", policy="specific")
    with pytest.raises(ValueError, match="model name"):
        ModelManager("a/b", "/tmp")
