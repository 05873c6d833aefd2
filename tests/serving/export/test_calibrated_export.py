"""A calibrated export: every signature serves calibrated p_ctr / p_cvr / p_ctcvr and the raw `_uncalibrated` ones."""
import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras import names
from mtl_keras.calibration import MultiTaskCalibration, fit_multitask_calibration
from serving import names as serving_names
from serving.export.exporter import CALIBRATION_FILE, export_serving_model
from serving_fixtures import build_small_model, keras_predict, sample_rows, small_spec

RAW = [names.P_CTR + "_uncalibrated", names.P_CVR + "_uncalibrated", names.P_CTCVR + "_uncalibrated"]


@pytest.fixture(scope="module", params=[None, "ad_id"], ids=["global", "sliced_by_ad"])
def calibrated_export(request, tmp_path_factory):
    spec = small_spec()
    model = build_small_model(spec, seed=3)
    rows = sample_rows(3000, seed=5)
    outputs = keras_predict(model, rows)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rows)
    # Labels drawn from a known miscalibration: the true CTR is 0.8x the model's, the CVR a third.
    frame[names.CLICK] = (rng.random(len(frame)) < 0.8 * outputs[names.P_CTR]).astype(int)
    frame[names.CONVERSION] = frame[names.CLICK] * (rng.random(len(frame)) < outputs[names.P_CVR] / 3).astype(int)
    calibration = fit_multitask_calibration(outputs, frame, kind="platt", slice_field=request.param,
                                            prior_strength=200.0, calibrator_kwargs={"min_positives": 5})
    path = export_serving_model(model, spec, str(tmp_path_factory.mktemp("calibrated")), version=1,
                                calibration=calibration)
    return model, calibration, path


def _examples(rows):
    out = []
    for row in rows:
        feature = {"user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[row["user_id"]])),
                   "ad_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[row["ad_id"]])),
                   "price": tf.train.Feature(float_list=tf.train.FloatList(value=[row["price"]]))}
        out.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return out


def _reference(model, calibration, rows):
    raw = keras_predict(model, rows)
    return calibration.apply(raw, features=pd.DataFrame(rows)), raw


def test_tf1_session_loader_serves_calibrated_and_raw_outputs(calibrated_export):
    model, calibration, path = calibrated_export
    rows = sample_rows(40, seed=9)
    want, raw = _reference(model, calibration, rows)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        for signature in (serving_names.SERVING_DEFAULT, serving_names.SIGNATURE_PREDICT_RAW):
            sig = meta.signature_def[signature]
            assert set(sig.outputs) == set(names.PREDICTION_KEYS) | set(RAW)
        sig = meta.signature_def[serving_names.SERVING_DEFAULT]
        got = sess.run({k: v.name for k, v in sig.outputs.items()},
                       {sig.inputs[serving_names.SERVING_INPUT_EXAMPLES].name: _examples(rows)})
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got[key + "_uncalibrated"], raw[key], rtol=1e-6, atol=1e-7)
    # The funnel stays consistent: the served pCTCVR is the product of the calibrated heads.
    np.testing.assert_allclose(got[names.P_CTCVR], got[names.P_CTR] * got[names.P_CVR], rtol=1e-5)
    # The miscalibration was corrected: calibrated pCTR is about 0.8x the raw one on average.
    assert 0.7 < got[names.P_CTR].mean() / got[names.P_CTR + "_uncalibrated"].mean() < 0.9


def test_raw_signature_and_warmup_and_the_calibration_file(calibrated_export):
    model, calibration, path = calibrated_export
    rows = sample_rows(7, seed=11)
    want, _ = _reference(model, calibration, rows)
    loaded = tf.saved_model.load(path)
    features = {"user_id": tf.constant([r["user_id"] for r in rows], tf.int64),
                "ad_id": tf.constant([r["ad_id"] for r in rows], tf.int64),
                "price": tf.constant([r["price"] for r in rows], tf.float32)}
    got = loaded.signatures[serving_names.SIGNATURE_PREDICT_RAW](**features)
    for key in names.PREDICTION_KEYS:
        np.testing.assert_allclose(got[key].numpy(), want[key], rtol=1e-5, atol=1e-7)
    assert os.path.getsize(os.path.join(path, "assets.extra", "tf_serving_warmup_requests")) > 0
    with open(os.path.join(path, "assets.extra", CALIBRATION_FILE)) as f:
        assert MultiTaskCalibration.from_dict(json.load(f)).to_dict() == calibration.to_dict()


def test_a_slice_field_outside_the_features_is_refused(tmp_path):
    spec = small_spec()
    model = build_small_model(spec, seed=3)
    rows = sample_rows(2000, seed=5)
    outputs = keras_predict(model, rows)
    frame = pd.DataFrame(rows)
    frame["campaign"] = frame["ad_id"] % 3
    frame[names.CLICK] = (np.random.default_rng(1).random(len(frame)) < 0.3).astype(int)
    frame[names.CONVERSION] = frame[names.CLICK]
    frame.loc[::2, names.CONVERSION] = 0
    calibration = fit_multitask_calibration(outputs, frame, kind="platt", slice_field="campaign")
    with pytest.raises(ValueError, match=r"sliced by \['campaign'\], which are not raw features"):
        export_serving_model(model, spec, str(tmp_path), version=1, calibration=calibration)
