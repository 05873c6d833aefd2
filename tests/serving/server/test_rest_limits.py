"""The REST server's limits on real sockets: body size (413), read timeout (408), malformed HTTP (400),
methods (405), busy ports, and a graceful stop that finishes in-flight requests and answers nothing new."""
import http.client
import json
import socket
import threading
import time

import pytest

from mtl_keras.cli import main
from serving.export.model_config import ModelEntry
from serving.server.local_server import LocalModelServer
from serving.server.rest_server import RestServer
from serving_fixtures import sample_rows

ROWS = sample_rows(3, seed=13)
PREDICT = b"POST /v1/models/ctr:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
GOOD = json.dumps({"signature_name": "predict_raw", "instances": ROWS}).encode()


def _exchange(port, data: bytes, timeout_s: float = 30.0):
    """Sends raw bytes on a new connection; returns (status, headers, decoded JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(body)


def _post(body: bytes, length=None) -> bytes:
    return PREDICT + f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode() + body


@pytest.fixture(scope="module")
def limited(server):
    """A second REST server on the session's models, with a 2000-byte body limit and a 0.5 s read timeout."""
    rest = RestServer(server.managers, port=0, max_body_bytes=2000, read_timeout_s=0.5).start()
    yield rest
    rest.stop()


def test_a_body_over_the_limit_is_a_413_in_json_with_or_without_content_length(limited):
    status, headers, data = _exchange(limited.port, _post(b" " * 5000))
    assert status == 413 and headers["content-type"] == "application/json"
    assert "over this server's limit of 2000 bytes" in data["error"]
    chunked = PREDICT + b"Transfer-Encoding: chunked\r\n\r\n" + (b"400\r\n" + b" " * 1024 + b"\r\n") * 3 + b"0\r\n\r\n"
    status, _, data = _exchange(limited.port, chunked)
    assert status == 413 and "limit of 2000 bytes" in data["error"]
    assert _exchange(limited.port, _post(GOOD))[0] == 200  # a body within the limit is served


def test_a_body_that_stops_arriving_is_a_408(limited):
    start = time.monotonic()
    status, headers, data = _exchange(limited.port, _post(GOOD[:20], length=len(GOOD)))
    assert status == 408 and headers.get("connection") == "close"
    assert "did not arrive within 0.5 s" in data["error"] and "send the whole body" in data["error"]
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "5, 6"])
def test_a_bad_content_length_is_a_400_in_json(server, length):
    status, _, data = _exchange(server.rest_port, _post(b"{}", length=length))
    assert status == 400 and "Content-Length" in data["error"], data


@pytest.mark.parametrize("depth", [100_000, 950])  # too deep to parse; parsed, but too deep to walk
def test_json_nested_too_deep_is_a_400(server, depth):
    body = b'{"instances": ' + b"[" * depth + b'"x"' + b"]" * depth + b"}"
    status, _, data = _exchange(server.rest_port, _post(body))
    assert status == 400 and "nested too deeply" in data["error"], data
    assert _exchange(server.rest_port, _post(GOOD))[0] == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_a_405_in_json(server, method):
    request = f"{method} /v1/models/ctr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    status, headers, data = _exchange(server.rest_port, request)
    assert status == 405 and headers["allow"] == "GET, POST" and headers["content-type"] == "application/json"
    assert f"Method {method} is not allowed" in data["error"]


def test_fifty_clients_connecting_at_once_are_all_served(server):
    barrier, results = threading.Barrier(50), []

    def client():
        barrier.wait()
        try:
            results.append(_exchange(server.rest_port, _post(GOOD))[0])
        except OSError as err:
            results.append(repr(err))

    threads = [threading.Thread(target=client) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [200] * 50


def test_busy_ports_are_clear_errors(server, exported, capsys):
    with pytest.raises(ValueError, match=rf"Cannot bind REST to 127.0.0.1:{server.rest_port}: the port is in use"):
        RestServer(server.managers, port=server.rest_port)
    base, _ = exported
    for api, args in [("REST", ["--rest-port", str(server.rest_port), "--grpc-port", "-1"]),
                      ("gRPC", ["--rest-port", "-1", "--grpc-port", str(server.grpc_port)])]:
        assert main(["serve", "--model-base-path", base, "--model-name", "ctr", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: Cannot bind {api} to 127.0.0.1:") and "in use" in err, err
        assert "Traceback" not in err


def test_stop_finishes_in_flight_requests_and_answers_nothing_new(exported):
    base, _ = exported
    # One worker: the requests below queue for it, in flight (received, not answered) when the stop begins.
    server = LocalModelServer([ModelEntry("ctr", base)], rest_port=0, grpc_port=0, rest_workers=1, grace_s=60).start()
    port = server.rest_port
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a keep-alive client between requests
    idle.request("POST", "/v1/models/ctr:predict", body=GOOD)
    first = idle.getresponse()
    assert first.status == 200 and first.read()
    big = _post(json.dumps({"signature_name": "predict_raw", "instances": sample_rows(5000)}).encode())
    sent, answers = threading.Barrier(13), []

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            sock.sendall(big)
            sent.wait()
            response = http.client.HTTPResponse(sock)
            response.begin()
            answers.append((response.status, len(json.loads(response.read()).get("predictions", [])), time.time()))

    clients = [threading.Thread(target=client) for _ in range(12)]
    for t in clients:
        t.start()
    sent.wait(timeout=60)
    time.sleep(0.2)
    stop_began = time.time()
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    deadline = time.time() + 30
    while True:  # the listening socket closes first: new connections are refused
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            break
        assert time.time() < deadline, "the server still accepts connections while stopping"
        time.sleep(0.05)
    # The idle keep-alive connection is closed rather than answered (it used to get '404 Servable not found').
    with pytest.raises((http.client.HTTPException, OSError)):
        idle.request("POST", "/v1/models/ctr:predict", body=GOOD)
        idle.getresponse().read()
    for t in clients:
        t.join(timeout=120)
    stopper.join(timeout=120)
    assert not stopper.is_alive()
    assert sorted(a[:2] for a in answers) == [(200, 5000)] * 12  # every in-flight request answered in full
    assert max(a[2] for a in answers) > stop_began  # and some of them only after the stop began
