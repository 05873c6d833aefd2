"""LocalModelServer: a model server speaking TF Serving's REST and gRPC APIs, for local use and tests."""
from __future__ import annotations

import os
from typing import Optional, Sequence

from serving.export.model_config import ModelEntry
from serving.server import rest_server
from serving.server.grpc_server import GrpcServer
from serving.server.model_manager import ModelManager
from serving.server.rest_server import RestServer


class LocalModelServer:
    """Loads the models of `entries`, polls their base paths, and serves REST and gRPC.

    Ports 0 pick free ones (see `rest_port` / `grpc_port` after `start()`); None disables that API. Both
    ports are bound before any model loads, so a busy port is a ValueError at once. A failed version load
    is retried `max_num_load_retries` times (the wait doubling from `load_retry_interval_s`). REST limits:
    `rest_max_body_bytes` (413), `rest_read_timeout_s` (408), `rest_workers` model threads. `stop()` stops
    accepting on both APIs, lets in-flight requests finish (up to `grace_s`), and only then unloads.
    Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(
        self,
        entries: Sequence[ModelEntry],
        rest_port: Optional[int] = 8501,
        grpc_port: Optional[int] = 8500,
        host: str = "127.0.0.1",
        poll_interval_s: float = 1.0,
        max_batch_size: int = 10_000,
        max_num_load_retries: int = 5,
        load_retry_interval_s: float = 1.0,
        rest_workers: int = rest_server.DEFAULT_WORKERS,
        rest_max_body_bytes: int = rest_server.DEFAULT_MAX_BODY_BYTES,
        rest_read_timeout_s: float = rest_server.DEFAULT_READ_TIMEOUT_S,
        grpc_workers: int = 16,
        grace_s: float = 10.0,
    ):
        if not entries:
            raise ValueError("LocalModelServer needs at least one ModelEntry.")
        if rest_port is None and grpc_port is None:
            raise ValueError("Both rest_port and grpc_port are None; enable at least one API.")
        for entry in entries:
            if not os.path.isdir(entry.base_path):
                raise ValueError(
                    f"Model base path {entry.base_path} of {entry.name!r} is not a directory; "
                    "export a model there first (serving.export.exporter.export_serving_model)."
                )
        self.managers = {
            e.name: ModelManager(
                e.name,
                e.base_path,
                policy=e.policy,
                num_versions=e.num_versions,
                versions=e.versions,
                labels=e.labels,
                poll_interval_s=poll_interval_s,
                max_batch_size=max_batch_size,
                max_num_load_retries=max_num_load_retries,
                load_retry_interval_s=load_retry_interval_s,
            )
            for e in entries
        }
        self._host, self._rest_port, self._grpc_port = host, rest_port, grpc_port
        self._rest_options = dict(workers=rest_workers, max_body_bytes=rest_max_body_bytes,
                                  read_timeout_s=rest_read_timeout_s, grace_s=grace_s)
        self._grpc_workers, self.grace_s = grpc_workers, grace_s
        self._rest: Optional[RestServer] = None
        self._grpc: Optional[GrpcServer] = None

    @property
    def rest_port(self) -> Optional[int]:
        return self._rest.port if self._rest else None

    @property
    def grpc_port(self) -> Optional[int]:
        return self._grpc.port if self._grpc else None

    def start(self) -> "LocalModelServer":
        try:
            if self._rest_port is not None:
                self._rest = RestServer(self.managers, self._host, self._rest_port, **self._rest_options)
            if self._grpc_port is not None:
                self._grpc = GrpcServer(self.managers, self._host, self._grpc_port, self._grpc_workers)
            for manager in self.managers.values():
                manager.start()
            if self._rest is not None:
                self._rest.start()
            if self._grpc is not None:
                self._grpc.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Graceful: no new request is taken, in-flight ones finish, then the models unload."""
        grpc_done = self._grpc.begin_stop(self.grace_s) if self._grpc is not None else None
        if self._rest is not None:
            self._rest.stop()
        if grpc_done is not None:
            grpc_done.wait(self.grace_s + 5)
        for manager in self.managers.values():
            manager.stop()

    def __enter__(self) -> "LocalModelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
