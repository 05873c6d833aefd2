"""RestApi: TF Serving's REST routes (predict, status, metadata): a request's bytes in, (status, JSON bytes) out.

No HTTP here: RestServer reads the request within its limits and runs `handle` in a bounded worker pool.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Mapping, Optional, Tuple

from serving.errors import ServingError
from serving.server import json_codec, responses
from serving.server.model_manager import ModelManager

log = logging.getLogger(__name__)

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[a-z]+)|/(?P<metadata>metadata))?/?$"
)
DEFAULT_SIGNATURE = "serving_default"
METHODS = ("GET", "POST")


def error_body(message: str) -> bytes:
    """TF Serving's error form: {"error": "<message>"}."""
    return json.dumps({"error": message}).encode()


def _route(path: str) -> Tuple[str, Optional[int], Optional[str], Optional[str], bool]:
    match = _PATH.match(path.split("?", 1)[0])
    if match is None:
        raise ServingError("NOT_FOUND", f"Malformed request: {path}; expected /v1/models/<name>[/versions/<v>]...")
    version = match["version"]
    if version is not None and not version.isdigit():
        raise ServingError("INVALID_ARGUMENT", f"Version {version!r} in the path is not a non-negative integer.")
    return match["name"], int(version) if version else None, match["label"], match["verb"], bool(match["metadata"])


class RestApi:
    """The REST routes over `managers` (model name -> ModelManager); `handle` never raises."""

    def __init__(self, managers: Mapping[str, ModelManager]):
        if not managers:
            raise ValueError("RestApi needs at least one model.")
        self.managers = dict(managers)

    def handle(self, method: str, path: str, body: bytes) -> Tuple[int, bytes]:
        """(HTTP status, JSON body) of one request; every failure is a JSON {"error": ...}."""
        try:
            return 200, self._dispatch(method, path, body)
        except ServingError as err:
            return err.http_status, error_body(err.message)
        except Exception as err:  # keep serving whatever one request did
            log.exception("Request %s %s failed", method, path)
            return 500, error_body(f"Internal error: {err}")

    def _manager(self, name: str) -> ModelManager:
        manager = self.managers.get(name)
        if manager is None:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name}); unknown model name.")
        return manager

    def _dispatch(self, method: str, path: str, body: bytes) -> bytes:
        name, version, label, verb, metadata = _route(path)
        manager = self._manager(name)
        if method == "GET" and verb is None and not metadata:
            if label is not None:
                version = manager.version_for_label(label)
            return json.dumps(responses.status_json(responses.model_status(manager, version))).encode()
        if method == "GET" and metadata:
            servable = manager.acquire(version, label)
            try:
                return json.dumps(responses.metadata_json(responses.model_metadata(servable))).encode()
            finally:
                servable.release()
        if method == "POST" and verb == "predict":
            return self._predict(manager, version, label, body)
        if method == "POST" and verb in ("classify", "regress"):
            raise ServingError("UNIMPLEMENTED", f":{verb} is not served by this model; use :predict.")
        raise ServingError("NOT_FOUND", f"Malformed request: {method} {path}")

    @staticmethod
    def _predict(manager: ModelManager, version: Optional[int], label: Optional[str], body: bytes) -> bytes:
        request = json_codec.parse_json_object(body)  # the body's only parse
        signature = json_codec.signature_name(request, DEFAULT_SIGNATURE)
        servable = manager.acquire(version, label)
        try:
            # The codec checks the JSON; servable.predict checks the tensors, as it does for gRPC.
            try:
                inputs, row_format = json_codec.decode_inputs(request, servable.input_dtypes(signature))
            except RecursionError:  # parsed, but too deep to walk
                raise ServingError("INVALID_ARGUMENT", "The request's values are nested too deeply; an input takes "
                                   "one value (or one fixed-size list) per example.") from None
            outputs = servable.predict(signature, inputs, field="instances" if row_format else "inputs")
        finally:
            servable.release()
        return json_codec.format_predict_response(outputs, row_format)
