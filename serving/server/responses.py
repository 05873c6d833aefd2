"""Builders of TF Serving's status and metadata response protos, shared by REST and gRPC."""
from __future__ import annotations

from typing import Optional

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

from serving.server.model_manager import ModelManager
from serving.server.servable import Servable

# tensorflow/core/protobuf/error_codes.proto numbers of the codes the manager records.
_ERROR_CODES = {"OK": 0, "UNKNOWN": 2, "NOT_FOUND": 5}


def model_status(manager: ModelManager, version: Optional[int] = None) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    state_enum = get_model_status_pb2.ModelVersionStatus.State
    for v, state, code, message in manager.status(version):
        status = response.model_version_status.add(version=v, state=state_enum.Value(state))
        status.status.error_code = _ERROR_CODES[code]
        status.status.error_message = message
    return response


def model_metadata(servable: Servable) -> get_model_metadata_pb2.GetModelMetadataResponse:
    response = get_model_metadata_pb2.GetModelMetadataResponse(
        model_spec=model_pb2.ModelSpec(name=servable.name)
    )
    response.model_spec.version.value = servable.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, sig in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(sig)
    response.metadata["signature_def"].Pack(signature_map)
    return response


def status_json(response: get_model_status_pb2.GetModelStatusResponse) -> dict:
    return json_format.MessageToDict(response, preserving_proto_field_name=True, including_default_value_fields=True)


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
    """The REST form: the SignatureDefMap inline under metadata.signature_def, as TF Serving writes it."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    return {
        "model_spec": {
            "name": response.model_spec.name,
            "signature_name": "",
            "version": str(response.model_spec.version.value),
        },
        "metadata": {"signature_def": json_format.MessageToDict(signature_map, preserving_proto_field_name=True)},
    }
