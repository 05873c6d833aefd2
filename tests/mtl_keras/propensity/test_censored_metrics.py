"""IPCW Brier score over a price grid, restricted-mean c-index and the per-segment landscape plot."""
import numpy as np
import pytest

from mtl_keras.propensity import KaplanMeierWinModel, make_win_model
from mtl_keras.propensity.censored_metrics import (
    brier_curve, default_price_grid, integrated_brier, restricted_concordance, restricted_mean_price,
)
from mtl_keras.propensity.evaluation import evaluate_model
from mtl_keras.propensity.segment_landscape import empirical_win_curve, plot_segment_landscapes


def test_ipcw_brier_of_hand_computed_kaplan_meier(hand_frame):
    # Durations 2, 4, 3, 6, 4, 8 (lost at bids 3 and 6). Bids' KM: G = 4/5 after 3, 2/5 after 6.
    # At t = 5 the KM predicts P(win) = 7/12. Known wins (z < 5): z = 2 (weight 1/G(2) = 1), z = 4, 4
    # (weight 5/4 each); known losses (duration >= 5): 6 and 8, weight 1/G(5-) = 5/4; the request
    # lost at bid 3 < 5 is unknown and weighs 0.
    model = KaplanMeierWinModel().fit(hand_frame)
    grid, curve = brier_curve(model, hand_frame, np.array([5.0, 5.5]))
    expected = ((5 / 12) ** 2 * (1 + 5 / 4 + 5 / 4) + (7 / 12) ** 2 * (5 / 4) * 2) / 6
    np.testing.assert_allclose(curve, [expected, expected])
    assert integrated_brier(model, hand_frame, np.array([5.0, 5.5])) == pytest.approx(expected)


def test_price_grid_and_censoring_checks(hand_frame):
    model = KaplanMeierWinModel().fit(hand_frame)
    for grid in ([5.0, 20.0], [5.0, 4.0], [0.0, 5.0], [5.0]):
        with pytest.raises(ValueError, match="price_grid"):
            integrated_brier(model, hand_frame, np.array(grid))
    won = hand_frame.assign(won=1, market_price=[1.0, 2, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="lost"):
        integrated_brier(model, won)
    assert evaluate_model(model, won)["integrated_brier"] is None  # reported as missing, not raised
    grid = default_price_grid(hand_frame)
    assert len(grid) == 50 and np.all(np.diff(grid) > 0)


def test_restricted_mean_of_kaplan_meier(hand_frame):
    # S(b) = P(price >= b) = 1 on (0, 2], 5/6 on (2, 4], 5/12 on (4, 8]: the integral is 2 + 5/3 + 5/3.
    model = KaplanMeierWinModel().fit(hand_frame)
    np.testing.assert_allclose(restricted_mean_price(model, hand_frame.head(2), 8.0, 800), [16 / 3] * 2, atol=0.01)
    assert restricted_concordance(model, hand_frame) == pytest.approx(0.5)


def test_a_model_of_the_features_has_the_lower_integrated_brier(simulated):
    train, test = simulated
    km = KaplanMeierWinModel().fit(train)
    aft = make_win_model("lognormal_aft", categorical=["device", "hour"], numeric=["num_0", "num_1", "num_2", "num_3"],
                         max_fit_rows=6_000).fit(train)
    assert integrated_brier(aft, test) < integrated_brier(km, test) - 0.01
    # For a location family the restricted mean and the median rank requests alike.
    from mtl_keras.propensity.evaluation import concordance

    assert restricted_concordance(aft, test) == pytest.approx(concordance(aft, test), abs=1e-3)


def test_segment_landscape_png(simulated, tmp_path):
    train, test = simulated
    models = {"km": KaplanMeierWinModel().fit(train),
              "km_segment": make_win_model("km_segment", segment="device").fit(train)}
    path = tmp_path / "seg.png"
    fig = plot_segment_landscapes(models, test, "device", path, num_segments=3)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(fig.axes) == 2
    rows = test[test["device"] == 0]
    bids = np.array([10.0, 50.0, 200.0])
    np.testing.assert_allclose(empirical_win_curve(rows, bids), KaplanMeierWinModel().fit(rows).predict_p_win(
        rows.head(1), bids[None])[0])
    with pytest.raises(ValueError, match="nope"):
        plot_segment_landscapes(models, test, "nope")
