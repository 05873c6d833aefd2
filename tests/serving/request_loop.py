"""RequestLoop: clients sending requests one after another while a test changes the served model."""
from __future__ import annotations

import threading
import time
from typing import Dict, List, Mapping, Sequence

import numpy as np

from mtl_keras import names
from serving import names as serving_names
from serving.client.grpc_client import GrpcClient
from serving.client.rest_client import RestClient


class RequestLoop:
    """One REST and one gRPC client thread predicting `rows` until `stop()`; every failure is recorded.

    `want` maps a version to its p_ctr numbers: each answer is recorded as the one version it matches
    (None when it matches none), in `seen[protocol]`.
    """

    def __init__(self, server, rows: Sequence[Mapping], want: Mapping[int, np.ndarray], max_s: float = 180.0):
        self.rows, self.want, self.max_s = list(rows), dict(want), max_s
        self.errors: List[str] = []
        self.seen: Dict[str, List[object]] = {"rest": [], "grpc": []}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=("rest", RestClient("127.0.0.1", server.rest_port, "ctr"))),
            threading.Thread(target=self._run, args=("grpc", GrpcClient(f"127.0.0.1:{server.grpc_port}", "ctr"))),
        ]

    def _run(self, kind: str, client) -> None:
        deadline = time.time() + self.max_s  # bounded even if the test never stops it
        while not self._stop.is_set() and time.time() < deadline:
            try:
                got = client.predict(self.rows, serving_names.SIGNATURE_PREDICT_RAW)[names.P_CTR]
            except Exception as err:  # a failed request is what the tests look for
                self.errors.append(f"{kind}: {err!r}")
                time.sleep(0.01)
                continue
            matches = [v for v, p in self.want.items() if np.allclose(got, p, rtol=1e-5)]
            self.seen[kind].append(matches[0] if len(matches) == 1 else None)
        client.close()

    def count(self) -> int:
        return len(self.seen["rest"]) + len(self.seen["grpc"])

    def wait_for_more(self, n: int, timeout_s: float = 60.0) -> None:
        """Waits until each protocol has answered `n` more requests."""
        start = {k: len(v) for k, v in self.seen.items()}
        deadline = time.time() + timeout_s
        while any(len(self.seen[k]) < start[k] + n for k in start):
            if time.time() > deadline:
                raise AssertionError(f"the clients did not get {n} more answers in {timeout_s} s: {self.errors[-3:]}")
            time.sleep(0.02)

    def last(self, kind: str):
        return self.seen[kind][-1] if self.seen[kind] else None

    def __enter__(self) -> "RequestLoop":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def __exit__(self, *exc) -> None:
        self.stop()
