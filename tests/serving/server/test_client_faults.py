"""Client faults are 400 / INVALID_ARGUMENT naming the input, over REST and gRPC, never a 500 or a 200
with NaN; and arguments the server cannot run with are errors at startup."""
import base64
import http.client
import json

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from mtl_keras.cli import main
from serving.export.model_config import ModelEntry
from serving.server.local_server import LocalModelServer
from serving.server.model_manager import ModelManager

RAW = "predict_raw"
COLUMNS = '"user_id": [1, 2], "ad_id": [3, 4]'


def _post(server, body: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=30)
    conn.request("POST", "/v1/models/ctr:predict", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


@pytest.fixture(scope="module")
def stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def _grpc(stub, inputs, signature=RAW):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "ctr"
    request.model_spec.signature_name = signature
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    with pytest.raises(grpc.RpcError) as err:
        stub.Predict(request, timeout=30)
    return err.value


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "1e39"]  # 1e39 is finite in float64, not in float32


@pytest.mark.parametrize("value", NON_FINITE)
def test_a_non_finite_float_is_a_400_naming_the_input(server, value):
    columnar = f'{{"signature_name": "{RAW}", "inputs": {{{COLUMNS}, "price": [1.5, {value}]}}}}'
    rows = f'{{"signature_name": "{RAW}", "instances": [{{"user_id": 1, "ad_id": 2, "price": {value}}}]}}'
    for body in (columnar, rows):
        status, data = _post(server, body.encode())
        assert status == 400, data
        assert "Input 'price'" in data["error"] and "not a finite float32" in data["error"], data


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_float_over_grpc_is_invalid_argument_naming_the_input(stub, value):
    err = _grpc(stub, {"user_id": np.array([1, 2]), "ad_id": np.array([3, 4]),
                       "price": np.array([1.5, value], np.float32)})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Input 'price'" in err.details() and "not a finite float32" in err.details()


def test_a_list_where_a_scalar_is_expected_is_a_400(server):
    body = {"signature_name": RAW, "instances": [{"user_id": [1, 2], "ad_id": 2, "price": 1.0}]}
    status, data = _post(server, json.dumps(body).encode())
    assert status == 400
    assert data["error"] == (
        "Input 'user_id' must have shape [batch], got [1, 2]; send one value per example, not a list.")


def test_a_two_dimensional_grpc_tensor_is_invalid_argument(stub):
    err = _grpc(stub, {"user_id": np.array([[1, 2]]), "ad_id": np.array([3]), "price": np.array([1.5], np.float32)})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Input 'user_id' must have shape [batch], got [1, 2]" in err.details()


def test_bytes_that_are_not_a_tf_example_are_a_400(server, stub):
    garbage = base64.b64encode(b"these bytes are not a tf.Example").decode()
    status, data = _post(server, json.dumps({"instances": [{"b64": garbage}]}).encode())
    assert status == 400 and "Could not parse example input" in data["error"], data
    err = _grpc(stub, {"examples": np.array([b"not an Example"], dtype=object)}, signature="serving_default")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "Could not parse example input" in err.details()


@pytest.mark.parametrize("size", [0, -1])
def test_a_max_batch_size_below_one_is_an_error_at_startup(exported, capsys, size):
    base, _ = exported
    assert main(["serve", "--model-base-path", base, "--rest-port", "0", "--grpc-port", "0",
                 "--max-batch-size", str(size)]) == 2
    assert f"--max-batch-size must be >= 1, got {size}." in capsys.readouterr().err
    with pytest.raises(ValueError, match=f"max_batch_size must be >= 1, got {size}"):
        LocalModelServer([ModelEntry("ctr", base)], rest_port=0, grpc_port=0, max_batch_size=size)


@pytest.mark.parametrize("args,message", [
    (["--max-num-load-retries", "-1"], "--max-num-load-retries must be >= 0"),
    (["--load-retry-interval-s", "0"], "--load-retry-interval-s must be > 0"),
    (["--rest-read-timeout-s", "0"], "--rest-read-timeout-s must be > 0"),
    (["--rest-max-body-bytes", "0"], "--rest-max-body-bytes must be >= 1"),
    (["--rest-workers", "0"], "--rest-workers must be >= 1"),
    (["--grace-s", "-1"], "--grace-s must be >= 0"),
])
def test_other_serve_limits_are_checked_at_startup(exported, capsys, args, message):
    assert main(["serve", "--model-base-path", exported[0], *args]) == 2
    assert message in capsys.readouterr().err


def test_manager_load_retry_arguments_are_checked():
    with pytest.raises(ValueError, match="max_num_load_retries must be >= 0"):
        ModelManager("m", "/tmp", max_num_load_retries=-1)
    with pytest.raises(ValueError, match="load_retry_interval_s must be > 0"):
        ModelManager("m", "/tmp", load_retry_interval_s=0)
