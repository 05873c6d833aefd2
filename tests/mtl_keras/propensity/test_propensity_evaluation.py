import numpy as np
import pytest

from mtl_keras import names
from mtl_keras.propensity import KaplanMeierWinModel, make_win_model
from mtl_keras.propensity.evaluation import (
    anlp, brier, concordance, evaluate_model, p_win_mae, win_rate_calibration, zero_mass_fraction,
)


def test_metrics_of_hand_computed_kaplan_meier(hand_frame):
    # KM on the hand frame: P(price < b) = 0 (b <= 2), 1/6 (2 < b <= 4), 7/12 (4 < b <= 8), 1 (b > 8).
    model = KaplanMeierWinModel().fit(hand_frame)
    p = np.array([1 / 6, 7 / 12, 1 / 6, 7 / 12, 7 / 12, 1.0])  # at bids 3, 5, 3, 6, 7, 9
    won = np.array([1, 1, 0, 0, 1, 1])
    assert brier(model, hand_frame) == pytest.approx(np.mean((p - won) ** 2))
    # Won prices 2, 4, 4, 8 -> masses of [z, z + 1): 1/6, 5/12, 5/12, 5/12.
    assert anlp(model, hand_frame) == pytest.approx(-np.mean(np.log([1 / 6, 5 / 12, 5 / 12, 5 / 12])))
    assert zero_mass_fraction(model, hand_frame) == 0.0
    # Trained on prices 2, 4, 8 only: a won price of 6 falls in an empty bin [6, 7).
    unseen = hand_frame.assign(**{names.MARKET_PRICE: [6.0, 4.0, np.nan, np.nan, 4.0, 8.0]})
    assert zero_mass_fraction(model, unseen) == pytest.approx(0.25)
    assert anlp(model, unseen) == pytest.approx(-np.mean(np.log([1e-12, 5 / 12, 5 / 12, 5 / 12])))
    assert concordance(model, hand_frame) == pytest.approx(0.5)  # one curve for all: no ranking
    table = win_rate_calibration(model, hand_frame, num_buckets=2)
    assert sum(b["count"] for b in table) == 6
    assert table[0]["bid_low"] == 3.0 and table[-1]["bid_high"] == 9.0
    # Bids 3, 3, 5 in the first bucket (median edge 5.5), 6, 7, 9 in the second.
    assert table[0]["observed"] == pytest.approx(2 / 3) and table[0]["predicted"] == pytest.approx((1 / 6 * 2 + 7 / 12) / 3)
    assert p_win_mae(model, hand_frame) is None
    truth = hand_frame.assign(**{names.TRUE_P_WIN: [0.5] * 6})
    assert p_win_mae(model, truth) == pytest.approx(np.mean(np.abs(p - 0.5)))


def test_anlp_needs_won_requests(hand_frame):
    model = KaplanMeierWinModel().fit(hand_frame)
    with pytest.raises(ValueError, match="won"):
        anlp(model, hand_frame[hand_frame[names.WON] == 0])


def test_regression_models_beat_kaplan_meier_on_simulated_data(simulated):
    """The feature models recover P(win | x, b) far better than one curve for all requests."""
    train, test = simulated
    features = {"categorical": ["device", "hour"], "numeric": ["num_0", "num_1", "num_2", "num_3"], "max_fit_rows": 8_000}
    reports = {
        "km": evaluate_model(make_win_model("km").fit(train), test),
        "km_segment": evaluate_model(make_win_model("km_segment", segment="hour").fit(train), test),
    }
    for kind in ("cox", "weibull_aft", "lognormal_aft"):
        reports[kind] = evaluate_model(make_win_model(kind, **features).fit(train), test)
    for kind in ("cox", "weibull_aft", "lognormal_aft"):
        assert reports[kind]["p_win_mae"] < 0.7 * reports["km"]["p_win_mae"], (kind, reports[kind]["p_win_mae"])
        assert reports[kind]["c_index"] > reports["km"]["c_index"] + 0.05
        assert reports[kind]["brier"] < reports["km"]["brier"]
        assert reports[kind]["fit"]["fit_rows"] == 8_000
    # The simulator's market price is log-normal given the features: that model is the closest.
    assert reports["lognormal_aft"]["p_win_mae"] <= min(r["p_win_mae"] for r in reports.values()) + 1e-9
    for report in reports.values():
        assert 0 <= report["calibration_error"] <= 1 and np.isfinite(report["anlp"])
