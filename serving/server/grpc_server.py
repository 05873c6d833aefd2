"""GrpcServer: PredictionService (Predict, GetModelMetadata) and ModelService (GetModelStatus).

Built on tensorflow-serving-api's own servicer base classes, so the wire contract is TF Serving's.
"""
from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Mapping, Optional, Tuple

import grpc
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.server import responses
from serving.errors import ServingError
from serving.server.model_manager import ModelManager
from serving.tensor_proto import from_tensor_proto, to_tensor_proto

log = logging.getLogger(__name__)
DEFAULT_SIGNATURE = "serving_default"


def _spec(managers: Mapping[str, ModelManager], model_spec) -> Tuple[ModelManager, Optional[int], Optional[str]]:
    manager = managers.get(model_spec.name)
    if manager is None:
        raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({model_spec.name}); unknown model.")
    choice = model_spec.WhichOneof("version_choice")
    version = model_spec.version.value if choice == "version" else None
    label = model_spec.version_label if choice == "version_label" else None
    return manager, version, label


def _abort(context, err: Exception):
    if isinstance(err, ServingError):
        context.abort(err.grpc_code(), err.message)
    log.exception("gRPC request failed")
    context.abort(grpc.StatusCode.INTERNAL, f"Internal error: {err}")


class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, managers: Mapping[str, ModelManager]):
        self._managers = managers

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        try:
            manager, version, label = _spec(self._managers, request.model_spec)
            signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
            try:
                inputs = {k: from_tensor_proto(v) for k, v in request.inputs.items()}
            except (TypeError, ValueError) as err:
                raise ServingError("INVALID_ARGUMENT", f"Cannot decode an input TensorProto: {err}") from None
            servable = manager.acquire(version, label)
            try:
                outputs = servable.predict(signature, inputs, list(request.output_filter))
            finally:
                servable.release()
            response = predict_pb2.PredictResponse()
            response.model_spec.name = manager.name
            response.model_spec.version.value = servable.version
            response.model_spec.signature_name = signature
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(to_tensor_proto(value))
            return response
        except Exception as err:
            _abort(context, err)

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            if list(request.metadata_field) != ["signature_def"]:
                raise ServingError(
                    "INVALID_ARGUMENT", f"metadata_field must be ['signature_def'], got {list(request.metadata_field)}."
                )
            manager, version, label = _spec(self._managers, request.model_spec)
            servable = manager.acquire(version, label)
            try:
                return responses.model_metadata(servable)
            finally:
                servable.release()
        except Exception as err:
            _abort(context, err)


class _ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, managers: Mapping[str, ModelManager]):
        self._managers = managers

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            manager, version, label = _spec(self._managers, request.model_spec)
            if label is not None:
                version = manager.version_for_label(label)
            return responses.model_status(manager, version)
        except Exception as err:
            _abort(context, err)


class GrpcServer:
    """Serves `managers` (model name -> ModelManager) over gRPC on host:port (0 picks a free port).

    The port is bound exclusively (no SO_REUSEPORT): a second server on a busy port is refused, instead
    of silently sharing its traffic. At most `max_workers` requests run at once; more wait in gRPC's queue.
    """

    def __init__(
        self, managers: Mapping[str, ModelManager], host: str = "127.0.0.1", port: int = 8500, max_workers: int = 16
    ):
        if not managers:
            raise ValueError("GrpcServer needs at least one model.")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}.")
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers), options=[("grpc.so_reuseport", 0)]
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_PredictionServicer(managers), self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(_ModelServicer(managers), self._server)
        try:
            self.port = self._server.add_insecure_port(f"{host}:{port}")
        except RuntimeError:  # newer grpcio raises where older ones return 0
            self.port = 0
        if self.port == 0:
            self._server.stop(None)
            raise ValueError(
                f"Cannot bind gRPC to {host}:{port}: the port is in use (another model server?) or the address is "
                "not on this machine; pick a free port (--grpc-port, 0 for any free one) or stop the other server."
            )

    def start(self) -> "GrpcServer":
        self._server.start()
        return self

    def begin_stop(self, grace_s: float = 10.0) -> threading.Event:
        """Refuses new RPCs now; in-flight ones get `grace_s` to finish. The event is set when all are done."""
        return self._server.stop(grace_s)

    def stop(self, grace_s: float = 10.0) -> None:
        self.begin_stop(grace_s).wait()
