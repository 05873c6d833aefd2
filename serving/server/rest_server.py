"""RestServer: TF Serving's REST API (predict, status, metadata) over http.server."""
from __future__ import annotations

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Mapping, Optional, Tuple

from serving.server import json_codec, responses
from serving.errors import ServingError
from serving.server.model_manager import ModelManager

log = logging.getLogger(__name__)

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[a-z]+)|/(?P<metadata>metadata))?/?$"
)
DEFAULT_SIGNATURE = "serving_default"


def _route(path: str) -> Tuple[str, Optional[int], Optional[str], Optional[str], bool]:
    match = _PATH.match(path.split("?", 1)[0])
    if match is None:
        raise ServingError("NOT_FOUND", f"Malformed request: {path}; expected /v1/models/<name>[/versions/<v>]...")
    version = match["version"]
    if version is not None and not version.isdigit():
        raise ServingError("INVALID_ARGUMENT", f"Version {version!r} in the path is not a non-negative integer.")
    return match["name"], int(version) if version else None, match["label"], match["verb"], bool(match["metadata"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as TF Serving
    # Headers and body go out in two writes; with Nagle on, the body waits for a delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: "_HTTPServer"

    def log_message(self, fmt, *args):  # the default writes every request to stderr
        log.debug(fmt, *args)

    def _send(self, status: int, payload) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _manager(self, name: str) -> ModelManager:
        manager = self.server.managers.get(name)
        if manager is None:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name}); unknown model name.")
        return manager

    def _handle(self, method: str) -> None:
        try:
            name, version, label, verb, metadata = _route(self.path)
            manager = self._manager(name)
            if method == "GET" and verb is None and not metadata:
                if label is not None:
                    version = manager.version_for_label(label)
                self._send(200, responses.status_json(responses.model_status(manager, version)))
            elif method == "GET" and metadata:
                servable = manager.acquire(version, label)
                try:
                    self._send(200, responses.metadata_json(responses.model_metadata(servable)))
                finally:
                    servable.release()
            elif method == "POST" and verb == "predict":
                self._send(200, self._predict(manager, version, label))
            elif method == "POST" and verb in ("classify", "regress"):
                raise ServingError("UNIMPLEMENTED", f":{verb} is not served by this model; use :predict.")
            else:
                raise ServingError("NOT_FOUND", f"Malformed request: {method} {self.path}")
        except ServingError as err:
            self._send(err.http_status, {"error": err.message})
        except Exception as err:  # keep serving whatever one request did
            log.exception("Request %s %s failed", method, self.path)
            self._send(500, {"error": f"Internal error: {err}"})

    def _predict(self, manager: ModelManager, version: Optional[int], label: Optional[str]) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        request = json_codec.parse_json_object(self.rfile.read(length))  # the body's only parse
        signature = json_codec.signature_name(request, DEFAULT_SIGNATURE)
        servable = manager.acquire(version, label)
        try:
            # The codec checks the JSON; servable.predict checks the tensors, as it does for gRPC.
            inputs, row_format = json_codec.decode_inputs(request, servable.input_dtypes(signature))
            outputs = servable.predict(signature, inputs, field="instances" if row_format else "inputs")
        finally:
            servable.release()
        return json_codec.format_predict_response(outputs, row_format)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    managers: Mapping[str, ModelManager] = {}


class RestServer:
    """Serves `managers` (model name -> ModelManager) on host:port (port 0 picks a free one)."""

    def __init__(self, managers: Mapping[str, ModelManager], host: str = "127.0.0.1", port: int = 8501):
        if not managers:
            raise ValueError("RestServer needs at least one model.")
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.managers = dict(managers)
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> "RestServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="rest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
