"""ServingError: a request failure with TF Serving's status code (gRPC code name and HTTP status)."""
from __future__ import annotations

# TF Serving's mapping of status codes to HTTP (tensorflow_serving/model_servers/http_rest_api_util).
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "INTERNAL": 500,
}


class ServingError(ValueError):
    """Raised for a request the server rejects; `code` is a grpc.StatusCode name."""

    def __init__(self, code: str, message: str):
        if code not in HTTP_STATUS:
            raise ValueError(f"Unknown status code {code!r}; use one of {sorted(HTTP_STATUS)}.")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def grpc_code(self):
        import grpc

        return getattr(grpc.StatusCode, self.code)
