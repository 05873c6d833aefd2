import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mtl_keras import names
from mtl_keras.calibration import (
    IsotonicCalibrator, MultiTaskCalibration, PlattCalibrator, fit_multitask_calibration)
from mtl_keras.calibration.names import P_CTCVR_UNCALIBRATED, P_CTR_UNCALIBRATED, P_CVR_UNCALIBRATED


@pytest.fixture(scope="module")
def log():
    # Impressions whose model over-predicts CTR by 2x and CVR by 1.5x; 10% lost requests.
    rng = np.random.default_rng(0)
    n = 20_000
    true_ctr, true_cvr = rng.uniform(0.02, 0.3, n), rng.uniform(0.05, 0.4, n)
    click = (rng.uniform(size=n) < true_ctr).astype(int)
    conversion = click * (rng.uniform(size=n) < true_cvr).astype(int)
    frame = pd.DataFrame({names.WON: (rng.uniform(size=n) < 0.9).astype(int), names.CLICK: click,
                          names.CONVERSION: conversion, names.P_WIN: rng.uniform(0.2, 1.0, n),
                          "advertiser": rng.integers(0, 3, n)})
    outputs = {names.P_CTR: (2 * true_ctr).astype(np.float32), names.P_CVR: (1.5 * true_cvr).astype(np.float32),
               names.P_IMP: np.full(n, 0.5, np.float32)}
    outputs[names.P_CTCVR] = outputs[names.P_CTR] * outputs[names.P_CVR]
    return frame, outputs


def test_fit_calibrates_each_output_and_serves_the_product(log):
    frame, outputs = log
    calibration = fit_multitask_calibration(outputs, frame, space="impression", kind="platt")
    assert set(calibration.calibrators) == {names.P_CTR, names.P_CVR}
    out = calibration.apply(outputs)
    won = frame[names.WON].to_numpy() == 1
    clicked = won & (frame[names.CLICK].to_numpy() == 1)
    # Calibrated in aggregate on the rows each was fitted on (Platt's score equation for b).
    assert out[names.P_CTR][won].sum() == pytest.approx(frame[names.CLICK][won].sum(), rel=1e-6)
    assert out[names.P_CVR][clicked].sum() == pytest.approx(frame[names.CONVERSION][clicked].sum(), rel=1e-6)
    np.testing.assert_allclose(out[names.P_CTCVR], out[names.P_CTR] * out[names.P_CVR])
    assert np.all(out[names.P_CTCVR] <= out[names.P_CTR])
    np.testing.assert_array_equal(out[P_CTR_UNCALIBRATED], outputs[names.P_CTR])
    np.testing.assert_array_equal(out[P_CVR_UNCALIBRATED], outputs[names.P_CVR])
    np.testing.assert_array_equal(out[P_CTCVR_UNCALIBRATED], outputs[names.P_CTCVR])
    np.testing.assert_array_equal(out[names.P_IMP], outputs[names.P_IMP])  # passed through


def test_spaces_and_descriptions_are_recorded(log):
    frame, outputs = log
    calibration = fit_multitask_calibration(outputs, frame, space="request", kind="isotonic")
    ctr, cvr = calibration.calibrators[names.P_CTR], calibration.calibrators[names.P_CVR]
    assert ctr.space == "request" and ctr.weights_description == "min(1/max(p_win, 0.05), 20)"
    assert cvr.space == "request" and cvr.weights_description.startswith("min(1/max(p_ctr, 0.01), 100) * ")
    assert calibration.metadata["space"] == "request"
    click_do = fit_multitask_calibration(outputs, frame, space="click_do", kind="isotonic")
    assert click_do.calibrators[names.P_CTR].space == "impression"
    assert click_do.calibrators[names.P_CVR].space == "click_do"


def test_an_explicit_ctcvr_calibrator_replaces_the_product(log):
    frame, outputs = log
    calibration = fit_multitask_calibration(outputs, frame, kind="histogram", fit_ctcvr=True)
    out = calibration.apply(outputs)
    np.testing.assert_array_equal(out[names.P_CTCVR],
                                  calibration.calibrators[names.P_CTCVR].transform(outputs[names.P_CTCVR]))


def test_tf_apply_equals_apply_and_a_file_round_trip_keeps_it(log, tmp_path):
    frame, outputs = log
    calibration = fit_multitask_calibration(outputs, frame, kind="isotonic", slice_field="advertiser",
                                            prior_strength=500)
    features = {"advertiser": frame["advertiser"].to_numpy()}
    expected = calibration.apply(outputs, features)
    got = calibration.tf_apply({k: tf.constant(v) for k, v in outputs.items()},
                               {"advertiser": tf.constant(features["advertiser"])})
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key], atol=1e-6, err_msg=key)
        assert got[key].dtype == tf.float32
    path = calibration.save(str(tmp_path / "sub" / "calibration.json"))
    loaded = MultiTaskCalibration.load(path)
    assert loaded.slice_fields == {names.P_CTR: "advertiser", names.P_CVR: "advertiser"}
    for key, value in loaded.apply(outputs, pd.DataFrame(features)).items():
        np.testing.assert_array_equal(value, expected[key])


def test_hand_built_calibration_with_one_calibrator():
    ctr = PlattCalibrator(min_rows=1, min_positives=1).fit([0.2, 0.4, 0.6, 0.8], [0, 1, 0, 1])
    calibration = MultiTaskCalibration({names.P_CTR: ctr})
    outputs = {names.P_CTR: np.array([0.3]), names.P_CVR: np.array([0.5])}
    out = calibration.apply(outputs)
    # No CVR calibrator: the raw pCVR is served and the product uses it.
    assert out[names.P_CVR][0] == 0.5 and out[names.P_CTCVR][0] == pytest.approx(0.5 * ctr.transform([0.3])[0])
    assert out[P_CTCVR_UNCALIBRATED][0] == pytest.approx(0.15)
    with pytest.raises(ValueError, match="unknown output 'p_imp'"):
        MultiTaskCalibration({names.P_IMP: ctr})
    with pytest.raises(ValueError, match="must be a fitted calibrator"):
        MultiTaskCalibration({names.P_CTR: IsotonicCalibrator()})
