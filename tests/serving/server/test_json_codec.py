"""TF Serving's REST JSON forms, decoded against a signature's dtypes and encoded back."""
import base64
import json

import numpy as np
import pytest
import tensorflow as tf

from serving.errors import ServingError
from serving.server.json_codec import decode_inputs, format_predict_response, parse_json_object, signature_name
from serving.server.servable import check_inputs

RAW = {"user_id": tf.int64, "price": tf.float32, "bids": tf.float32}
EXAMPLES = {"examples": tf.string}


def _decode(body, dtypes):
    return decode_inputs(parse_json_object(json.dumps(body).encode()), dtypes)


def _parse(body, dtypes):
    """What the REST server does with a body: one parse, the JSON decoding, then the servable's one check."""
    columns, row_format = _decode(body, dtypes)
    field = "instances" if row_format else "inputs"
    return check_inputs("serving_default", dtypes, columns, max_batch_size=100, field=field), row_format


def test_rows_and_columns_decode_to_the_same_typed_arrays():
    rows = [{"user_id": 3, "price": 2, "bids": [1.0, 2.5]}, {"user_id": 4, "price": 0.5, "bids": [3, 4]}]
    by_rows, row_format = _parse({"instances": rows}, RAW)
    by_cols, col_format = _parse({"inputs": {"user_id": [3, 4], "price": [2, 0.5], "bids": [[1.0, 2.5], [3, 4]]}}, RAW)
    assert (row_format, col_format) == (True, False)
    for got in (by_rows, by_cols):
        assert got["user_id"].dtype == np.int64 and got["user_id"].tolist() == [3, 4]
        assert got["price"].dtype == np.float32 and got["price"].tolist() == [2.0, 0.5]  # a JSON int is a fine float
        assert got["bids"].shape == (2, 2) and got["bids"].tolist() == [[1.0, 2.5], [3.0, 4.0]]


def test_a_single_input_may_be_bare_or_named_and_b64_is_bytes():
    blobs = [b"\x00\xffraw", b"second"]
    encoded = [{"b64": base64.b64encode(b).decode()} for b in blobs]
    for body in ({"instances": encoded}, {"instances": [{"examples": e} for e in encoded]},
                 {"inputs": encoded}, {"inputs": {"examples": encoded}}):
        got, _ = _parse(body, EXAMPLES)
        assert got["examples"].tolist() == blobs
    plain, _ = _parse({"instances": ["text"]}, EXAMPLES)
    assert plain["examples"].tolist() == [b"text"]  # a JSON string is its UTF-8 bytes


@pytest.mark.parametrize("body,message", [
    ({"instances": [{"user_id": True, "price": 1.0, "bids": [1.0]}]}, "expected a number"),
    ({"instances": [{"user_id": 1, "price": "x", "bids": [1.0]}]}, "expected a number"),
    ({"instances": [{"user_id": 1, "price": 1.0, "bids": [1.0], "extra": 1}]}, "unknown input(s) ['extra']"),
    ({"instances": [{"user_id": 1, "price": 1.0, "bids": [1.0]}, {"user_id": 2, "price": 1.0, "bids": [1.0, 2.0]}]},
     "rectangular"),
    ({"inputs": {"user_id": [], "price": [], "bids": []}}, "non-empty list"),
    ({"instances": {"user_id": 1}}, "must be a list"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_bodies_name_the_problem(body, message):
    with pytest.raises(ServingError) as err:
        _parse(body, RAW)
    assert err.value.code == "INVALID_ARGUMENT" and err.value.http_status == 400
    assert message in err.value.message, err.value.message


def test_responses_in_tf_serving_form():
    outputs = {"p_ctr": np.array([0.25, 0.5], np.float32), "p_cvr": np.array([0.125, 1.0], np.float32)}
    assert json.loads(format_predict_response(outputs, row_format=True)) == {
        "predictions": [{"p_ctr": 0.25, "p_cvr": 0.125}, {"p_ctr": 0.5, "p_cvr": 1.0}]
    }
    assert json.loads(format_predict_response(outputs, row_format=False)) == {
        "outputs": {"p_ctr": [0.25, 0.5], "p_cvr": [0.125, 1.0]}
    }
    # One output: its name is dropped, as TF Serving does.
    one = {"p_win": np.array([[0.1, 0.2]], np.float32)}
    assert json.loads(format_predict_response(one, row_format=True)) == {"predictions": [[np.float32(0.1).item(),
                                                                                          np.float32(0.2).item()]]}
    blobs = {"raw": np.array([b"\x01\x02"], dtype=object)}
    assert json.loads(format_predict_response(blobs, row_format=False)) == {"outputs": [{"b64": "AQI="}]}


def test_decoding_leaves_names_batch_and_dtype_to_the_servable():
    # Each of these is a tensor-level fault that check_inputs alone reports; the codec passes it through.
    missing, _ = _decode({"instances": [{"user_id": 3, "price": 1.0}]}, RAW)
    assert sorted(missing) == ["price", "user_id"]
    unknown, _ = _decode({"inputs": {"user_id": [3], "price": [1.0], "bids": [[1.0]], "extra": [[1, "x"], 2]}}, RAW)
    assert unknown["extra"].dtype == object and unknown["extra"].shape == (2,)
    empty, row_format = _decode({"instances": []}, RAW)
    assert row_format and sorted(empty) == sorted(RAW) and all(v.shape == (0,) for v in empty.values())
    scalar, _ = _decode({"inputs": {"user_id": 3, "price": [1.0, 2.0], "bids": [[1.0]]}}, RAW)
    assert scalar["user_id"].shape == () and scalar["price"].shape == (2,)
    # JSON numbers at full width; the cast to the signature's dtype is the servable's.
    assert scalar["user_id"].dtype == np.int64 and scalar["price"].dtype == np.float64
    assert _decode({"inputs": "text"}, EXAMPLES)[0]["examples"].shape == ()


@pytest.mark.parametrize("body,dtypes,message", [
    ({"instances": [{"user_id": 1, "price": 1.0, "bids": [1.0]}, {"user_id": 1, "price": 1.0}]}, RAW,
     "instances[1] has keys ['price', 'user_id'] but instances[0] has ['bids', 'price', 'user_id']"),
    ({"instances": [1, 2]}, RAW, "instances[0] must be an object with keys ['bids', 'price', 'user_id']"),
    ({"instances": [{"b64": "AQI="}]}, RAW, "instances[0] must be an object"),
    ({"inputs": [1, 2]}, RAW, "'inputs' must be an object with keys"),
    ({"inputs": {"user_id": [2 ** 70], "price": [1.0], "bids": [[1.0]]}}, RAW, "does not fit in int64"),
    ({"inputs": [["a"], ["b", "c"]]}, EXAMPLES, "rectangular string tensor"),
    ({"inputs": [5]}, EXAMPLES, "expected a string or {'b64': ...}, got 5"),
    ({"inputs": {"examples": [{"b64": "%%"}]}}, EXAMPLES, "inputs['examples']: invalid base64"),
    ({}, RAW, "exactly one of 'instances'"),
])
def test_json_level_errors_are_the_codecs(body, dtypes, message):
    with pytest.raises(ServingError) as err:
        _decode(body, dtypes)
    assert err.value.code == "INVALID_ARGUMENT" and message in err.value.message, err.value.message


def test_signature_name_must_be_a_string():
    assert signature_name({}, "serving_default") == "serving_default"
    assert signature_name({"signature_name": "predict_raw"}, "serving_default") == "predict_raw"
    with pytest.raises(ServingError, match="'signature_name' must be a string"):
        signature_name({"signature_name": ["predict_raw"]}, "serving_default")
