"""TF Serving's REST JSON forms, decoded against a signature's dtypes and encoded back."""
import base64
import json

import numpy as np
import pytest
import tensorflow as tf

from serving.errors import ServingError
from serving.json_codec import format_predict_response, parse_predict_request

RAW = {"user_id": tf.int64, "price": tf.float32, "bids": tf.float32}
EXAMPLES = {"examples": tf.string}


def _parse(body, dtypes):
    return parse_predict_request(json.dumps(body).encode(), dtypes)


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
