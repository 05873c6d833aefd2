"""RestClient: TF Serving's REST API from Python (works with TF Serving and serving.LocalModelServer)."""
from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from serving.errors import ServingError

Inputs = Union[Sequence[Mapping[str, Any]], Mapping[str, Sequence[Any]]]
_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE"}


def to_columns(inputs: Inputs) -> Dict[str, list]:
    """Rows (a list of dicts) or columns (a dict of lists) as columns."""
    if isinstance(inputs, Mapping):
        return {k: list(v) for k, v in inputs.items()}
    rows = list(inputs)
    if not rows or not all(isinstance(r, Mapping) for r in rows):
        raise ValueError("inputs must be a non-empty list of dicts (rows) or a dict of lists (columns).")
    keys = list(rows[0])
    for i, row in enumerate(rows):
        if sorted(row) != sorted(keys):
            raise ValueError(f"Row {i} has keys {sorted(row)} but row 0 has {sorted(keys)}; give every row the same.")
    return {k: [r[k] for r in rows] for k in keys}


def _b64(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_b64(v) for v in value]
    return value


class RestClient:
    """Calls one model on a TF Serving REST endpoint; one keep-alive connection per thread."""

    def __init__(self, host: str, port: int, model_name: str, timeout_s: float = 30.0):
        if not model_name:
            raise ValueError("model_name is empty.")
        self.host, self.port, self.model_name, self.timeout_s = host, int(port), model_name, timeout_s
        self._local = threading.local()

    def _path(self, version: Optional[int], label: Optional[str]) -> str:
        path = f"/v1/models/{self.model_name}"
        if version is not None:
            path += f"/versions/{int(version)}"
        elif label is not None:
            path += f"/labels/{label}"
        return path

    def request(self, method: str, path: str, body: Optional[bytes] = None) -> Any:
        """Sends one request; returns the decoded JSON or raises ServingError with the server's message."""
        for attempt in range(2):  # a kept-alive connection the server closed is retried once
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
            try:
                conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        try:
            data = json.loads(payload)
        except ValueError:
            data = {"error": payload.decode("utf-8", "replace")}
        if response.status != 200:
            message = data.get("error", str(data)) if isinstance(data, dict) else str(data)
            raise ServingError(_CODES.get(response.status, "INTERNAL"), message)
        return data

    def predict(
        self,
        inputs: Inputs,
        signature_name: str = "serving_default",
        version: Optional[int] = None,
        label: Optional[str] = None,
        row_format: bool = False,
    ) -> Dict[str, np.ndarray]:
        """Outputs as numpy columns; `inputs` are rows or columns of raw values (bytes are sent as b64)."""
        columns = to_columns(inputs)
        if row_format:
            batch = len(next(iter(columns.values())))
            body = {"instances": [{k: _b64(v[i]) for k, v in columns.items()} for i in range(batch)]}
        else:
            body = {"inputs": {k: _b64(v) for k, v in columns.items()}}
        body["signature_name"] = signature_name
        data = self.request("POST", self._path(version, label) + ":predict", json.dumps(body).encode())
        if row_format:
            rows = data["predictions"]
            if rows and isinstance(rows[0], dict):
                return {k: np.asarray([r[k] for r in rows], dtype=np.float32) for k in rows[0]}
            return {self._single_output(signature_name, version): np.asarray(rows, dtype=np.float32)}
        outputs = data["outputs"]
        if isinstance(outputs, dict):
            return {k: np.asarray(v, dtype=np.float32) for k, v in outputs.items()}
        return {self._single_output(signature_name, version): np.asarray(outputs, dtype=np.float32)}

    def _single_output(self, signature_name: str, version: Optional[int]) -> str:
        # TF Serving drops the output's name when a signature has one; the metadata has it.
        signatures = self.metadata(version)["metadata"]["signature_def"]["signature_def"]
        return next(iter(signatures[signature_name]["outputs"]))

    def predict_examples(self, examples: Sequence[bytes], version: Optional[int] = None) -> Dict[str, np.ndarray]:
        """`serving_default` on serialized tf.Examples."""
        return self.predict({"examples": list(examples)}, "serving_default", version=version)

    def status(self, version: Optional[int] = None) -> Dict[str, Any]:
        return self.request("GET", self._path(version, None))

    def metadata(self, version: Optional[int] = None) -> Dict[str, Any]:
        return self.request("GET", self._path(version, None) + "/metadata")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
