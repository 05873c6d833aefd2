"""TF Serving REST JSON <-> numpy: `instances` (row) and `inputs` (columnar) requests, `{"b64": ...}`.

The body is parsed once (`parse_json_object`); `decode_inputs` turns that dict into arrays with JSON-level
checks only: structure, base64, the kind of each value (string, integer, float) and rectangular lists.
Which inputs a signature takes, batch sizes and exact dtypes are checked once, for REST and gRPC alike,
by `servable.check_inputs`.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from serving.errors import ServingError

# JSON numbers decode at full width; check_inputs casts them to the signature's dtype.
_NUMPY = {"int": np.int64, "float": np.float64}


def _bad(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["b64"]


def parse_json_object(body: bytes) -> Dict[str, Any]:
    """The request body as a dict: the one `json.loads` of a request."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise _bad(f"Malformed JSON in the request body: {err}.") from None
    except RecursionError:
        raise _bad(
            "Malformed JSON in the request body: nested too deeply; a predict request needs only a few levels "
            "of lists and objects."
        ) from None
    if not isinstance(request, dict):
        raise _bad("The request body must be a JSON object.")
    return request


def signature_name(request: Mapping[str, Any], default: str) -> str:
    name = request.get("signature_name", default)
    if not isinstance(name, str):
        raise _bad("'signature_name' must be a string.")
    return name


def _check_value(value: Any, kind: str, where: str) -> Any:
    """One JSON leaf as a Python value of the input's kind ('string', 'int', 'float'); lists recurse."""
    if isinstance(value, list):
        return [_check_value(v, kind, where) for v in value]
    if kind == "string":
        if _is_b64(value):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise _bad(f"{where}: invalid base64 in {{'b64': ...}}; encode the bytes with standard base64.") from None
        if isinstance(value, str):
            return value.encode("utf-8")
        raise _bad(f"{where}: expected a string or {{'b64': ...}}, got {json.dumps(value)}.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(f"{where}: expected a number of type {kind}, got {json.dumps(value)}.")
    if kind == "int" and not isinstance(value, int):
        raise _bad(f"{where}: expected an integer (int64), got {json.dumps(value)}.")
    return value


def _kind(dtype: Any) -> str:
    import tensorflow as tf

    dtype = tf.dtypes.as_dtype(dtype)
    if dtype == tf.string:
        return "string"
    return "int" if dtype.is_integer else "float"


def _untyped(value: Any) -> np.ndarray:
    # A name the signature lacks has no kind to decode by; check_inputs rejects it by name before any use.
    if not isinstance(value, list):
        return np.array(value, dtype=object)
    array = np.empty(len(value), dtype=object)
    for i, v in enumerate(value):
        array[i] = v
    return array


def _column(value: Any, kind: Optional[str], where: str) -> np.ndarray:
    """One input's JSON value (a list with one element per example, or a scalar) as an array of its kind."""
    if kind is None:
        return _untyped(value)
    checked = _check_value(value, kind, where)
    try:
        if kind != "string":
            return np.asarray(checked, dtype=_NUMPY[kind])
        array = np.array(checked, dtype=object)
        if any(isinstance(v, list) for v in array.flat):  # numpy keeps ragged lists as objects
            raise ValueError("lists of different lengths")
        return array
    except OverflowError as err:
        raise _bad(f"{where}: a value does not fit in int64 ({err}).") from None
    except ValueError as err:
        raise _bad(f"{where}: values do not form a rectangular {kind} tensor ({err}).") from None


def _row_columns(rows: Any, names: Sequence[str]) -> Dict[str, List[Any]]:
    """`instances` as one list per key; a one-input signature also takes bare values as instances."""
    if not isinstance(rows, list):
        raise _bad("'instances' must be a list with one element per example.")
    if not rows:  # no keys to read: each signature input gets an empty batch, which check_inputs reports
        return {n: [] for n in names}
    columns: Optional[Dict[str, List[Any]]] = None
    for i, row in enumerate(rows):
        is_object = isinstance(row, dict) and not _is_b64(row)
        if len(names) == 1 and not is_object:
            row = {names[0]: row}
        elif not is_object:
            raise _bad(f"instances[{i}] must be an object with keys {list(names)}.")
        if columns is None:
            columns = {k: [] for k in row}
        elif row.keys() != columns.keys():
            raise _bad(
                f"instances[{i}] has keys {sorted(row)} but instances[0] has {sorted(columns)}; "
                "give every instance the same keys."
            )
        for k, v in row.items():
            columns[k].append(v)
    return columns


def decode_inputs(
    request: Mapping[str, Any], input_dtypes: Mapping[str, Any]
) -> Tuple[Dict[str, np.ndarray], bool]:
    """(arrays by input name, row_format) from a parsed predict request, decoded by the signature's dtypes."""
    has_rows, has_cols = "instances" in request, "inputs" in request
    if has_rows == has_cols:
        raise _bad("The request must have exactly one of 'instances' (row format) or 'inputs' (columnar format).")
    kinds = {n: _kind(d) for n, d in input_dtypes.items()}
    names = sorted(kinds)
    if has_rows:
        columns = _row_columns(request["instances"], names)
        return {n: _column(v, kinds.get(n), f"instances input {n!r}") for n, v in columns.items()}, True
    inputs = request["inputs"]
    if len(names) == 1 and not isinstance(inputs, dict):
        inputs = {names[0]: inputs}
    if not isinstance(inputs, dict):
        raise _bad(f"'inputs' must be an object with keys {names}.")
    return {n: _column(v, kinds.get(n), f"inputs[{n!r}]") for n, v in inputs.items()}, False


def _jsonable(array: np.ndarray) -> Any:
    if array.dtype == object or array.dtype.kind == "S":
        return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])(array).tolist()
    return array.tolist()


def format_predict_response(outputs: Mapping[str, np.ndarray], row_format: bool) -> bytes:
    """TF Serving's response: {"predictions": [...]} for rows, {"outputs": ...} for columns."""
    names = sorted(outputs)
    columns = {n: _jsonable(outputs[n]) for n in names}
    if not row_format:
        return json.dumps({"outputs": columns[names[0]] if len(names) == 1 else columns}).encode()
    if len(names) == 1:
        return json.dumps({"predictions": columns[names[0]]}).encode()
    batch = len(columns[names[0]])
    rows = [{n: columns[n][i] for n in names} for i in range(batch)]
    return json.dumps({"predictions": rows}).encode()
