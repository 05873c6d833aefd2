"""The export, models.config and our clients against the real `tensorflow_model_server`.

Runs only where the binary is on PATH (it is not installable on this machine: no apt package, no
Docker engine); see README "Serving" for the Docker command used in production.
"""
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from mtl_keras import names
from serving.errors import ServingError
from serving.client.grpc_client import GrpcClient
from serving.export.model_config import ModelEntry, write_models_config
from serving.client.rest_client import RestClient
from serving_fixtures import keras_predict, sample_rows
from serving import names as serving_names

BINARY = shutil.which("tensorflow_model_server")
pytestmark = pytest.mark.skipif(BINARY is None, reason="tensorflow_model_server is not on PATH")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_tensorflow_model_server_gives_the_keras_numbers(exported, model, tmp_path):
    base, _ = exported
    config = write_models_config(str(tmp_path / "models.config"), [ModelEntry("ctr", base, labels={"stable": 1})])
    grpc_port, rest_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [BINARY, f"--port={grpc_port}", f"--rest_api_port={rest_port}", f"--model_config_file={config}",
         "--allow_version_labels_for_unavailable_models=true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        rest = RestClient("127.0.0.1", rest_port, "ctr")
        deadline = time.time() + 120
        while True:
            try:
                if rest.status()["model_version_status"][0]["state"] == "AVAILABLE":
                    break
            except (ServingError, OSError):
                pass
            assert time.time() < deadline and proc.poll() is None, "tensorflow_model_server did not come up"
            time.sleep(0.5)
        rows = sample_rows(5, seed=40)
        want = keras_predict(model, rows)
        grpc_client = GrpcClient(f"127.0.0.1:{grpc_port}", "ctr")
        got = {
            "rest": rest.predict(rows, serving_names.SIGNATURE_PREDICT_RAW, row_format=True),
            "grpc": grpc_client.predict(rows, serving_names.SIGNATURE_PREDICT_RAW),
            "label": rest.predict(rows, serving_names.SIGNATURE_PREDICT_RAW, label="stable"),
        }
        for outputs in got.values():
            for key in names.PREDICTION_KEYS:
                np.testing.assert_allclose(outputs[key], want[key], rtol=1e-6)
        with pytest.raises(ServingError) as err:
            rest.predict([{"user_id": 1, "ad_id": 2}], serving_names.SIGNATURE_PREDICT_RAW, row_format=True)
        assert err.value.http_status == 400
        grpc_client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
