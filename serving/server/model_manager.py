"""ModelManager: polls a model base path and loads/unloads versions as TF Serving does."""
from __future__ import annotations

import logging
import threading
import time
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from serving.errors import ServingError
from serving.export.exporter import list_versions
from serving.server.servable import Servable, first_cause

log = logging.getLogger(__name__)

POLICIES = ("latest", "all", "specific")
MAX_RETRY_INTERVAL_S = 60.0  # the backoff between load attempts doubles up to this


class ModelManager:
    """The versions of one model: which to serve (policy), their states, and safe switching.

    A new version is loaded and warmed up before it serves; an old one is removed from routing
    first and unloaded only after its in-flight requests finish, so no request is dropped.
    States follow TF Serving: LOADING -> AVAILABLE -> UNLOADING -> END (or LOADING -> END on error).
    A failed load (e.g. a version still being copied) is retried `max_num_load_retries` times, the wait
    doubling from `load_retry_interval_s`; the version stays LOADING, with the error, until then.
    """

    def __init__(
        self,
        name: str,
        base_path: str,
        policy: str = "latest",
        num_versions: int = 1,
        versions: Sequence[int] = (),
        labels: Optional[Mapping[str, int]] = None,
        poll_interval_s: float = 1.0,
        max_batch_size: int = 10_000,
        max_num_load_retries: int = 5,
        load_retry_interval_s: float = 1.0,
    ):
        if not name or "/" in name or ":" in name:
            raise ValueError(f"model name must be non-empty without '/' or ':', got {name!r}.")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}.")
        if policy == "latest" and num_versions < 1:
            raise ValueError(f"num_versions must be >= 1, got {num_versions}.")
        if policy == "specific" and not versions:
            raise ValueError("policy 'specific' needs at least one version in `versions`.")
        if poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s must be > 0, got {poll_interval_s}.")
        if max_batch_size < 1:
            raise ValueError(
                f"max_batch_size must be >= 1, got {max_batch_size}; it is the most examples one request may hold."
            )
        if max_num_load_retries < 0:
            raise ValueError(f"max_num_load_retries must be >= 0 (0: one attempt), got {max_num_load_retries}.")
        if load_retry_interval_s <= 0:
            raise ValueError(f"load_retry_interval_s must be > 0, got {load_retry_interval_s}.")
        self.name, self.base_path, self.policy = name, base_path, policy
        self.num_versions, self.versions = num_versions, tuple(int(v) for v in versions)
        self.labels = dict(labels or {})
        self.poll_interval_s, self.max_batch_size = poll_interval_s, max_batch_size
        self.max_num_load_retries, self.load_retry_interval_s = max_num_load_retries, load_retry_interval_s
        self._failures: Dict[int, Tuple[int, float]] = {}  # version -> (failed attempts, time of the next one)
        self._lock = threading.Lock()
        self._loaded: Dict[int, Servable] = {}
        self._states: Dict[int, Tuple[str, str, str]] = {}  # version -> (state, error_code, message)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._poll_lock = threading.Lock()

    def _wanted(self, on_disk: List[int]) -> List[int]:
        if self.policy == "latest":
            return on_disk[-self.num_versions:]
        if self.policy == "all":
            return on_disk
        return [v for v in on_disk if v in self.versions]

    def poll_once(self) -> None:
        """Loads wanted versions not loaded yet (retrying failed loads), then unloads the ones no longer wanted.

        A version deleted on disk is no longer wanted: the newest remaining one is loaded again, and only
        then is the deleted one unloaded, so requests for the latest version never go unanswered.
        """
        with self._poll_lock:
            on_disk = list_versions(self.base_path)
            for version in [v for v in self._failures if v not in on_disk]:  # gone: a new copy starts afresh
                del self._failures[version]
            wanted = self._wanted(on_disk)
            for version in wanted:
                if version not in self._loaded and self._due(version):
                    self._load(version)
            # Only drop old versions once a wanted one serves, so the model never goes empty.
            if any(v in self._loaded for v in wanted):
                for version in [v for v in self._loaded if v not in wanted]:
                    with self._lock:
                        servable = self._loaded.pop(version)
                    self._set_state(version, "UNLOADING")
                    servable.unload(timeout_s=60)
                    self._set_state(version, "END")
                    log.info("Unloaded %s version %d", self.name, version)

    def _due(self, version: int) -> bool:
        """Whether to (re)try loading `version`: never failed, or a retry is left and its time has come."""
        attempts, next_at = self._failures.get(version, (0, 0.0))
        return attempts <= self.max_num_load_retries and time.monotonic() >= next_at

    def _load(self, version: int) -> None:
        self._set_state(version, "LOADING")
        servable = None
        try:
            servable = Servable(self.name, version, f"{self.base_path}/{version}", self.max_batch_size)
            servable.run_warmup()
        except Exception as err:  # a broken or half-copied version must not take the server down
            if servable is not None:
                servable.unload(timeout_s=0)
            cause = first_cause(str(err))
            attempts = self._failures.get(version, (0, 0.0))[0] + 1
            delay = min(self.load_retry_interval_s * 2 ** (attempts - 1), MAX_RETRY_INTERVAL_S)
            self._failures[version] = (attempts, time.monotonic() + delay)
            if attempts > self.max_num_load_retries:
                log.error("Loading %s version %d failed (attempt %d, no retry left): %s",
                          self.name, version, attempts, cause)
                self._set_state(version, "END", "UNKNOWN", f"Loading failed: {cause}")
            else:
                log.warning("Loading %s version %d failed (attempt %d); retrying in %.1f s: %s",
                            self.name, version, attempts, delay, cause)
                self._set_state(version, "LOADING", "UNKNOWN", f"Loading failed (attempt {attempts} of "
                                f"{self.max_num_load_retries + 1}), retrying in {delay:.1f} s: {cause}")
            return
        self._failures.pop(version, None)
        with self._lock:
            self._loaded[version] = servable
        self._set_state(version, "AVAILABLE")
        log.info("Serving %s version %d", self.name, version)

    def _set_state(self, version: int, state: str, code: str = "OK", message: str = "") -> None:
        with self._lock:
            self._states[version] = (state, code, message)

    def start(self) -> "ModelManager":
        """Loads what is on disk now, then keeps polling in a daemon thread."""
        self.poll_once()
        self._thread = threading.Thread(target=self._poll_loop, name=f"poll-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.poll_once()
            except Exception as err:  # e.g. the base path vanished for a moment
                log.error("Polling %s failed: %s", self.base_path, err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            loaded, self._loaded = self._loaded, {}
        for servable in loaded.values():
            servable.unload(timeout_s=10)

    def acquire(self, version: Optional[int] = None, label: Optional[str] = None) -> Servable:
        """The servable for a request (latest when no version/label); call `release()` on it after."""
        if label is not None:
            version = self.version_for_label(label)
        with self._lock:
            if not self._loaded:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({self.name})")
            if version is None:
                version = max(self._loaded)
            servable = self._loaded.get(version)
            if servable is None:
                raise ServingError(
                    "NOT_FOUND",
                    f"Servable not found for request: Specific({self.name}, {version}); "
                    f"serving versions {sorted(self._loaded)}.",
                )
            return servable.acquire()

    def version_for_label(self, label: str) -> int:
        if label not in self.labels:
            raise ServingError(
                "NOT_FOUND", f"Unknown version label {label!r} for model {self.name!r}; labels: {sorted(self.labels)}."
            )
        return self.labels[label]

    def status(self, version: Optional[int] = None) -> List[Tuple[int, str, str, str]]:
        """[(version, state, error_code, error_message)], newest first, as GetModelStatus reports."""
        with self._lock:
            states = dict(self._states)
        if version is not None:
            if version not in states:
                raise ServingError("NOT_FOUND", f"Could not find version {version} of model {self.name!r}.")
            states = {version: states[version]}
        if not states:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {self.name!r}.")
        return [(v, *states[v]) for v in sorted(states, reverse=True)]
