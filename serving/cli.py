"""`mtl-ads serve` (the local TF-Serving-API server) and `mtl-ads predict` (its client)."""
from __future__ import annotations

import csv
import json
import sys
from typing import Any, Dict, List


def register_serve(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve exported models with TF Serving's REST and gRPC APIs",
        description="Serves <base>/<version>/ SavedModels like tensorflow_model_server, polling for new versions.",
    )
    p.add_argument("--model-base-path", help="directory holding <version>/ exports (one model)")
    p.add_argument("--model-name", default="default", help="name in /v1/models/<name> (default: default)")
    p.add_argument("--model-config-file", help="a models.config text proto instead of --model-base-path")
    p.add_argument("--rest-port", type=int, default=8501, help="REST port; 0 picks a free one, -1 disables")
    p.add_argument("--grpc-port", type=int, default=8500, help="gRPC port; 0 picks a free one, -1 disables")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--poll-interval-s", type=float, default=1.0, help="seconds between version polls")
    p.add_argument("--max-batch-size", type=int, default=10_000, help="larger requests get a 400 (>= 1)")
    p.add_argument("--label", action="append", default=[], metavar="LABEL=VERSION", help="a version label")
    p.add_argument("--max-num-load-retries", "--max_num_load_retries", type=int, default=5,
                   help="retries of a version whose load failed, e.g. one still being copied (default 5)")
    p.add_argument("--load-retry-interval-s", type=float, default=1.0,
                   help="seconds before the first retry; the wait doubles after each (default 1)")
    p.add_argument("--rest-workers", type=int, default=None,
                   help="REST requests running the model at once (default: the cores, 4 to 16)")
    p.add_argument("--rest-max-body-bytes", type=int, default=64 << 20, help="larger bodies get a 413 (64 MiB)")
    p.add_argument("--rest-read-timeout-s", type=float, default=30.0,
                   help="a body not received this long after its headers gets a 408 (default 30)")
    p.add_argument("--grace-s", type=float, default=10.0,
                   help="on SIGTERM/SIGINT, seconds in-flight requests get to finish (default 10)")
    p.set_defaults(func=_serve)


def _labels(items: List[str]) -> Dict[str, int]:
    labels = {}
    for item in items:
        label, _, version = item.partition("=")
        if not label or not version.isdigit():
            raise ValueError(f"--label {item!r}: expected LABEL=VERSION, e.g. --label stable=3.")
        labels[label] = int(version)
    return labels


def _serve(args) -> int:
    import signal
    import threading

    from serving.errors import ServingError
    from serving.server.local_server import LocalModelServer
    from serving.export.model_config import ModelEntry, read_models_config

    if bool(args.model_base_path) == bool(args.model_config_file):
        raise ValueError("Give exactly one of --model-base-path or --model-config-file.")
    if args.rest_workers is None:
        from serving.server.rest_server import DEFAULT_WORKERS

        args.rest_workers = DEFAULT_WORKERS
    for option, value in [("--max-batch-size", args.max_batch_size), ("--rest-workers", args.rest_workers),
                          ("--rest-max-body-bytes", args.rest_max_body_bytes)]:
        if value < 1:
            raise ValueError(f"{option} must be >= 1, got {value}.")
    if args.grace_s < 0:
        raise ValueError(f"--grace-s must be >= 0, got {args.grace_s}.")
    if args.max_num_load_retries < 0:
        raise ValueError(f"--max-num-load-retries must be >= 0 (0: one attempt), got {args.max_num_load_retries}.")
    for option, value in [("--load-retry-interval-s", args.load_retry_interval_s),
                          ("--rest-read-timeout-s", args.rest_read_timeout_s),
                          ("--poll-interval-s", args.poll_interval_s)]:
        if value <= 0:
            raise ValueError(f"{option} must be > 0, got {value}.")
    if args.model_config_file:
        entries = read_models_config(args.model_config_file)
    else:
        entries = [ModelEntry(args.model_name, args.model_base_path, labels=_labels(args.label))]
    server = LocalModelServer(
        entries,
        rest_port=None if args.rest_port < 0 else args.rest_port,
        grpc_port=None if args.grpc_port < 0 else args.grpc_port,
        host=args.host,
        poll_interval_s=args.poll_interval_s,
        max_batch_size=args.max_batch_size,
        max_num_load_retries=args.max_num_load_retries,
        load_retry_interval_s=args.load_retry_interval_s,
        rest_workers=args.rest_workers,
        rest_max_body_bytes=args.rest_max_body_bytes,
        rest_read_timeout_s=args.rest_read_timeout_s,
        grace_s=args.grace_s,
    ).start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    for name, manager in server.managers.items():
        try:
            versions = [v for v, state, *_ in manager.status() if state == "AVAILABLE"]
        except ServingError:  # nothing exported yet: the poller picks it up later
            versions = []
        print(f"model {name}: serving versions {versions} from {manager.base_path}", flush=True)
    if server.rest_port:
        print(f"REST on http://{args.host}:{server.rest_port}", flush=True)
    if server.grpc_port:
        print(f"gRPC on {args.host}:{server.grpc_port}", flush=True)
    done.wait()
    server.stop()
    return 0


def register_predict(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="send rows to a model server (TF Serving or mtl-ads serve) and print predictions",
        description="Reads rows of raw features (JSON lines or CSV), writes one JSON line of outputs per row.",
    )
    p.add_argument("--input", required=True, help="rows as .jsonl (one object per line) or .csv; '-' is stdin")
    p.add_argument("--output", default="-", help="JSON lines out (default stdout)")
    p.add_argument("--model-name", default="default")
    p.add_argument("--server", default="127.0.0.1:8501", help="host:port of the REST or gRPC endpoint")
    p.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    p.add_argument("--signature", default="predict_raw", help="signature to call (default predict_raw)")
    p.add_argument("--version", type=int, default=None, help="model version (default: latest)")
    p.add_argument("--batch-size", type=int, default=1000, help="rows per request")
    p.set_defaults(func=_predict)


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_rows(path: str) -> List[Dict[str, Any]]:
    """Rows from JSON lines or CSV (numbers parsed: ints stay ints)."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with stream:
        if path.endswith(".csv"):
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(stream)]
        rows = []
        for i, line in enumerate(stream):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as err:
                    raise ValueError(f"{path} line {i + 1} is not JSON ({err}); give one JSON object per line.")
        return rows


def _predict(args) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}.")
    host, _, port = args.server.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--server must be host:port, got {args.server!r}.")
    rows = read_rows(args.input)
    if not rows:
        raise ValueError(f"{args.input} holds no rows.")
    if args.protocol == "rest":
        from serving.client.rest_client import RestClient

        client = RestClient(host, int(port), args.model_name)
    else:
        from serving.client.grpc_client import GrpcClient

        client = GrpcClient(args.server, args.model_name)
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        for start in range(0, len(rows), args.batch_size):
            try:
                outputs = client.predict(rows[start:start + args.batch_size], args.signature, version=args.version)
            except OSError as err:  # REST: refused/unreachable (gRPC reports UNAVAILABLE as a ServingError)
                raise ValueError(f"Cannot reach {args.server} ({err}); is the model server running?") from None
            keys = sorted(outputs)
            for i in range(len(outputs[keys[0]])):
                out.write(json.dumps({k: outputs[k][i].tolist() for k in keys}) + "\n")
    finally:
        client.close()
        if out is not sys.stdout:
            out.close()
    return 0
