"""Serving under load: many clients at once against `mtl-ads serve`, over REST and over gRPC.

    python benchmarks/serving_load.py --clients 50 --seconds 60 --candidates 100 --out serving_load.json

Exports a tiny MultiTaskModel (user_id, ad_id, price; MMoE 2x[8]) as version 1 and starts `mtl-ads serve`
on it in its own process (free ports). Then, for each protocol, `--clients` clients connect at the same
instant (a burst: the listen backlog must hold them) and each sends one request after another for
`--seconds` seconds over its own keep-alive connection (REST: columnar JSON to predict_raw; gRPC: a
PredictRequest of TensorProtos). The clients run in `--processes` processes so that the load generator
is not one GIL. Every request that is not a 200 / OK with `--candidates` predictions is an error, and so
is any connection reset or refusal. Reported per protocol: requests, errors (and samples), req/s,
candidates/s, p50 / p99 / max latency (ms).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
PROTOCOLS = ("rest", "grpc")
ERROR_SAMPLES = 5


def _rest_loop(port: int, body: bytes, candidates: int, start_at: float, stop_at: float, out: dict) -> None:
    import http.client
    import socket

    conn = None
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        begin = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request("POST", "/v1/models/ctr:predict", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
            if len(json.loads(payload)["outputs"]["p_ctr"]) != candidates:
                raise RuntimeError("wrong number of predictions")
        except Exception as err:  # every failure is counted, never hidden
            out["errors"].append(repr(err)[:300])
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)
            continue
        out["latencies"].append((time.perf_counter() - begin) * 1e3)
    if conn is not None:
        conn.close()


def _grpc_loop(port: int, body: bytes, candidates: int, start_at: float, stop_at: float, out: dict) -> None:
    import grpc

    del candidates  # the response is checked once in the parent; here any non-OK status is an error
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")  # one channel (connection) per client
    predict = channel.unary_unary(PREDICT_METHOD)  # bytes in, bytes out: no TensorFlow in the clients
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        begin = time.perf_counter()
        try:
            if not predict(body, timeout=60):
                raise RuntimeError("empty PredictResponse")
        except Exception as err:
            out["errors"].append(repr(err)[:300])
            time.sleep(0.01)
            continue
        out["latencies"].append((time.perf_counter() - begin) * 1e3)
    channel.close()


def client_process(protocol: str, port: int, body: bytes, candidates: int, threads: int,
                   start_at: float, stop_at: float, queue) -> None:
    """`threads` clients of `protocol`; puts {'latencies': [...], 'errors': [...]} on `queue`."""
    loop = _rest_loop if protocol == "rest" else _grpc_loop
    results = [{"latencies": [], "errors": []} for _ in range(threads)]
    workers = [threading.Thread(target=loop, args=(port, body, candidates, start_at, stop_at, r)) for r in results]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put({"latencies": [x for r in results for x in r["latencies"]],
               "errors": [x for r in results for x in r["errors"]]})


def run_load(protocol: str, port: int, body: bytes, candidates: int, clients: int, seconds: float,
             processes: int) -> Dict[str, object]:
    context = multiprocessing.get_context("spawn")  # the parent holds TensorFlow: never fork it
    queue = context.Queue()
    processes = max(1, min(processes, clients))
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    start_at = time.time() + 3.0  # the processes start first; then every client connects at once
    stop_at = start_at + seconds
    procs = [context.Process(target=client_process,
                             args=(protocol, port, body, candidates, n, start_at, stop_at, queue)) for n in shares]
    for p in procs:
        p.start()
    parts = [queue.get(timeout=seconds + 180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    latencies = np.asarray([x for part in parts for x in part["latencies"]], dtype=np.float64)
    errors: List[str] = [x for part in parts for x in part["errors"]]
    if latencies.size == 0:
        latencies = np.asarray([np.nan])
    done = int(np.isfinite(latencies).sum())
    return {
        "requests": done + len(errors),
        "ok": done,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:ERROR_SAMPLES],
        "req_per_s": round(done / seconds, 1),
        "candidates_per_s": round(done * candidates / seconds, 1),
        "p50_ms": round(float(np.nanpercentile(latencies, 50)), 2),
        "p99_ms": round(float(np.nanpercentile(latencies, 99)), 2),
        "max_ms": round(float(np.nanmax(latencies)), 2),
    }


def export_tiny_model(base: str, candidates: int) -> Dict[str, np.ndarray]:
    """Exports the tiny model as version 1 under `base`; returns one request's columns."""
    import tensorflow as tf

    from mtl_keras.config import ModelConfig
    from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
    from mtl_keras.models import build_model
    from serving.export.exporter import export_serving_model

    spec = FeatureSpec(
        categorical=[CategoricalFeature("user_id", hash_buckets=50, embedding_dim=4),
                     CategoricalFeature("ad_id", vocabulary_size=20, embedding_dim=4)],
        numeric=[NumericFeature("price", mean=1.0, std=2.0)],
    )
    tf.random.set_seed(0)
    config = ModelConfig(features=spec, backbone={"name": "mmoe", "num_experts": 2, "expert_units": [8]},
                         objective="esmm", tower_units=[8])
    model = build_model(config, compile=False)
    model(model.dummy_features())
    rng = np.random.default_rng(0)
    columns = {"user_id": rng.integers(0, 1000, candidates).astype(np.int64),
               "ad_id": rng.integers(0, 20, candidates).astype(np.int64),
               "price": rng.normal(1, 2, candidates).astype(np.float32)}
    rows = [{k: v[i].item() for k, v in columns.items()} for i in range(min(3, candidates))]
    export_serving_model(model, spec, base, version=1, warmup_examples=rows)
    return columns


