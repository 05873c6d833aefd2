"""RestServer: TF Serving's REST API (RestApi) over aiohttp, with the limits a shared server needs.

aiohttp gives the listen backlog, HTTP parsing (a bad Content-Length is a 400), keep-alive and graceful
shutdown; on top of it: a body limit (413), a body read timeout (408), a bounded pool of worker threads
that run the model (the event loop only does I/O), and JSON errors everywhere, as TF Serving answers.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Optional

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from serving.server.model_manager import ModelManager
from serving.server.rest_api import METHODS, RestApi, error_body

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 << 20
DEFAULT_READ_TIMEOUT_S = 30.0
# Model threads: the JSON work holds the GIL, so more threads than cores only add latency (measured: same
# req/s, p99 103 ms with 4 and 194 ms with 16 workers on 2 cores, 50 clients).
DEFAULT_WORKERS = min(16, max(4, os.cpu_count() or 1))
DEFAULT_BACKLOG = 1024
KEEPALIVE_TIMEOUT_S = 75.0  # an idle keep-alive connection is closed after this


def _json(status: int, body: bytes, close: bool = False, **headers: str) -> web.Response:
    response = web.Response(status=status, body=body, content_type="application/json", headers=headers or None)
    if close:  # the rest of the request was not read: the connection cannot carry another one
        response.force_close()
    return response


class _Protocol(RequestHandler):
    """aiohttp's connection handler, answering malformed HTTP (bad Content-Length, ...) in JSON too."""

    def handle_error(self, request, status: int = 500, exc: Optional[BaseException] = None,
                     message: Optional[str] = None) -> web.StreamResponse:
        if request.writer.output_size > 0:  # a response is under way: nothing can be said any more
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        if status == 500:
            log.error("Request %s %s failed", request.method, request.path, exc_info=exc)
            text = f"Internal error: {exc}"
        else:
            detail = " ".join((message or str(exc) or "").split()).rstrip(" ^")  # aiohttp points with a '^'
            text = f"Malformed HTTP request: {detail}; send a valid HTTP/1.1 request (e.g. a numeric Content-Length)."
        return _json(status, error_body(text), close=True)


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


def bind(host: str, port: int, backlog: int, what: str = "REST", option: str = "--rest-port") -> socket.socket:
    """A listening TCP socket on host:port, or a ValueError that says why and what to do."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as err:
        raise ValueError(f"Cannot bind {what} to {host}:{port}: {err}; give an address of this machine.") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT: a busy port stays busy
        sock.bind(address)
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        why = "the port is in use (another model server?)" if err.errno == errno.EADDRINUSE else err.strerror
        raise ValueError(
            f"Cannot bind {what} to {host}:{port}: {why}; pick a free port ({option}, 0 for any free one) "
            "or stop the other server."
        ) from None
    return sock


class RestServer:
    """Serves `managers` (model name -> ModelManager) on host:port (port 0 picks a free one).

    Limits: request bodies over `max_body_bytes` get a 413, a body not fully received `read_timeout_s`
    after its headers a 408; at most `workers` requests run the model at once (others wait for a worker).
    `stop()` stops accepting, lets in-flight requests finish (up to `grace_s`), then closes every connection.
    """

    def __init__(
        self,
        managers: Mapping[str, ModelManager],
        host: str = "127.0.0.1",
        port: int = 8501,
        workers: int = DEFAULT_WORKERS,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        backlog: int = DEFAULT_BACKLOG,
        grace_s: float = 10.0,
    ):
        for name, value, low in [("workers", workers, 1), ("max_body_bytes", max_body_bytes, 1),
                                 ("backlog", backlog, 1)]:
            if value < low:
                raise ValueError(f"RestServer {name} must be >= {low}, got {value}.")
        if read_timeout_s <= 0 or grace_s < 0:
            raise ValueError(f"read_timeout_s must be > 0 and grace_s >= 0, got {read_timeout_s} and {grace_s}.")
        self._api = RestApi(managers)
        self.max_body_bytes, self.read_timeout_s, self.grace_s = max_body_bytes, read_timeout_s, grace_s
        self._workers = workers
        self._sock = bind(host, port, backlog)
        self._backlog = backlog
        self._pool: Optional[ThreadPoolExecutor] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.BaseRunner] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> "RestServer":
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="rest-worker")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rest", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._setup(), self._loop).result(timeout=30)
        return self

    async def _setup(self) -> None:
        server = _Server(self._handle, keepalive_timeout=KEEPALIVE_TIMEOUT_S, access_log=None)
        self._runner = web.ServerRunner(server, shutdown_timeout=self.grace_s)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock, backlog=self._backlog).start()

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        chunks, size = [], 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise OverflowError
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> web.Response:
        return _json(413, error_body(
            f"The request body is over this server's limit of {self.max_body_bytes} bytes; split the request "
            "into smaller batches (or raise --rest-max-body-bytes)."), close=True)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in METHODS:
            return _json(405, error_body(
                f"Method {request.method} is not allowed on {request.raw_path}; TF Serving's REST API takes GET "
                "(model status, metadata) and POST (:predict)."), Allow=", ".join(METHODS))
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return self._too_large()
        try:
            body = await asyncio.wait_for(self._read_body(request), self.read_timeout_s)
        except OverflowError:
            return self._too_large()
        except asyncio.TimeoutError:
            return _json(408, error_body(
                f"The request body did not arrive within {self.read_timeout_s:g} s of its headers "
                f"(Content-Length {request.content_length}); send the whole body at once."), close=True)
        loop = asyncio.get_running_loop()
        status, payload = await loop.run_in_executor(self._pool, self._api.handle, request.method,
                                                     request.raw_path, body)
        return _json(status, payload)

    async def _shutdown(self) -> None:
        await self._runner.cleanup()  # stop accepting, let in-flight requests finish, close the connections
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:  # connections the peer dropped mid-request: nothing is left to answer
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def stop(self) -> None:
        """Stops accepting, finishes in-flight requests (up to grace_s), closes keep-alive connections."""
        if self._loop is None:
            self._sock.close()
            return
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                future.result(timeout=self.grace_s + 30)
            except Exception as err:  # stopping must go on whatever a connection did
                log.warning("Stopping the REST server: %r", err)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop.close()
        self._pool.shutdown(wait=True)
        self._sock.close()
        self._loop = None
