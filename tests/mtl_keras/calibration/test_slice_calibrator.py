import json

import numpy as np
import pytest

from mtl_keras.calibration import PlattCalibrator, SliceCalibrator, calibrator_from_dict

K = 1000.0
GRID = np.linspace(0.0, 1.0, 201)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    # "rest": 60,000 calibrated rows; "big": 30,000 rows whose true rate is half of p;
    # "tiny": 3 rows, labels 0 1 0 at logits -c, 0, c: its own Platt fit is the constant 1/3.
    p_rest, p_big = rng.uniform(0.05, 0.6, 60_000), rng.uniform(0.05, 0.6, 30_000)
    y_rest = (rng.uniform(size=p_rest.size) < p_rest).astype(float)
    y_big = (rng.uniform(size=p_big.size) < 0.5 * p_big).astype(float)
    p = np.concatenate([p_rest, p_big, [0.2, 0.5, 0.8]])
    y = np.concatenate([y_rest, y_big, [0.0, 1.0, 0.0]])
    slices = np.array(["rest"] * 60_000 + ["big"] * 30_000 + ["tiny"] * 3)
    calibrator = SliceCalibrator("advertiser", "platt", prior_strength=K).fit(p, y, slices)
    return calibrator, p, y, slices


def _own(calibrator, key):
    return calibrator.calibrators[calibrator.index.key_list().index(key)]


def test_mix_weights_are_counts_over_counts_plus_prior(fitted):
    calibrator = fitted[0]
    assert calibrator.index.key_list() == ["big", "rest", "tiny"]
    np.testing.assert_allclose(calibrator.counts, [30_000, 60_000, 3])
    np.testing.assert_allclose(calibrator.mix_weights(), [30_000 / 31_000, 60_000 / 61_000, 3 / 1003])


def test_a_three_row_slice_stays_near_the_global_map(fitted):
    calibrator = fitted[0]
    own, global_ = _own(calibrator, "tiny"), calibrator.global_calibrator
    np.testing.assert_allclose(own.transform(GRID[1:-1]), 1 / 3, atol=1e-9)  # a = 0, b = logit(1/3)
    served = calibrator.transform(GRID, ["tiny"] * GRID.size)
    expected = 3 / 1003 * own.transform(GRID) + 1000 / 1003 * global_.transform(GRID)
    np.testing.assert_allclose(served, expected, rtol=1e-12)
    assert np.max(np.abs(served - global_.transform(GRID))) < 3 / 1003


def test_a_30000_row_slice_follows_its_own_fit(fitted):
    calibrator = fitted[0]
    own, global_ = _own(calibrator, "big"), calibrator.global_calibrator
    p = np.array([0.1, 0.3, 0.5])
    served = calibrator.transform(p, ["big"] * 3)
    np.testing.assert_allclose(served, 30 / 31 * own.transform(p) + 1 / 31 * global_.transform(p), rtol=1e-12)
    np.testing.assert_allclose(own.transform(p), 0.5 * p, rtol=0.15)  # its own truth: half of p
    assert np.all(np.abs(served - own.transform(p)) < 0.1 * np.abs(global_.transform(p) - own.transform(p)))


def test_unseen_slices_get_the_global_map_and_the_mix_is_monotone(fitted):
    calibrator = fitted[0]
    np.testing.assert_array_equal(calibrator.transform(GRID, ["new"] * GRID.size),
                                  calibrator.global_calibrator.transform(GRID))
    for key in ("big", "rest", "tiny"):
        assert np.all(np.diff(calibrator.transform(GRID, [key] * GRID.size)) >= 0)


def test_too_small_or_degenerate_slices_fall_back_to_global():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.1, 0.9, 400)
    y = (rng.uniform(size=400) < p).astype(float)
    slices = np.array([1] * 396 + [2, 2, 3, 3])
    y[-4:] = [0, 0, 0, 1]  # slice 2: no positive (too few positives); slice 3: separable for Platt
    calibrator = SliceCalibrator("c", "platt", slice_min_positives=1).fit(p, y, slices)
    assert calibrator.index.key_list() == [1]
    assert "min_positives=1" in calibrator.fallback["2"] and "separable" in calibrator.fallback["3"]
    np.testing.assert_array_equal(calibrator.transform(p[-4:], slices[-4:]),
                                  calibrator.global_calibrator.transform(p[-4:]))


@pytest.mark.parametrize("base_kind", ["platt", "isotonic", "histogram"])
def test_json_round_trip_gives_the_same_map(base_kind):
    rng = np.random.default_rng(2)
    p = rng.uniform(0.01, 0.99, 3000)
    y = (rng.uniform(size=p.size) < p ** 1.5).astype(float)
    slices = rng.integers(0, 4, p.size)
    calibrator = SliceCalibrator("c", base_kind, prior_strength=200, base_kwargs={"eps": 1e-5}).fit(
        p, y, slices, sample_weight=rng.uniform(0.5, 2, p.size))
    saved = json.loads(json.dumps(calibrator.to_dict()))
    assert saved["kind"] == "slice" and saved["base_kind"] == base_kind and saved["key_type"] == "int"
    loaded = calibrator_from_dict(saved)
    values = np.array([0, 1, 2, 3, 9])[rng.integers(0, 5, p.size)]
    np.testing.assert_array_equal(loaded.transform(p, values), calibrator.transform(p, values))
    assert isinstance(loaded.global_calibrator, type(calibrator.global_calibrator))
    assert not isinstance(loaded.global_calibrator, PlattCalibrator) or base_kind == "platt"