def start_server(base: str, log_path: str, extra_args: List[str]):
    """`mtl-ads serve` in its own process; returns (process, rest_port, grpc_port)."""
    code = "import sys; from mtl_keras.cli import main; sys.exit(main())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--model-base-path", base, "--model-name", "ctr",
         "--rest-port", "0", "--grpc-port", "0", *extra_args],
        stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO, env=env,
    )
    log.close()
    ports, deadline = {}, time.time() + 180
    while time.time() < deadline and "gRPC" not in ports:
        line = proc.stdout.readline()
        if not line:
            break
        if " on " in line:
            ports[line.split()[0]] = int(line.strip().rsplit(":", 1)[1])
    if set(ports) != {"REST", "gRPC"}:
        proc.kill()
        with open(log_path, encoding="utf-8") as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"mtl-ads serve did not start (ports {ports}); its stderr ends:\n{tail}")
    return proc, ports["REST"], ports["gRPC"]


def request_bodies(columns: Dict[str, np.ndarray], grpc_port: int) -> Dict[str, bytes]:
    """One request's bytes per protocol: columnar JSON, and a serialized PredictRequest (the client's own)."""
    from serving.client.grpc_client import GrpcClient

    rest = json.dumps({"signature_name": "predict_raw", "inputs": {k: v.tolist() for k, v in columns.items()}})
    client = GrpcClient(f"127.0.0.1:{grpc_port}", "ctr")
    try:
        request = client.predict_request(columns, "predict_raw")
    finally:
        client.close()
    return {"rest": rest.encode(), "grpc": request.SerializeToString()}


def check_once(rest_port: int, grpc_port: int, candidates: int) -> None:
    """One request per protocol, answers checked in full, before any timing."""
    from serving.client.grpc_client import GrpcClient
    from serving.client.rest_client import RestClient

    rng = np.random.default_rng(1)
    columns = {"user_id": rng.integers(0, 1000, candidates).tolist(), "ad_id": rng.integers(0, 20, candidates).tolist(),
               "price": rng.normal(1, 2, candidates).tolist()}
    rest, grpc_client = RestClient("127.0.0.1", rest_port, "ctr"), GrpcClient(f"127.0.0.1:{grpc_port}", "ctr")
    try:
        a, b = rest.predict(columns, "predict_raw"), grpc_client.predict(columns, "predict_raw")
        np.testing.assert_allclose(a["p_ctr"], b["p_ctr"], rtol=1e-6)
        assert len(a["p_ctr"]) == candidates
    finally:
        rest.close()
        grpc_client.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients, all connecting at once")
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration per protocol")
    parser.add_argument("--candidates", type=int, default=100, help="rows (candidate ads) per request")
    parser.add_argument("--protocols", default="rest,grpc", help="comma-separated: rest, grpc")
    parser.add_argument("--processes", type=int, default=2, help="client processes sharing the clients")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `mtl-ads serve` argument")
    args = parser.parse_args(argv)
    protocols = [p for p in args.protocols.split(",") if p]
    if args.clients < 1 or args.seconds <= 0 or args.candidates < 1 or args.processes < 1:
        raise SystemExit("--clients, --candidates and --processes must be >= 1 and --seconds > 0.")
    if not protocols or set(protocols) - set(PROTOCOLS):
        raise SystemExit(f"--protocols must name some of {PROTOCOLS}, got {args.protocols!r}.")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "ctr")
        columns = export_tiny_model(base, args.candidates)
        proc, rest_port, grpc_port = start_server(base, os.path.join(tmp, "server.log"), args.server_arg)
        try:
            check_once(rest_port, grpc_port, args.candidates)
            bodies = request_bodies(columns, grpc_port)
            results = {}
            for protocol in protocols:
                port = rest_port if protocol == "rest" else grpc_port
                results[protocol] = run_load(protocol, port, bodies[protocol], args.candidates, args.clients,
                                             args.seconds, args.processes)
                print(protocol, json.dumps(results[protocol]), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    report = {
        "benchmark": "serving_load",
        "clients": args.clients,
        "seconds": args.seconds,
        "candidates": args.candidates,
        "client_processes": args.processes,
        "model": "tiny MultiTaskModel (user_id, ad_id, price; MMoE 2x[8], towers [8], ESMM), signature predict_raw",
        "server": "mtl-ads serve in its own process, on this machine",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "results": results,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
