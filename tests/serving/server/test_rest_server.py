"""The local server's REST API against TF Serving's contract, with raw HTTP (no client of ours)."""
import base64
import http.client
import json

import numpy as np
import pytest

from mtl_keras import names
from serving.export import warmup
from serving.export.signatures import raw_feature_spec
from serving_fixtures import keras_predict, sample_rows
from serving import names as serving_names

ROWS = sample_rows(5, seed=11)


def _call(server, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=30)
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    conn.request(method, path, body=body)
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


def _columns(rows):
    return {k: [r[k] for r in rows] for k in rows[0]}


def test_predict_row_columnar_and_b64_formats_give_the_keras_numbers(server, model, spec):
    want = keras_predict(model, ROWS)
    status, rows = _call(server, "POST", "/v1/models/ctr:predict", {"signature_name": "predict_raw", "instances": ROWS})
    assert status == 200
    assert [sorted(r) for r in rows["predictions"]] == [sorted(names.PREDICTION_KEYS)] * len(ROWS)
    status, cols = _call(
        server, "POST", "/v1/models/ctr/versions/1:predict", {"signature_name": "predict_raw", "inputs": _columns(ROWS)}
    )
    assert status == 200
    b64 = [{"b64": base64.b64encode(e).decode()} for e in warmup.serialize_examples(ROWS, raw_feature_spec(spec))]
    # serving_default is the default signature; its one input may be given bare or by name.
    _, bare = _call(server, "POST", "/v1/models/ctr/labels/stable:predict", {"instances": b64})
    _, named = _call(server, "POST", "/v1/models/ctr:predict", {"inputs": {"examples": b64}})
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose([r[key] for r in rows["predictions"]], want[key], rtol=1e-6)
        np.testing.assert_allclose(cols["outputs"][key], want[key], rtol=1e-6)
        np.testing.assert_allclose([r[key] for r in bare["predictions"]], want[key], rtol=1e-6)
        np.testing.assert_allclose(named["outputs"][key], want[key], rtol=1e-6)


def test_status_and_metadata(server):
    status, body = _call(server, "GET", "/v1/models/ctr")
    assert status == 200
    assert body == {
        "model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]
    }
    assert _call(server, "GET", "/v1/models/ctr/versions/1")[1] == body
    assert _call(server, "GET", "/v1/models/ctr/labels/stable")[1] == body
    status, meta = _call(server, "GET", "/v1/models/ctr/metadata")
    assert status == 200
    assert meta["model_spec"] == {"name": "ctr", "signature_name": "", "version": "1"}
    sigs = meta["metadata"]["signature_def"]["signature_def"]
    assert set(sigs) == {serving_names.SERVING_DEFAULT, serving_names.SIGNATURE_PREDICT_RAW}
    assert sigs[serving_names.SERVING_DEFAULT]["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert sigs[serving_names.SIGNATURE_PREDICT_RAW]["inputs"]["user_id"]["dtype"] == "DT_INT64"
    assert sorted(sigs[serving_names.SERVING_DEFAULT]["outputs"]) == sorted(names.PREDICTION_KEYS)


RAW = {"signature_name": "predict_raw"}
BAD_REQUESTS = [
    ("malformed JSON", b'{"instances": [1, 2', "Malformed JSON"),
    ("invalid b64", {"instances": [{"b64": "not base64!"}]}, "invalid base64"),
    ("unknown signature", {"signature_name": "nope", "instances": ROWS}, 'signature key "nope" not found'),
    ("missing feature", {**RAW, "instances": [{"user_id": 1, "ad_id": 2}]}, "lacks input(s) ['price']"),
    ("missing feature in a tf.Example", {"instances": [{"b64": base64.b64encode(b"").decode()}]}, "is required"),
    ("wrong dtype", {**RAW, "instances": [{"user_id": "u1", "ad_id": 2, "price": 1.0}]}, "expected a number"),
    ("float for an int64", {**RAW, "inputs": {"user_id": [1.5], "ad_id": [2], "price": [1.0]}}, "expected an integer"),
    ("empty instances", {**RAW, "instances": []}, "'instances' is empty"),
    ("batch over the maximum", {**RAW, "instances": sample_rows(65)}, "over this server's maximum of 64"),
    ("both formats", {**RAW, "instances": ROWS, "inputs": _columns(ROWS)}, "exactly one of"),
    ("ragged columns", {**RAW, "inputs": {"user_id": [1, 2], "ad_id": [2], "price": [1.0, 2.0]}}, "batch size"),
    ("body not an object", [ROWS[0]], "must be a JSON object"),
    ("signature_name not a string", {"signature_name": 1, "instances": ROWS}, "'signature_name' must be a string"),
    ("instance not an object", {**RAW, "instances": [1, 2]}, "instances[0] must be an object"),
    ("instances with other keys", {**RAW, "instances": [ROWS[0], {"user_id": 1, "ad_id": 2}]}, "instances[1] has keys"),
    ("'inputs' not an object", {**RAW, "inputs": [1, 2]}, "'inputs' must be an object"),
    ("ragged values", {**RAW, "instances": [{**ROWS[0], "price": [1.0]}, {**ROWS[1], "price": [1.0, 2.0]}]},
     "rectangular"),
    ("number for a string", {"instances": [5]}, "expected a string or {'b64': ...}"),
    ("int64 overflow", {**RAW, "inputs": {**_columns(ROWS[:1]), "user_id": [2 ** 70]}}, "does not fit in int64"),
    ("unknown input", {**RAW, "inputs": {**_columns(ROWS[:1]), "bid": [1.0]}}, "has unknown input(s) ['bid']"),
    ("scalar input", {**RAW, "inputs": {**ROWS[0]}}, "must have a batch dimension"),
    ("empty columns", {**RAW, "inputs": {k: [] for k in ROWS[0]}}, "'inputs' is empty"),
]


@pytest.mark.parametrize("what,body,message", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input_is_a_400_with_a_clear_message_and_serving_goes_on(server, what, body, message):
    status, data = _call(server, "POST", "/v1/models/ctr:predict", body)
    assert status == 400, data
    assert set(data) == {"error"} and message in data["error"], data["error"]
    status, after = _call(server, "POST", "/v1/models/ctr:predict", {**RAW, "instances": ROWS[:1]})
    assert status == 200 and len(after["predictions"]) == 1


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/models/nope"),
        ("GET", "/v1/models/ctr/versions/9"),
        ("POST", "/v1/models/ctr/versions/9:predict"),
        ("POST", "/v1/models/ctr/labels/canary:predict"),
        ("GET", "/v2/whatever"),
    ],
)
def test_unknown_model_version_label_or_path_is_404(server, method, path):
    status, data = _call(server, method, path, {**RAW, "instances": ROWS[:1]} if method == "POST" else None)
    assert status == 404 and "error" in data
