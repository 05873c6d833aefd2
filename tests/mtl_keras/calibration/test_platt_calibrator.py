import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mtl_keras.calibration import PlattCalibrator, calibrator_from_dict
from mtl_keras.calibration.platt import logit_np

GRID = np.linspace(0.0, 1.0, 1001)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.9, size=2000)
    # Over-confident model: the true rate is sigmoid(0.6 * logit(p) - 0.4).
    y = (rng.uniform(size=p.size) < 1 / (1 + np.exp(-(0.6 * logit_np(p) - 0.4)))).astype(float)
    w = rng.uniform(0.5, 3.0, size=p.size)
    return p, y, w


def _sklearn(p, y, w, fit_intercept=True):
    model = LogisticRegression(C=1e12, solver="newton-cholesky", tol=1e-12, max_iter=1000,
                               fit_intercept=fit_intercept)
    return model.fit(logit_np(p)[:, None], y, sample_weight=w)


@pytest.mark.parametrize("weighted", [False, True])
def test_equals_sklearn_logistic_regression_on_logit_p(data, weighted):
    p, y, w = data
    w = w if weighted else None
    calibrator = PlattCalibrator(eps=0.0).fit(p, y, sample_weight=w)
    reference = _sklearn(p, y, w)
    assert calibrator.a == pytest.approx(reference.coef_[0, 0], abs=1e-6)
    assert calibrator.b == pytest.approx(reference.intercept_[0], abs=1e-6)
    assert 0.5 < calibrator.a < 0.7 and -0.55 < calibrator.b < -0.25  # near the truth (0.6, -0.4)
    np.testing.assert_allclose(calibrator.transform(p), reference.predict_proba(logit_np(p)[:, None])[:, 1],
                               atol=1e-7)


def test_temperature_fits_the_scale_alone(data):
    p, y, w = data
    calibrator = PlattCalibrator(temperature=True).fit(p, y, sample_weight=w)
    reference = _sklearn(p, y, w, fit_intercept=False)
    assert calibrator.b == 0.0
    assert calibrator.a == pytest.approx(reference.coef_[0, 0], abs=1e-6)
    assert calibrator.transform([0.5])[0] == pytest.approx(0.5)  # temperature keeps 0.5 fixed


def test_a_backwards_ranking_gives_the_constant_weighted_rate():
    # High p are negatives: the free fit has a < 0; a >= 0 leaves a = 0, b = logit(Σwy / Σw).
    p = np.tile([0.2, 0.8], 10)
    y = np.tile([1.0, 0.0], 10)
    w = np.tile([1.0, 3.0], 10)  # weighted rate 10 / 40 = 0.25
    calibrator = PlattCalibrator(min_rows=1, min_positives=1).fit(p, y, sample_weight=w)
    assert calibrator.a == 0.0
    np.testing.assert_allclose(calibrator.transform(GRID), 0.25)


def test_monotone_on_a_grid_and_clipped(data):
    p, y, _ = data
    out = PlattCalibrator(eps=1e-3).fit(p, y).transform(GRID)
    assert np.all(np.diff(out) >= 0)
    assert out[0] == 1e-3 and out[-1] == 1 - 1e-3  # p = 0 and 1 map to finite logits, then the clip


def test_json_round_trip_gives_the_same_map(data):
    p, y, w = data
    calibrator = PlattCalibrator().fit(p, y, sample_weight=w)
    saved = json.loads(json.dumps(calibrator.to_dict()))
    assert saved["kind"] == "platt" and set(saved) >= {"a", "b", "temperature", "space", "weights_description"}
    np.testing.assert_array_equal(calibrator_from_dict(saved).transform(GRID), calibrator.transform(GRID))
