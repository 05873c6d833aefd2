import numpy as np
import pytest

from mtl_keras.metrics import CalibrationRatio, ExpectedCalibrationError, calibration_ratio, expected_calibration_error


def test_streaming_ece_matches_numpy_reference_over_several_batches():
    rng = np.random.default_rng(1)
    preds = rng.beta(1, 20, size=30_000)
    labels = (rng.random(preds.size) < 1.3 * preds).astype(float)
    metric = ExpectedCalibrationError(num_bins=10)
    for chunk in np.array_split(np.arange(preds.size), 7):
        metric.update_state(labels[chunk], preds[chunk])
    expected = expected_calibration_error(labels, preds, num_bins=10)
    assert metric.result().numpy() == pytest.approx(expected, abs=2e-4)
    metric.reset_state()
    assert metric.result().numpy() == 0.0


def test_streaming_calibration_ratio_matches_numpy_and_is_finite_without_positives():
    metric = CalibrationRatio()
    assert metric.result().numpy() == 0.0
    metric.update_state([0, 1, 0, 1], [0.2, 0.4, 0.1, 0.5], sample_weight=[1, 1, 2, 1])
    assert metric.result().numpy() == pytest.approx(
        calibration_ratio([0, 1, 0, 1], [0.2, 0.4, 0.1, 0.5], weights=np.array([1, 1, 2, 1.0])))


def test_streaming_ece_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_bins"):
        ExpectedCalibrationError(num_bins=0)
    with pytest.raises(ValueError, match="num_fine_bins"):
        ExpectedCalibrationError(num_bins=10, num_fine_bins=5)
