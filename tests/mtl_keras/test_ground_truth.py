"""The benchmark's scoring against ground truth, on hand-made frames with hand-checkable answers."""
import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.ground_truth import (METRIC_KEYS, SPACE_CLICK, SPACE_IMPRESSION, SPACE_REQUEST, SPACES, evaluate_spaces,
                                    space_mask, task_metrics)


def make_frame(n=4000, seed=0):
    """Requests with ground truth; won / click drawn so that all three spaces are non-empty."""
    rng = np.random.default_rng(seed)
    p_ctr = rng.uniform(0.02, 0.4, n)
    p_cvr = rng.uniform(0.05, 0.6, n)
    won = (rng.random(n) < 0.5).astype(int)
    potential_click = (rng.random(n) < p_ctr).astype(int)
    potential_conversion = (rng.random(n) < p_cvr).astype(int)
    return pd.DataFrame({
        names.WON: won, names.CLICK: won * potential_click,
        names.CONVERSION: won * potential_click * potential_conversion,
        names.TRUE_P_WIN: np.full(n, 0.5), names.TRUE_P_CTR: p_ctr, names.TRUE_P_CVR: p_cvr,
        names.POTENTIAL_CLICK: potential_click, names.POTENTIAL_CONVERSION: potential_conversion,
    })


def truth_preds(frame):
    p_ctr, p_cvr = frame[names.TRUE_P_CTR].to_numpy(), frame[names.TRUE_P_CVR].to_numpy()
    return {names.P_CTR: p_ctr, names.P_CVR: p_cvr, names.P_CTCVR: p_ctr * p_cvr}


def test_spaces_are_all_requests_won_and_clicked_rows():
    frame = make_frame()
    report = evaluate_spaces(frame, truth_preds(frame))
    assert list(report) == list(SPACES)
    assert report[SPACE_REQUEST]["rows"] == len(frame)
    assert report[SPACE_IMPRESSION]["rows"] == int(frame[names.WON].sum())
    assert report[SPACE_CLICK]["rows"] == int(frame[names.CLICK].sum())
    assert set(METRIC_KEYS) <= set(report[SPACE_REQUEST])
    np.testing.assert_array_equal(space_mask(frame, SPACE_CLICK), frame[names.CLICK].to_numpy() == 1)


def test_the_true_probabilities_have_ece_zero_and_ratio_one_in_every_space():
    frame = make_frame()
    report = evaluate_spaces(frame, truth_preds(frame))
    for space, row in report.items():
        for task in ("ctr", "cvr", "ctcvr"):
            assert row[f"{task}_ece"] == pytest.approx(0.0, abs=1e-12), (space, task)
            assert row[f"{task}_calibration_ratio"] == pytest.approx(1.0, abs=1e-12), (space, task)


def test_log_loss_is_proper_the_truth_scores_lowest():
    # Expected log loss against the true p is H(p) + KL(p || q): any other q scores higher.
    frame = make_frame()
    truth = truth_preds(frame)
    best = evaluate_spaces(frame, truth)[SPACE_REQUEST]["cvr_log_loss"]
    p = truth[names.P_CVR]
    entropy = float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    assert best == pytest.approx(entropy, rel=1e-9)
    for other in (np.clip(p + 0.05, 0, 0.99), 0.9 * p, np.full_like(p, p.mean())):
        worse = evaluate_spaces(frame, {**truth, names.P_CVR: other})[SPACE_REQUEST]["cvr_log_loss"]
        assert worse > best


def test_a_constant_predictor_has_auc_one_half():
    frame = make_frame()
    constant = {k: np.full(len(frame), 0.1) for k in (names.P_CTR, names.P_CVR, names.P_CTCVR)}
    for space, row in evaluate_spaces(frame, constant).items():
        for task in ("ctr", "cvr", "ctcvr"):
            assert row[f"{task}_auc"] == 0.5, (space, task)
    # The truth ranks the potential outcomes clearly better than chance.
    assert evaluate_spaces(frame, truth_preds(frame))[SPACE_REQUEST]["cvr_auc"] > 0.6


def test_a_known_miscalibration_is_measured():
    # pCVR = 2 · true pCVR: every equal-mass bin over-predicts by its mean truth, so ECE = mean truth
    # of the space and the ratio is exactly 2; half the truth gives ratio 0.5 and ECE = mean / 2.
    frame = make_frame()
    truth = truth_preds(frame)
    for factor in (2.0, 0.5):
        report = evaluate_spaces(frame, {**truth, names.P_CVR: factor * truth[names.P_CVR]})
        for space, row in report.items():
            mean_truth = frame.loc[space_mask(frame, space), names.TRUE_P_CVR].mean()
            assert row["cvr_calibration_ratio"] == pytest.approx(factor)
            assert row["cvr_ece"] == pytest.approx(abs(factor - 1) * mean_truth)
            assert row["ctr_ece"] == pytest.approx(0.0, abs=1e-12)  # the other tasks are untouched


def test_task_metrics_by_hand():
    # 4 rows; AUC: positive 0.8 beats both negatives, positive 0.3 beats 0.2 only → 3/4.
    m = task_metrics(labels=[0, 1, 0, 1], truth=[0.2, 0.4, 0.2, 0.4], preds=[0.2, 0.3, 0.4, 0.8], num_bins=1)
    assert m["auc"] == pytest.approx(0.75)
    assert m["calibration_ratio"] == pytest.approx(1.7 / 1.2)
    assert m["ece"] == pytest.approx(abs(1.7 - 1.2) / 4)


def test_bad_input_names_the_problem():
    frame = make_frame(200)
    with pytest.raises(ValueError, match="ground-truth"):
        evaluate_spaces(frame.drop(columns=[names.TRUE_P_CVR]), truth_preds(frame))
    with pytest.raises(ValueError, match="p_cvr"):
        evaluate_spaces(frame, {**truth_preds(frame), names.P_CVR: np.zeros(3)})
    with pytest.raises(ValueError, match="p_ctcvr"):
        evaluate_spaces(frame, {k: v for k, v in truth_preds(frame).items() if k != names.P_CTCVR})
    with pytest.raises(ValueError, match="space"):
        space_mask(frame, "auction")
    with pytest.raises(ValueError, match="click"):
        evaluate_spaces(frame.assign(**{names.CLICK: 0}), truth_preds(frame))
