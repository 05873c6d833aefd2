"""Servable: one loaded model version, run with the TF1 session loader as TF Serving's C++ loader does."""
from __future__ import annotations

import threading
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from serving.export import warmup
from serving.errors import ServingError

INIT_OP_SIGNATURE = "__saved_model_init_op"  # not a serving signature


def _np_dtype(dtype_enum: int):
    dtype = tf.dtypes.as_dtype(dtype_enum)
    return object if dtype == tf.string else dtype.as_numpy_dtype


def _first_cause(message: str) -> str:
    # Session errors read 'Graph execution error:\n\n<cause>\n\t [[node ...]]'; keep the cause.
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(("Graph execution error", "Detected at node", "[[")):
            return line
    return message


class Servable:
    """A SavedModel version loaded into its own graph and session; thread-safe `predict`.

    Requests hold a reference (`acquire`/`release`) so that `unload` waits for in-flight ones.
    """

    def __init__(self, name: str, version: int, path: str, max_batch_size: int = 10_000):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}.")
        self.name, self.version, self.path = name, version, path
        self.max_batch_size = max_batch_size
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self._session, ["serve"], path)
        self.signature_defs = {k: v for k, v in meta_graph.signature_def.items() if k != INIT_OP_SIGNATURE}
        self._runners = {}
        for key, sig in self.signature_defs.items():
            inputs, outputs = sorted(sig.inputs), sorted(sig.outputs)
            run = self._session.make_callable(
                [self._graph.get_tensor_by_name(sig.outputs[k].name) for k in outputs],
                feed_list=[self._graph.get_tensor_by_name(sig.inputs[k].name) for k in inputs],
            )
            self._runners[key] = (inputs, outputs, run)
        self._refs = 0
        self._cond = threading.Condition()
        self._closed = False

    def input_dtypes(self, signature_name: str) -> Dict[str, tf.DType]:
        sig = self._signature(signature_name)
        return {k: tf.dtypes.as_dtype(v.dtype) for k, v in sig.inputs.items()}

    def _signature(self, signature_name: str):
        if signature_name not in self.signature_defs:
            raise ServingError(
                "FAILED_PRECONDITION",
                f'Serving signature key "{signature_name}" not found; this model has {sorted(self.signature_defs)}.',
            )
        return self.signature_defs[signature_name]

    def predict(
        self,
        signature_name: str,
        inputs: Mapping[str, np.ndarray],
        output_filter: Optional[Sequence[str]] = None,
    ) -> Dict[str, np.ndarray]:
        """Runs one signature; raises ServingError(INVALID_ARGUMENT) for inputs it cannot take."""
        sig = self._signature(signature_name)
        names, outputs, run = self._runners[signature_name]
        missing = [k for k in names if k not in inputs]
        extra = [k for k in inputs if k not in sig.inputs]
        if missing or extra:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"Signature {signature_name!r} takes inputs {names}; the request lacks {missing} "
                f"and has unknown {extra}.",
            )
        feeds, batch = [], None
        for key in names:
            want = _np_dtype(sig.inputs[key].dtype)
            value = np.asarray(inputs[key])
            if want is object:
                if value.dtype.kind not in "OSU":
                    raise ServingError(
                        "INVALID_ARGUMENT", f"Input {key!r} must be string (DT_STRING), got {value.dtype}."
                    )
            elif value.dtype != want:
                if not np.can_cast(value.dtype, want, casting="same_kind") or value.dtype.kind in "OSUb":
                    raise ServingError(
                        "INVALID_ARGUMENT",
                        f"Input {key!r} must be {np.dtype(want).name}, got {value.dtype.name}.",
                    )
                value = value.astype(want)
            if value.ndim == 0:
                raise ServingError("INVALID_ARGUMENT", f"Input {key!r} must have a batch dimension, got a scalar.")
            if batch is not None and value.shape[0] != batch:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"Input {key!r} has batch size {value.shape[0]} but other inputs have {batch}; make them equal.",
                )
            batch = value.shape[0]
            feeds.append(value)
        if not batch:
            raise ServingError("INVALID_ARGUMENT", "The request has an empty batch; send at least one instance.")
        if batch > self.max_batch_size:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"Batch size {batch} is over this server's maximum of {self.max_batch_size}; split the request.",
            )
        if output_filter:
            unknown = [k for k in output_filter if k not in sig.outputs]
            if unknown:
                raise ServingError(
                    "INVALID_ARGUMENT", f"output_filter names {unknown}, not outputs of {signature_name!r}: {outputs}."
                )
        try:
            values = run(*feeds)
        except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as err:
            raise ServingError("INVALID_ARGUMENT", _first_cause(err.message)) from None
        result = dict(zip(outputs, values))
        if output_filter:
            result = {k: result[k] for k in output_filter}
        return result

    def run_warmup(self) -> int:
        """Replays the export's warmup PredictLogs, as TF Serving does before serving; returns how many."""
        logs = warmup.read_warmup_requests(self.path)
        for log in logs:
            request = log.predict_log.request
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            self.predict(request.model_spec.signature_name or "serving_default", inputs)
        return len(logs)

    def acquire(self) -> "Servable":
        with self._cond:
            if self._closed:
                raise ServingError("UNAVAILABLE", f"Version {self.version} of {self.name!r} was unloaded; retry.")
            self._refs += 1
        return self

    def release(self) -> None:
        with self._cond:
            self._refs -= 1
            self._cond.notify_all()

    def unload(self, timeout_s: Optional[float] = None) -> None:
        """Refuses new requests, waits for in-flight ones, then closes the session."""
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._refs == 0, timeout=timeout_s)
        self._session.close()
