"""The local server's gRPC API through the official tensorflow-serving-api stubs and TFX's InfraValidator client."""
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from mtl_keras import names
from serving.export import warmup
from serving.export.signatures import raw_feature_spec
from serving_fixtures import keras_predict, sample_rows
from serving import names as serving_names

ROWS = sample_rows(6, seed=21)


@pytest.fixture(scope="module")
def channel(server):
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield ch
    ch.close()


def _request(signature, inputs, version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "ctr"
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_predict_with_the_official_stub_matches_keras(channel, model, spec):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    want = keras_predict(model, ROWS)
    examples = np.asarray(warmup.serialize_examples(ROWS, raw_feature_spec(spec)), dtype=object)
    response = stub.Predict(_request(serving_names.SERVING_DEFAULT, {"examples": examples}), timeout=30)
    assert response.model_spec.name == "ctr" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == serving_names.SERVING_DEFAULT
    raw = stub.Predict(
        _request(serving_names.SIGNATURE_PREDICT_RAW, warmup.columns(ROWS, raw_feature_spec(spec)), version=1), timeout=30
    )
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(tf.make_ndarray(response.outputs[key]), want[key], rtol=1e-6)
        np.testing.assert_allclose(tf.make_ndarray(raw.outputs[key]), want[key], rtol=1e-6)
    filtered = _request(serving_names.SERVING_DEFAULT, {"examples": examples})
    filtered.output_filter.append(names.P_CTR)
    assert list(stub.Predict(filtered, timeout=30).outputs) == [names.P_CTR]


def test_model_status_and_metadata(channel):
    status_stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "ctr"
    response = status_stub.GetModelStatus(request, timeout=30)
    assert [(s.version, s.state, s.status.error_code) for s in response.model_version_status] == [
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)
    ]
    meta_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    meta_request.model_spec.name = "ctr"
    meta = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(meta_request, timeout=30)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    meta.metadata["signature_def"].Unpack(signature_map)
    assert set(signature_map.signature_def) == {serving_names.SERVING_DEFAULT, serving_names.SIGNATURE_PREDICT_RAW}


def test_errors_carry_tf_serving_status_codes_and_serving_goes_on(channel, spec):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    columns = warmup.columns(ROWS, raw_feature_spec(spec))
    cases = [
        (_request(serving_names.SIGNATURE_PREDICT_RAW, {k: v for k, v in columns.items() if k != "price"}),
         grpc.StatusCode.INVALID_ARGUMENT, "lacks input(s) ['price']"),
        (_request(serving_names.SIGNATURE_PREDICT_RAW, {**columns, "user_id": columns["user_id"].astype(np.float32)}),
         grpc.StatusCode.INVALID_ARGUMENT, "must be int64"),
        (_request(serving_names.SIGNATURE_PREDICT_RAW, {**columns, "price": columns["price"][:0]}),
         grpc.StatusCode.INVALID_ARGUMENT, "batch size"),
        (_request("nope", columns), grpc.StatusCode.FAILED_PRECONDITION, 'signature key "nope" not found'),
        (_request(serving_names.SIGNATURE_PREDICT_RAW, columns, version=5), grpc.StatusCode.NOT_FOUND, "Specific(ctr, 5)"),
    ]
    for request, code, message in cases:
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(request, timeout=30)
        assert err.value.code() == code and message in err.value.details(), err.value.details()
    unknown = _request(serving_names.SIGNATURE_PREDICT_RAW, columns)
    unknown.model_spec.name = "other"
    with pytest.raises(grpc.RpcError) as err:
        stub.Predict(unknown, timeout=30)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert len(stub.Predict(_request(serving_names.SIGNATURE_PREDICT_RAW, columns), timeout=30).outputs) == 3


def test_tfx_infra_validator_client(server, spec):
    from tfx.components.infra_validator import error_types
    from tfx.components.infra_validator.model_server_clients.tensorflow_serving_client import (
        TensorFlowServingClient,
    )

    client = TensorFlowServingClient(f"127.0.0.1:{server.grpc_port}", "ctr")
    client.WaitUntilModelLoaded(deadline=time.time() + 30, polling_interval_sec=1)
    examples = np.asarray(warmup.serialize_examples(ROWS, raw_feature_spec(spec)), dtype=object)
    client.SendRequests([_request(serving_names.SERVING_DEFAULT, {"examples": examples})])  # raises on any failure
    with pytest.raises(error_types.ValidationFailed):
        client.SendRequests([_request("nope", {"examples": examples})])
    missing = TensorFlowServingClient(f"127.0.0.1:{server.grpc_port}", "absent")
    with pytest.raises(error_types.DeadlineExceeded):  # an unknown model never becomes ready
        missing.WaitUntilModelLoaded(deadline=time.time() + 0.5, polling_interval_sec=1)
