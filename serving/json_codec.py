"""TF Serving REST JSON <-> numpy: `instances` (row) and `inputs` (columnar) requests, `{"b64": ...}`."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Mapping, Tuple

import numpy as np

from serving.errors import ServingError


def _bad(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["b64"]


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


def _column(values: List[Any], dtype: Any, where: str) -> np.ndarray:
    kind = _kind(dtype)
    checked = [_check_value(v, kind, where) for v in values]
    if kind == "string":
        array = np.empty(len(checked), dtype=object)
        array[:] = checked
        return array
    try:
        return np.asarray(checked, dtype=dtype.as_numpy_dtype if hasattr(dtype, "as_numpy_dtype") else dtype)
    except (ValueError, OverflowError) as err:
        raise _bad(f"{where}: values do not form a rectangular {kind} tensor ({err}).") from None


def parse_predict_request(body: bytes, input_dtypes: Mapping[str, Any]) -> Tuple[Dict[str, np.ndarray], bool]:
    """(inputs by name, row_format) from a REST predict body, checked against the signature's inputs."""
    request = parse_json_object(body)
    has_rows, has_cols = "instances" in request, "inputs" in request
    if has_rows == has_cols:
        raise _bad("The request must have exactly one of 'instances' (row format) or 'inputs' (columnar format).")
    names = sorted(input_dtypes)
    if has_rows:
        rows = request["instances"]
        if not isinstance(rows, list):
            raise _bad("'instances' must be a list with one element per example.")
        if not rows:
            raise _bad("'instances' is empty; send at least one instance.")
        columns: Dict[str, List[Any]] = {n: [] for n in names}
        for i, row in enumerate(rows):
            if len(names) == 1 and not (isinstance(row, dict) and not _is_b64(row)):
                columns[names[0]].append(row)
                continue
            if not isinstance(row, dict) or _is_b64(row):
                raise _bad(f"instances[{i}] must be an object with keys {names}.")
            missing = [n for n in names if n not in row]
            if missing:
                raise _bad(f"instances[{i}] lacks input(s) {missing}; this signature needs {names}.")
            extra = sorted(set(row) - set(names))
            if extra:
                raise _bad(f"instances[{i}] has unknown input(s) {extra}; this signature takes {names}.")
            for n in names:
                columns[n].append(row[n])
        return {n: _column(columns[n], input_dtypes[n], f"instances input {n!r}") for n in names}, True
    inputs = request["inputs"]
    if len(names) == 1 and not isinstance(inputs, dict):
        inputs = {names[0]: inputs}
    if not isinstance(inputs, dict):
        raise _bad(f"'inputs' must be an object with keys {names}.")
    missing = [n for n in names if n not in inputs]
    extra = sorted(set(inputs) - set(names))
    if missing or extra:
        raise _bad(f"'inputs' lacks {missing} and has unknown {extra}; this signature takes {names}.")
    out = {}
    for n in names:
        if not isinstance(inputs[n], list) or not inputs[n]:
            raise _bad(f"inputs[{n!r}] must be a non-empty list with one value per example.")
        out[n] = _column(inputs[n], input_dtypes[n], f"inputs[{n!r}]")
    return out, False


def parse_json_object(body: bytes) -> Dict[str, Any]:
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise _bad(f"Malformed JSON in the request body: {err}.") from None
    if not isinstance(request, dict):
        raise _bad("The request body must be a JSON object.")
    return request


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
