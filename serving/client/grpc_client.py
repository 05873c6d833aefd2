"""GrpcClient: TF Serving's gRPC PredictionService/ModelService from Python."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.errors import ServingError
from serving.client.rest_client import Inputs, to_columns
from serving.tensor_proto import from_tensor_proto, to_tensor_proto


class GrpcClient:
    """Calls one model on a TF Serving gRPC endpoint (`target` is "host:port").

    Inputs are cast to the signature's dtypes (read once from GetModelMetadata), because TF
    Serving rejects a TensorProto whose dtype differs from the signature's.
    """

    def __init__(self, target: str, model_name: str, timeout_s: float = 30.0):
        if not model_name:
            raise ValueError("model_name is empty.")
        if ":" not in target:
            raise ValueError(f"target must be 'host:port', got {target!r}.")
        self.model_name, self.timeout_s = model_name, timeout_s
        self._channel = grpc.insecure_channel(target)
        self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)
        self._dtypes: Dict[str, Dict[str, tf.DType]] = {}

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout_s)
        except grpc.RpcError as err:
            raise ServingError(_code_name(err.code()), err.details() or str(err)) from None

    def metadata(self, version: Optional[int] = None) -> get_model_metadata_pb2.GetModelMetadataResponse:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = self.model_name
        if version is not None:
            request.model_spec.version.value = version
        return self._call(self._predict.GetModelMetadata, request)

    def signature_defs(self) -> Dict[str, Any]:
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        self.metadata().metadata["signature_def"].Unpack(signature_map)
        return dict(signature_map.signature_def)

    def _input_dtypes(self, signature_name: str) -> Dict[str, tf.DType]:
        if signature_name not in self._dtypes:
            for key, sig in self.signature_defs().items():
                self._dtypes[key] = {k: tf.dtypes.as_dtype(v.dtype) for k, v in sig.inputs.items()}
        # An unknown signature is left for the server to reject with its own message.
        return self._dtypes.get(signature_name, {})

    def predict_request(self, inputs: Inputs, signature_name: str = "serving_default") -> predict_pb2.PredictRequest:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = signature_name
        dtypes = self._input_dtypes(signature_name)
        for key, values in to_columns(inputs).items():
            dtype = dtypes.get(key)
            if dtype == tf.string:
                values = [v.encode() if isinstance(v, str) else v for v in values]
                request.inputs[key].CopyFrom(tf.make_tensor_proto(values, dtype=dtype))
            else:
                array = np.asarray(values, dtype=dtype.as_numpy_dtype if dtype is not None else None)
                request.inputs[key].CopyFrom(to_tensor_proto(array))
        return request

    def predict(
        self,
        inputs: Inputs,
        signature_name: str = "serving_default",
        version: Optional[int] = None,
        label: Optional[str] = None,
    ) -> Dict[str, np.ndarray]:
        request = self.predict_request(inputs, signature_name)
        if version is not None:
            request.model_spec.version.value = version
        elif label is not None:
            request.model_spec.version_label = label
        response = self._call(self._predict.Predict, request)
        return {k: from_tensor_proto(v) for k, v in response.outputs.items()}

    def predict_examples(self, examples: Sequence[bytes], version: Optional[int] = None) -> Dict[str, np.ndarray]:
        return self.predict({"examples": list(examples)}, "serving_default", version=version)

    def status(self, version: Optional[int] = None) -> get_model_status_pb2.GetModelStatusResponse:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.model_name
        if version is not None:
            request.model_spec.version.value = version
        return self._call(self._models.GetModelStatus, request)

    def close(self) -> None:
        self._channel.close()


def _code_name(code: Any) -> str:
    from serving.errors import HTTP_STATUS

    name = getattr(code, "name", "INTERNAL")
    return name if name in HTTP_STATUS else "INTERNAL"
