"""One parse of a REST body, one check of a request's tensors (servable.check_inputs), for REST and gRPC alike."""
import http.client
import json
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving import names as serving_names
from serving.errors import ServingError
from serving.server import servable as servable_module
from serving.server.servable import check_inputs
from serving_fixtures import sample_rows

RAW = serving_names.SIGNATURE_PREDICT_RAW
DTYPES = {"user_id": tf.int64, "price": tf.float32, "examples": tf.string}
ROWS = sample_rows(3, seed=5)


def _good(**overrides):
    return {"user_id": np.array([1, 2]), "price": np.array([0.5, 1.5]), "examples": np.array([b"a", b"b"], object),
            **overrides}


def test_check_inputs_casts_within_a_kind():
    feeds = check_inputs("sig", {**DTYPES, "small": tf.int32}, _good(small=np.array([3, 4])), max_batch_size=2)
    assert feeds["user_id"].dtype == np.int64 and feeds["small"].dtype == np.int32
    assert feeds["price"].dtype == np.float32 and feeds["price"].tolist() == [0.5, 1.5]
    assert feeds["examples"].tolist() == [b"a", b"b"]


@pytest.mark.parametrize("inputs,message", [
    ({k: v for k, v in _good().items() if k != "price"},
     "'inputs' lacks input(s) ['price']; signature 'sig' takes ['examples', 'price', 'user_id']."),
    (_good(bid=np.array([1.0, 2.0])), "'inputs' has unknown input(s) ['bid']; signature 'sig' takes"),
    ({"user_id": np.array([1]), "bid": np.array([1.0])},
     "lacks input(s) ['examples', 'price'] and has unknown input(s) ['bid']"),
    (_good(user_id=np.array([1.0, 2.0], np.float32)), "Input 'user_id' must be int64, got float32."),
    (_good(price=np.array([True, False])), "Input 'price' must be float32, got bool."),
    (_good(price=np.array(["1", "2"])), "Input 'price' must be float32, got str"),
    (_good(examples=np.array([1, 2])), "Input 'examples' must be string (DT_STRING), got int64."),
    (_good(user_id=np.array(7)), "Input 'user_id' must have a batch dimension, got a scalar"),
    (_good(price=np.array([0.5])), "Input 'price' has batch size 1 but other inputs have 2; make them equal."),
    ({k: v[:0] for k, v in _good().items()}, "'inputs' is empty (batch size 0); send a non-empty list"),
    (_good(**{k: np.concatenate([v] * 2) for k, v in _good().items()}),
     "Batch size 4 is over this server's maximum of 2; split the request."),
])
def test_check_inputs_names_the_input_and_the_fix(inputs, message):
    with pytest.raises(ServingError) as err:
        check_inputs("sig", DTYPES, inputs, max_batch_size=2)
    assert err.value.code == "INVALID_ARGUMENT" and message in err.value.message, err.value.message


def test_check_inputs_refuses_an_integer_cast_that_would_wrap():
    with pytest.raises(ServingError, match=r"Input 'small' has values outside int32's range"):
        check_inputs("sig", {"small": tf.int32}, {"small": np.array([2 ** 40])}, max_batch_size=2)


def test_the_field_holding_the_inputs_is_named():
    with pytest.raises(ServingError, match=r"^'instances' is empty"):
        check_inputs("sig", DTYPES, {k: v[:0] for k, v in _good().items()}, max_batch_size=2, field="instances")


# ---- through the real servers ----

def _post(server, body: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=30)
    conn.request("POST", "/v1/models/ctr:predict", body=body)
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


@pytest.fixture(scope="module")
def stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def _grpc_predict(stub, inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "ctr"
    request.model_spec.signature_name = RAW
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return stub.Predict(request, timeout=30)


@pytest.fixture
def check_spy(monkeypatch):
    """Records each servable.check_inputs call: the error it raised, or None."""
    calls = []

    def spy(*args, **kwargs):
        try:
            result = check_inputs(*args, **kwargs)
        except ServingError as err:
            calls.append(err)
            raise
        calls.append(None)
        return result

    monkeypatch.setattr(servable_module, "check_inputs", spy)
    return calls


@pytest.mark.parametrize("body,status", [
    ({"signature_name": RAW, "instances": ROWS}, 200),
    ({"signature_name": RAW, "inputs": {k: [r[k] for r in ROWS] for k in ROWS[0]}}, 200),
    ({"signature_name": RAW, "instances": [{"user_id": 1, "ad_id": 2}]}, 400),
])
def test_a_rest_body_is_parsed_once(server, monkeypatch, body, status):
    real_loads, handler_calls = json.loads, []

    def loads(payload, *args, **kwargs):
        if threading.current_thread() is not threading.main_thread():  # not the test's own parse of the reply
            handler_calls.append(payload)
        return real_loads(payload, *args, **kwargs)

    monkeypatch.setattr(json, "loads", loads)
    encoded = json.dumps(body).encode()
    got, data = _post(server, encoded)
    assert got == status, data
    assert handler_calls == [encoded]


def _rows(rows):
    return json.dumps({"signature_name": RAW, "instances": rows}).encode()


def test_inputs_are_checked_once_per_request_over_rest_and_grpc(server, stub, check_spy):
    assert _post(server, _rows(ROWS))[0] == 200
    assert check_spy == [None]
    _grpc_predict(stub, {k: np.array([r[k] for r in ROWS]) for k in ROWS[0]})
    assert check_spy == [None, None]
    # A tensor-level fault passes the codec and is reported by the one check, with its message.
    status, data = _post(server, _rows([{"user_id": 1, "ad_id": 2}]))
    assert status == 400 and len(check_spy) == 3 and data["error"] == check_spy[2].message
    # A JSON-level fault stops at the codec: the tensors are never checked.
    assert _post(server, _rows([{**ROWS[0], "price": "x"}]))[0] == 400
    assert len(check_spy) == 3


def _one(n=1, **overrides):
    return {"user_id": [1] * n, "ad_id": [2] * n, "price": [1.5] * n, **overrides}


SAME_FAULTS = [  # (what, the columns of one request, the message both APIs give)
    ("missing", {"user_id": [1], "ad_id": [2]}, "'inputs' lacks input(s) ['price']"),
    ("unknown", _one(bid=[0.5]), "'inputs' has unknown input(s) ['bid']"),
    ("scalar", _one(ad_id=2), "Input 'ad_id' must have a batch dimension"),
    ("unequal batch", _one(price=[1.5, 2.5]), "Input 'price' has batch size 2 but other inputs have 1"),
    ("empty", _one(0), "'inputs' is empty"),
    ("over the maximum", _one(65), "Batch size 65 is over this server's maximum of 64"),
]


@pytest.mark.parametrize("what,columns,message", SAME_FAULTS, ids=[f[0] for f in SAME_FAULTS])
def test_tensor_level_faults_read_the_same_over_rest_and_grpc(server, stub, what, columns, message):
    status, data = _post(server, json.dumps({"signature_name": RAW, "inputs": columns}).encode())
    assert status == 400 and message in data["error"], data
    arrays = {k: np.asarray(v, np.float32 if k in ("price", "bid") else np.int64) for k, v in columns.items()}
    with pytest.raises(grpc.RpcError) as err:
        _grpc_predict(stub, arrays)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == data["error"]
