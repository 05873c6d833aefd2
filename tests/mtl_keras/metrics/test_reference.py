import numpy as np
import pytest

from mtl_keras.metrics import calibration_ratio, expected_calibration_error, log_loss, reliability_curve, roc_auc


def calibrated_sample():
    # Each prediction value appears with exactly that share of positives.
    preds, labels = [], []
    for p, n_pos, n in [(0.1, 1, 10), (0.25, 1, 4), (0.5, 5, 10), (0.8, 4, 5)]:
        preds += [p] * n
        labels += [1] * n_pos + [0] * (n - n_pos)
    return np.array(labels, float), np.array(preds, float)


def test_perfectly_calibrated_predictor_has_zero_ece_and_ratio_one():
    labels, preds = calibrated_sample()
    assert calibration_ratio(labels, preds) == pytest.approx(1.0)
    # Bins follow the 4 prediction groups when num_bins divides them cleanly; ECE = 0 for any bins
    # that never split a group into unequal-label parts, so use one bin per row group size.
    assert expected_calibration_error(labels, preds, num_bins=1) == pytest.approx(0.0, abs=1e-12)


def test_constant_predictor_has_auc_one_half():
    labels = np.array([0, 1, 0, 1, 1, 0, 0], float)
    assert roc_auc(labels, np.full(7, 0.3)) == 0.5


def test_auc_by_hand():
    # Pairs (pos, neg): (0.35 vs 0.1) win, (0.35 vs 0.4) lose, (0.8 vs both) win → 3/4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_known_miscalibration_is_measured():
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.01, 0.3, size=200_000)
    labels = (rng.random(true_p.size) < true_p).astype(float)
    doubled = 2 * true_p
    assert calibration_ratio(labels, doubled) == pytest.approx(2.0, rel=0.02)
    # Over-prediction by 2x: ECE ≈ mean(2p - p) = mean(p) ≈ 0.155, up to sampling noise.
    assert expected_calibration_error(labels, doubled, num_bins=10) == pytest.approx(true_p.mean(), abs=0.005)
    assert expected_calibration_error(labels, true_p, num_bins=10) < 0.005


def test_ece_equal_mass_bins_by_hand():
    # 4 rows, 2 bins of 2 rows: bin 1 preds (0.1, 0.3) labels (0, 0): gap 0.4; bin 2 (0.6, 0.8) labels (1, 1): gap -0.6.
    ece = expected_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8], num_bins=2)
    assert ece == pytest.approx((0.4 + 0.6) / 4)


def test_log_loss_by_hand_and_bad_input():
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="differ in length"):
        log_loss([1, 0], [0.5])
    with pytest.raises(ValueError, match="num_bins"):
        expected_calibration_error([1], [0.5], num_bins=0)


def test_reliability_curve_by_hand():
    mean_pred, observed, mass = reliability_curve([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8], num_bins=2)
    np.testing.assert_allclose(mean_pred, [0.2, 0.7])
    np.testing.assert_allclose(observed, [0.0, 1.0])
    np.testing.assert_allclose(mass, [2, 2])
