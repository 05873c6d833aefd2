"""Servable: one loaded model version, run with the TF1 session loader as TF Serving's C++ loader does."""
from __future__ import annotations

import threading
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from serving.export import warmup
from serving.errors import ServingError

INIT_OP_SIGNATURE = "__saved_model_init_op"  # not a serving signature


def _np_dtype(dtype) -> np.dtype:
    dtype = tf.dtypes.as_dtype(dtype)
    return np.dtype(object) if dtype == tf.string else np.dtype(dtype.as_numpy_dtype)


def _invalid(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def _cast(key: str, value: np.ndarray, dtype) -> np.ndarray:
    """`value` as the input's dtype; only casts that keep the kind (int64 -> int32, float64 -> float32)."""
    want = _np_dtype(dtype)
    if want.kind == "O":
        if value.dtype.kind not in "OSU":
            raise _invalid(f"Input {key!r} must be string (DT_STRING), got {value.dtype}.")
        return value
    if value.dtype != want:
        if value.dtype.kind in "OSUb" or not np.can_cast(value.dtype, want, casting="same_kind"):
            raise _invalid(f"Input {key!r} must be {want.name}, got {value.dtype.name}.")
        if want.kind in "iu" and value.dtype.kind in "iu" and value.size:  # astype would wrap silently
            info = np.iinfo(want)
            if value.min() < info.min or value.max() > info.max:
                raise _invalid(f"Input {key!r} has values outside {want.name}'s range [{info.min}, {info.max}].")
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf, refused below
            value = value.astype(want)
    if want.kind == "f" and not np.isfinite(value).all():
        raise _invalid(
            f"Input {key!r} holds a value that is not a finite {want.name} (NaN, Infinity, or a number beyond "
            f"{want.name}'s range such as 1e400); send finite numbers only."
        )
    return value


def _shape_text(shape: Sequence[int]) -> str:
    dims = ["batch" if i == 0 and d < 0 else ("?" if d < 0 else str(d)) for i, d in enumerate(shape)]
    return "[" + ", ".join(dims) + "]"


def _check_shape(key: str, value: np.ndarray, shape: Optional[Sequence[int]]) -> None:
    """The signature's shape of an input (-1: any size), when it is known."""
    if shape is None or (value.ndim == len(shape) and all(d < 0 or d == n for d, n in zip(shape, value.shape))):
        return
    hint = "send one value per example, not a list" if len(shape) == 1 and value.ndim > 1 else "reshape it"
    raise _invalid(f"Input {key!r} must have shape {_shape_text(shape)}, got {list(value.shape)}; {hint}.")


def check_inputs(
    signature_name: str,
    input_dtypes: Mapping[str, tf.DType],
    inputs: Mapping[str, np.ndarray],
    max_batch_size: int,
    field: str = "inputs",
    input_shapes: Optional[Mapping[str, Optional[Sequence[int]]]] = None,
) -> Dict[str, np.ndarray]:
    """The inputs cast to the signature's dtypes: the one check of names, batch and dtypes (REST and gRPC).

    Raises ServingError(INVALID_ARGUMENT) naming the input and the fix; `field` is the request field that
    holds the inputs ('instances' for REST rows, else 'inputs'), for request-level messages; `input_shapes`
    are the signature's shapes (-1 for any size, None for an unknown rank), checked where given.
    """
    names = sorted(input_dtypes)
    missing = [k for k in names if k not in inputs]
    extra = sorted(k for k in inputs if k not in input_dtypes)
    if missing or extra:
        problems = [f"lacks input(s) {missing}"] if missing else []
        problems += [f"has unknown input(s) {extra}"] if extra else []
        raise _invalid(f"{field!r} {' and '.join(problems)}; signature {signature_name!r} takes {names}.")
    feeds, batch = {}, None
    for key in names:
        value = _cast(key, np.asarray(inputs[key]), input_dtypes[key])
        if value.ndim == 0:
            raise _invalid(f"Input {key!r} must have a batch dimension, got a scalar; send one value per example.")
        _check_shape(key, value, (input_shapes or {}).get(key))
        if batch is not None and value.shape[0] != batch:
            raise _invalid(
                f"Input {key!r} has batch size {value.shape[0]} but other inputs have {batch}; make them equal."
            )
        batch = value.shape[0]
        feeds[key] = value
    if not batch:
        raise _invalid(f"{field!r} is empty (batch size 0); send a non-empty list with one value per example.")
    if batch > max_batch_size:
        raise _invalid(f"Batch size {batch} is over this server's maximum of {max_batch_size}; split the request.")
    return feeds


def first_cause(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong."""
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
        self._runners, self._input_dtypes, self._input_shapes = {}, {}, {}
        for key, sig in self.signature_defs.items():
            self._input_dtypes[key] = {k: tf.dtypes.as_dtype(v.dtype) for k, v in sig.inputs.items()}
            self._input_shapes[key] = {
                k: None if v.tensor_shape.unknown_rank else [d.size for d in v.tensor_shape.dim]
                for k, v in sig.inputs.items()
            }
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
        self._signature(signature_name)
        return dict(self._input_dtypes[signature_name])

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
        field: str = "inputs",
    ) -> Dict[str, np.ndarray]:
        """Runs one signature; raises ServingError(INVALID_ARGUMENT) for inputs it cannot take (check_inputs)."""
        self._signature(signature_name)
        names, outputs, run = self._runners[signature_name]
        feeds = check_inputs(
            signature_name, self._input_dtypes[signature_name], inputs, self.max_batch_size, field,
            self._input_shapes[signature_name],
        )
        if output_filter:
            unknown = [k for k in output_filter if k not in outputs]
            if unknown:
                raise ServingError(
                    "INVALID_ARGUMENT", f"output_filter names {unknown}, not outputs of {signature_name!r}: {outputs}."
                )
        try:
            values = run(*(feeds[k] for k in names))
        except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as err:
            raise ServingError("INVALID_ARGUMENT", first_cause(err.message)) from None
        except ValueError as err:  # the session refuses a feed it cannot take (shape, dtype) before running
            raise ServingError(
                "INVALID_ARGUMENT", f"Signature {signature_name!r} cannot take these inputs: {err}"
            ) from None
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
