"""export_serving_model: layout, signatures, and the same numbers through every loader TF Serving uses."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import names
from serving.export import warmup
from serving.export.exporter import export_serving_model, list_versions, save_serving_model
from serving.export.signatures import raw_feature_spec
from serving_fixtures import keras_predict, sample_rows
from serving import names as serving_names

ROWS = sample_rows(7, seed=3)


def _examples(spec, rows=ROWS):
    return warmup.serialize_examples(rows, raw_feature_spec(spec))


def test_layout_and_signatures(exported):
    base, path = exported
    assert path == os.path.join(base, "1")
    assert list_versions(base) == [1]
    assert sorted(os.listdir(base)) == ["1"]  # the temporary directory was renamed, not copied
    assert os.path.exists(os.path.join(path, "saved_model.pb"))
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {serving_names.SERVING_DEFAULT, serving_names.SIGNATURE_PREDICT_RAW}
    default = loaded.signatures[serving_names.SERVING_DEFAULT]
    assert list(default.structured_input_signature[1]) == [serving_names.SERVING_INPUT_EXAMPLES]
    assert set(default.structured_outputs) == set(names.PREDICTION_KEYS)
    raw = loaded.signatures[serving_names.SIGNATURE_PREDICT_RAW].structured_input_signature[1]
    assert {k: v.dtype for k, v in raw.items()} == {"user_id": tf.int64, "ad_id": tf.int64, "price": tf.float32}


def test_tf2_signatures_match_keras(exported, model, spec):
    _, path = exported
    want = keras_predict(model, ROWS)
    loaded = tf.saved_model.load(path)
    got = loaded.signatures[serving_names.SERVING_DEFAULT](examples=tf.constant(_examples(spec)))
    columns = warmup.columns(ROWS, raw_feature_spec(spec))
    got_raw = loaded.signatures[serving_names.SIGNATURE_PREDICT_RAW](**{k: tf.constant(v) for k, v in columns.items()})
    for key in names.PREDICTION_KEYS:
        assert got[key].shape == (len(ROWS),)
        np.testing.assert_allclose(got[key].numpy(), want[key], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got_raw[key].numpy(), want[key], rtol=1e-6, atol=1e-7)
    # p_ctcvr is the product of the two heads, row by row.
    np.testing.assert_allclose(want[names.P_CTCVR], want[names.P_CTR] * want[names.P_CVR], rtol=1e-6)


def test_tf1_session_loader_matches_keras(exported, model, spec):
    """What TF Serving's C++ loader does: graph mode, a Session, tag 'serve', tensors by signature name."""
    _, path = exported
    want = keras_predict(model, ROWS)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        sig = meta.signature_def[serving_names.SERVING_DEFAULT]
        assert sig.method_name == "tensorflow/serving/predict"
        fetches = {k: sig.outputs[k].name for k in names.PREDICTION_KEYS}
        got = sess.run(fetches, {sig.inputs[serving_names.SERVING_INPUT_EXAMPLES].name: _examples(spec)})
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-7)


def test_saved_model_cli_run_matches_keras(exported, model, tmp_path):
    """`saved_model_cli run` on serving_default, fed tf.Examples it builds itself."""
    _, path = exported
    want = keras_predict(model, ROWS)
    examples = [{k: [v] for k, v in row.items()} for row in ROWS]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    subprocess.run(
        [cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", serving_names.SERVING_DEFAULT,
         "--input_examples", f"{serving_names.SERVING_INPUT_EXAMPLES}={examples!r}", "--outdir", str(tmp_path), "--overwrite"],
        check=True, capture_output=True, timeout=240,
    )
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(np.load(tmp_path / f"{key}.npy"), want[key], rtol=1e-6, atol=1e-7)


def test_warmup_records_are_prediction_logs_that_replay(exported):
    _, path = exported
    logs = warmup.read_warmup_requests(path)
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        serving_names.SERVING_DEFAULT, serving_names.SIGNATURE_PREDICT_RAW,
    ]
    loaded = tf.saved_model.load(path)
    results = []
    for log in logs:
        request = log.predict_log.request
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        results.append(loaded.signatures[request.model_spec.signature_name](**inputs))
    assert results[0][names.P_CTR].shape == (3,)  # the 3 warmup rows of the fixture
    # Both records hold the same rows, so both signatures give the same numbers.
    np.testing.assert_allclose(results[0][names.P_CTR], results[1][names.P_CTR], rtol=1e-6)


def test_versions_auto_increment_and_never_overwrite(tmp_path, exported, model, spec):
    base = str(tmp_path / "m")
    os.makedirs(os.path.join(base, ".tmp-9-abc"))  # an unfinished export: not a version
    os.makedirs(os.path.join(base, "7"))  # no saved_model.pb: not a version either
    assert list_versions(base) == []
    shutil.copytree(exported[1], os.path.join(base, "3"))
    second = export_serving_model(model, spec, base)
    assert os.path.basename(second) == "4"
    assert list_versions(base) == [3, 4]
    with pytest.raises(ValueError, match="exists already"):
        export_serving_model(model, spec, base, version=4)
    with pytest.raises(ValueError, match="positive int"):
        export_serving_model(model, spec, base, version=0)
    assert sorted(os.listdir(base)) == [".tmp-9-abc", "3", "4", "7"]  # a failed export leaves nothing behind


def test_bad_warmup_rows_are_rejected_before_writing(tmp_path, model, spec):
    base = str(tmp_path / "m")
    with pytest.raises(ValueError, match="lacks feature 'price'"):
        export_serving_model(model, spec, base, warmup_examples=[{"user_id": 1, "ad_id": 2}])
    assert os.listdir(base) == []
    os.makedirs(os.path.join(base, "taken", "x"))
    with pytest.raises(ValueError, match="is not empty"):
        save_serving_model(model, spec, os.path.join(base, "taken"))


def test_ctr_only_model_exports_and_serves_only_p_ctr(tmp_path, spec):
    """A single-task model (objective ctr) exports; both signatures return its one output."""
    from serving_fixtures import build_small_model

    ctr_model = build_small_model(spec, objective="ctr")
    want = keras_predict(ctr_model, ROWS)
    assert set(want) == {names.P_CTR}
    path = export_serving_model(ctr_model, spec, str(tmp_path / "ctr_only"), version=1,
                                warmup_examples=sample_rows(3))
    loaded = tf.saved_model.load(path)
    default = loaded.signatures[serving_names.SERVING_DEFAULT]
    assert set(default.structured_outputs) == {names.P_CTR}
    got = default(examples=tf.constant(_examples(spec)))
    columns = warmup.columns(ROWS, raw_feature_spec(spec))
    got_raw = loaded.signatures[serving_names.SIGNATURE_PREDICT_RAW](**{k: tf.constant(v) for k, v in columns.items()})
    assert set(got) == set(got_raw) == {names.P_CTR}
    np.testing.assert_allclose(got[names.P_CTR].numpy(), want[names.P_CTR], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got_raw[names.P_CTR].numpy(), want[names.P_CTR], rtol=1e-6, atol=1e-7)
