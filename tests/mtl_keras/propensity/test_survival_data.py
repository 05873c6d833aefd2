import numpy as np
import pytest

from mtl_keras import names
from mtl_keras.propensity import make_win_model, survival_arrays


def test_durations_are_market_price_when_won_and_bid_when_lost(hand_frame):
    durations, events = survival_arrays(hand_frame)
    np.testing.assert_array_equal(durations, [2.0, 4.0, 3.0, 6.0, 4.0, 8.0])
    np.testing.assert_array_equal(events, [1, 1, 0, 0, 1, 1])


@pytest.mark.parametrize(
    "column, row, value, message",
    [
        (names.BID_PRICE, 2, np.nan, "1 of them lost"),  # a lost request without a bid
        (names.BID_PRICE, 0, 0.0, "zero or negative"),
        (names.BID_PRICE, 1, -3.0, "zero or negative"),
        (names.MARKET_PRICE, 0, -1.0, "market_price"),
        (names.MARKET_PRICE, 1, np.nan, "market_price"),
        (names.WON, 0, 2, "0/1"),
    ],
)
def test_bad_prices_are_rejected(hand_frame, column, row, value, message):
    frame = hand_frame.copy()
    frame[column] = frame[column].astype(float)
    frame.loc[row, column] = value
    if column == names.WON:
        frame[column] = frame[column].astype(int)
    with pytest.raises(ValueError, match=message):
        survival_arrays(frame)


def test_all_lost_is_an_error_all_won_is_fitted(hand_frame):
    lost = hand_frame.assign(**{names.WON: 0, names.MARKET_PRICE: np.nan})
    with pytest.raises(ValueError, match="All requests were lost"):
        make_win_model("km").fit(lost)
    # Nothing censored: KM is the empirical distribution of the market price.
    won = hand_frame.assign(**{names.WON: 1, names.MARKET_PRICE: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    model = make_win_model("km").fit(won)
    np.testing.assert_allclose(model.predict_p_win(won.iloc[:1], np.array([[1.0, 3.5, 6.5]])), [[0.0, 0.5, 1.0]])
    assert model.fit_info["censored"] == 0


def test_nan_features_are_rejected_naming_the_column(simulated):
    train, _ = simulated
    bad = train.head(500).copy()
    bad.loc[3, "num_1"] = np.nan
    with pytest.raises(ValueError, match="num_1"):
        make_win_model("lognormal_aft", numeric=["num_1"]).fit(bad)


def test_factory_rejects_unknown_kinds_and_arguments():
    with pytest.raises(ValueError, match="kind"):
        make_win_model("deep_landscape")
    with pytest.raises(ValueError, match="cox"):
        make_win_model("cox", segment="device")
    with pytest.raises(ValueError, match="max_fit_rows"):
        make_win_model("km", max_fit_rows=1)


@pytest.mark.parametrize("kind", ["cox", "weibull_aft", "lognormal_aft"])
def test_feature_models_fit_uncensored_data(kind, simulated):
    train, test = simulated
    won = train[train[names.WON] == 1].head(2_000)
    model = make_win_model(kind, categorical=["device"], numeric=["num_0"]).fit(won)
    assert model.fit_info["censored"] == 0
    p = model.predict_p_win(test.head(100))
    assert ((p >= 0) & (p <= 1)).all() and np.isfinite(p).all()
