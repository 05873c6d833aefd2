import json

import numpy as np
import pytest

from mtl_keras.calibration import HistogramCalibrator, calibrator_from_dict
from mtl_keras.calibration.pav import expand_blocks, pool_adjacent_violators

GRID = np.linspace(0.0, 1.0, 1001)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    p = np.sort(rng.uniform(0.01, 0.99, size=200))  # distinct
    y = (rng.uniform(size=p.size) < p).astype(float)
    return p, y


def test_equal_mass_bins_match_a_numpy_reference(data):
    p, y = data
    calibrator = HistogramCalibrator(num_bins=10, min_count=1, monotone=False, eps=0.0).fit(p, y)
    chunks_p, chunks_y = p.reshape(10, 20), y.reshape(10, 20)  # 200 sorted rows, 10 bins of 20
    np.testing.assert_allclose(calibrator.values, chunks_y.mean(axis=1))
    np.testing.assert_allclose(calibrator.edges, 0.5 * (chunks_p[:-1, -1] + chunks_p[1:, 0]))
    np.testing.assert_array_equal(calibrator.counts, [20] * 10)
    np.testing.assert_allclose(calibrator.transform(p), np.repeat(chunks_y.mean(axis=1), 20))


def test_monotone_pools_bins_by_pav(data):
    p, y = data
    raw = y.reshape(10, 20).mean(axis=1)
    values, _, starts = pool_adjacent_violators(raw, np.full(10, 20.0))
    calibrator = HistogramCalibrator(num_bins=10, min_count=1, eps=0.0).fit(p, y)
    np.testing.assert_allclose(calibrator.values, expand_blocks(values, starts, 10))
    assert np.all(np.diff(calibrator.transform(GRID)) >= 0)


def test_small_bins_merge_until_min_count(data):
    p, y = data
    # 10 bins of 20, min_count 30: pairs, 5 bins of 40.
    assert HistogramCalibrator(num_bins=10, min_count=30, monotone=False).fit(p, y).counts.tolist() == [40] * 5
    # min_count 50: groups of 60, 60, 60 and a tail of 20 that joins the last group.
    merged = HistogramCalibrator(num_bins=10, min_count=50, monotone=False, eps=0.0).fit(p, y)
    assert merged.counts.tolist() == [60, 60, 80]
    np.testing.assert_allclose(merged.values, [y[:60].mean(), y[60:120].mean(), y[120:].mean()])


def test_weighted_bins_by_hand():
    # Weights 3, 1, 1, 1; cumulative weight at each row's middle 1.5, 3.5, 4.5, 5.5 of 6: with two
    # bins 0.1 is a bin alone (weight 3) and 0.2..0.4 the other; rates 1 and (0 + 1 + 0) / 3.
    calibrator = HistogramCalibrator(num_bins=2, min_count=1, monotone=False, min_rows=1, min_positives=1,
                                     eps=0.0).fit([0.1, 0.2, 0.3, 0.4], [1, 0, 1, 0], sample_weight=[3, 1, 1, 1])
    np.testing.assert_allclose(calibrator.edges, [0.15])
    np.testing.assert_allclose(calibrator.values, [1.0, 1 / 3])
    # Monotone: the two bins pool to the weighted rate (3 + 1) / 6.
    pooled = HistogramCalibrator(num_bins=2, min_count=1, min_rows=1, min_positives=1, eps=0.0).fit(
        [0.1, 0.2, 0.3, 0.4], [1, 0, 1, 0], sample_weight=[3, 1, 1, 1])
    np.testing.assert_allclose(pooled.values, [4 / 6, 4 / 6])


def test_ties_share_a_bin():
    p = np.array([0.1] * 50 + [0.2] * 50 + [0.3] * 100)
    y = np.tile([0.0, 1.0], 100)
    calibrator = HistogramCalibrator(num_bins=4, min_count=1, monotone=False).fit(p, y)
    assert calibrator.counts.tolist() == [50, 50, 100]


def test_json_round_trip_gives_the_same_map(data):
    p, y = data
    calibrator = HistogramCalibrator(num_bins=8, min_count=10).fit(p, y)
    saved = json.loads(json.dumps(calibrator.to_dict()))
    assert saved["kind"] == "histogram" and saved["num_bins"] == 8
    np.testing.assert_array_equal(calibrator_from_dict(saved).transform(GRID), calibrator.transform(GRID))
