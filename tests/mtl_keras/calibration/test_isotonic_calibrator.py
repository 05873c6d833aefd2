import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression, isotonic_regression

from mtl_keras.calibration import IsotonicCalibrator, calibrator_from_dict, pool_adjacent_violators
from mtl_keras.calibration.pav import expand_blocks

LOOSE = {"min_rows": 1, "min_positives": 1, "eps": 0.0}
GRID = np.linspace(0.0, 1.0, 1001)


@pytest.fixture
def data():
    # Hand-made: ties at 0.3 and 0.7, violations to pool, weights from 0.5 to 3.
    p = np.array([0.05, 0.1, 0.2, 0.3, 0.3, 0.3, 0.45, 0.5, 0.6, 0.7, 0.7, 0.8, 0.9, 0.95])
    y = np.array([0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1], dtype=float)
    w = np.array([1, 2, 0.5, 1, 3, 1, 1, 2, 1, 0.5, 1, 1, 2, 1], dtype=float)
    return p, y, w


def test_pav_on_a_hand_sequence():
    # [1, 3, 2, 4]: 3 > 2 pool to 2.5; weights (1, 1, 3, 1): (3 + 6) / 4 = 2.25.
    values, weights, starts = pool_adjacent_violators([1, 3, 2, 4], [1, 1, 1, 1])
    np.testing.assert_allclose(values, [1, 2.5, 4])
    np.testing.assert_array_equal(starts, [0, 1, 3])
    values, weights, _ = pool_adjacent_violators([1, 3, 2, 4], [1, 1, 3, 1])
    np.testing.assert_allclose(values, [1, 2.25, 4])
    np.testing.assert_allclose(weights, [1, 4, 1])


def test_pav_equals_sklearn_on_random_sequences():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, w = rng.normal(size=30), rng.uniform(0.1, 3, size=30)
        values, _, starts = pool_adjacent_violators(y, w)
        np.testing.assert_allclose(expand_blocks(values, starts, 30), isotonic_regression(y, sample_weight=w),
                                   atol=1e-12)


def test_tiny_case_by_hand():
    # rates 0, 1, 0, 1 at 0.1..0.4: the middle pair pools to 0.5 at its centre 0.25;
    # between (0.1, 0) and (0.25, 0.5), 0.2 maps to 0.5 * (0.1 / 0.15) = 1/3.
    p, y = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.0, 1.0])
    calibrator = IsotonicCalibrator(**LOOSE).fit(p, y)
    np.testing.assert_allclose(calibrator.x, [0.1, 0.25, 0.4])
    np.testing.assert_allclose(calibrator.y, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(calibrator.transform([0.0, 0.2, 0.25, 0.3, 1.0]), [0, 1 / 3, 0.5, 2 / 3, 1])
    # Weight 3 on the 0.3 negative: block value (1 + 0) / 4 = 0.25 at centre (0.2 + 0.9) / 4 = 0.275.
    weighted = IsotonicCalibrator(**LOOSE).fit(p, y, sample_weight=[1, 1, 3, 1])
    np.testing.assert_allclose(weighted.x, [0.1, 0.275, 0.4])
    np.testing.assert_allclose(weighted.y, [0.0, 0.25, 1.0])


@pytest.mark.parametrize("weighted", [False, True])
def test_endpoints_equal_sklearn(data, weighted):
    p, y, w = data
    w = w if weighted else None
    calibrator = IsotonicCalibrator(interpolation="endpoints", **LOOSE).fit(p, y, sample_weight=w)
    reference = IsotonicRegression(out_of_bounds="clip").fit(p, y, sample_weight=w)
    np.testing.assert_allclose(calibrator.transform(GRID), reference.predict(GRID), atol=1e-12)
    np.testing.assert_allclose(calibrator.transform(p), reference.predict(p), atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_centres_carry_sklearns_block_values(data, weighted):
    p, y, w = data
    w = w if weighted else None
    calibrator = IsotonicCalibrator(**LOOSE).fit(p, y, sample_weight=w)
    blocks = np.unique(IsotonicRegression().fit(p, y, sample_weight=w).predict(p))
    np.testing.assert_allclose(calibrator.y, blocks, atol=1e-12)
    np.testing.assert_allclose(calibrator.transform(calibrator.x), blocks, atol=1e-12)
    # Outside the knots: the end values, i.e. within [min, max] of the fitted values.
    assert calibrator.transform([0.0])[0] == blocks[0] and calibrator.transform([1.0])[0] == blocks[-1]


def test_monotone_on_a_grid_and_clipped_to_eps():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p).astype(float)
    for interpolation in ("centres", "endpoints"):
        out = IsotonicCalibrator(interpolation=interpolation, eps=1e-4).fit(p, y).transform(GRID)
        assert np.all(np.diff(out) >= 0)
        assert out.min() >= 1e-4 and out.max() <= 1 - 1e-4  # fitted 0 and 1 at the ends, clipped


def test_json_round_trip_gives_the_same_map(data):
    p, y, w = data
    calibrator = IsotonicCalibrator(space="request", **LOOSE).fit(p, y, sample_weight=w)
    saved = json.loads(json.dumps(calibrator.to_dict()))
    assert saved["kind"] == "isotonic" and saved["space"] == "request"
    assert saved["weights_description"] == "caller's sample_weight"
    loaded = calibrator_from_dict(saved)
    np.testing.assert_array_equal(loaded.transform(GRID), calibrator.transform(GRID))
    assert loaded.to_dict() == saved


def test_a_single_block_is_a_constant():
    calibrator = IsotonicCalibrator(**LOOSE).fit([0.2, 0.4, 0.6], [1, 0, 0])  # pools to 1/3
    np.testing.assert_allclose(calibrator.transform([0.0, 0.5, 1.0]), [1 / 3] * 3)
