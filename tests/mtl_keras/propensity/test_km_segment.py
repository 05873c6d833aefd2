import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.propensity import KaplanMeierWinModel, SegmentedKaplanMeierWinModel, load_win_model
from mtl_keras.propensity.evaluation import anlp, zero_mass_fraction


def segment_world(n: int, seed: int) -> pd.DataFrame:
    """Integer market prices (as in iPinYou) whose level depends on a floor-price bucket `floor` (0..3);
    `hour` has no effect; integer bids independent of both."""
    rng = np.random.default_rng(seed)
    floor = rng.integers(0, 4, n)
    market = np.ceil(np.exp(np.log([15.0, 30.0, 60.0, 100.0])[floor] + 0.35 * rng.normal(size=n)))
    bid = np.ceil(np.exp(np.log(45.0) + 0.9 * rng.normal(size=n)))
    won = market < bid
    return pd.DataFrame({"floor": floor.astype(np.int64), "hour": rng.integers(0, 24, n).astype(np.int64),
                         names.BID_PRICE: bid, names.WON: won.astype(np.int64),
                         names.MARKET_PRICE: np.where(won, market, np.nan)})


@pytest.fixture(scope="module")
def world():
    return segment_world(8_000, 0), segment_world(4_000, 1)


def test_beats_global_kaplan_meier_where_prices_depend_on_the_segment(world):
    train, test = world
    km = KaplanMeierWinModel().fit(train)
    auto = SegmentedKaplanMeierWinModel(segment="auto").fit(train)
    assert auto.column == "floor" and len(auto.levels) == 4  # chosen over `hour` by held-out likelihood
    assert set(auto.selection) == {"floor", "hour"} and auto.strength in map(float, auto.selection["floor"])
    assert anlp(auto, test) < anlp(km, test) - 0.5, (anlp(auto, test), anlp(km, test))  # 3.87 vs 4.64
    # The old estimator (a raw KM per segment, k = 0) puts no mass on prices its segment never won at,
    # each such test price costing -log(1e-12); shrunk curves have mass wherever the global KM has.
    raw = SegmentedKaplanMeierWinModel(segment="floor", prior_strength=0.0).fit(train)
    assert zero_mass_fraction(auto, test) <= zero_mass_fraction(km, test) < zero_mass_fraction(raw, test) - 0.005
    assert anlp(raw, test) > anlp(auto, test) + 0.1


def test_prior_zero_is_each_segments_own_kaplan_meier_and_unseen_levels_the_overall_one(hand_frame, tmp_path):
    model = SegmentedKaplanMeierWinModel(segment="device", min_events=1, min_count=1, prior_strength=0.0).fit(hand_frame)
    bids = np.array([1.0, 2.0, 2.5, 4.0, 4.5, 6.5, 8.0, 8.5])
    for level in (0, 1):
        rows = hand_frame[hand_frame["device"] == level]
        alone = KaplanMeierWinModel().fit(rows)
        np.testing.assert_allclose(model.predict_p_win(rows, np.tile(bids, (len(rows), 1))),
                                   alone.predict_p_win(rows, np.tile(bids, (len(rows), 1))), atol=1e-12)
    unseen = hand_frame.iloc[:1].assign(device=7)
    overall = KaplanMeierWinModel().fit(hand_frame)
    np.testing.assert_allclose(model.predict_p_win(unseen, bids[None]), overall.predict_p_win(unseen, bids[None]))
    model.save(tmp_path / "m.json")
    loaded = load_win_model(tmp_path / "m.json")
    np.testing.assert_array_equal(loaded.predict_p_win(hand_frame, np.tile(bids, (6, 1))),
                                  model.predict_p_win(hand_frame, np.tile(bids, (6, 1))))


def test_shrinkage_gives_mass_beyond_a_segments_own_prices(hand_frame):
    # device 1 won only at 4 (and lost at 3, 6): its own KM stays flat past 4; with k = 2 the
    # hazard at 8 (won only in device 0) is (0 + 2 * 1) / (0 + 2) = 1, the global one.
    model = SegmentedKaplanMeierWinModel(segment="device", min_events=1, min_count=1, prior_strength=2.0).fit(hand_frame)
    rows = hand_frame[hand_frame["device"] == 1].head(1)
    p = model.predict_p_win(rows, np.array([[4.5, 8.0, 8.5]]))[0]
    # Grid 2, 4, 8. Device 1: at 2, d=0 n=3, global h=1/6 -> (2/6)/5; at 4, d=1 n=2, global h=1/2 -> 2/4.
    s2 = 1 - (2 / 6) / 5
    s4 = s2 * (1 - 2 / 4)
    np.testing.assert_allclose(p, [1 - s4, 1 - s4, 1.0])


def test_small_segments_fall_back_to_overall(hand_frame):
    # device 1 has one won request; with min_events=2 it uses the overall curve.
    model = SegmentedKaplanMeierWinModel(segment="device", min_events=2, min_count=1).fit(hand_frame)
    rows = hand_frame[hand_frame["device"] == 1]
    overall = KaplanMeierWinModel().fit(hand_frame)
    np.testing.assert_allclose(model.predict_p_win(rows), overall.predict_p_win(rows))
    assert list(model.levels) == [0]
    by_rows = SegmentedKaplanMeierWinModel(segment="device", min_events=1, min_count=4).fit(hand_frame)
    assert len(by_rows.levels) == 0  # three requests each < min_count
    np.testing.assert_allclose(by_rows.predict_p_win(hand_frame), overall.predict_p_win(hand_frame))


def test_a_float_segment_is_cut_into_quantile_buckets(world):
    train, test = world
    rng = np.random.default_rng(2)
    numeric = lambda f: f.assign(floor_price=f["floor"] * 10.0 + rng.random(len(f)))  # noqa: E731
    model = SegmentedKaplanMeierWinModel(segment="floor_price", num_buckets=4).fit(numeric(train))
    assert len(model.edges) == 3 and len(model.levels) == 4
    by_id = SegmentedKaplanMeierWinModel(segment="floor", prior_strength=model.strength).fit(train)
    # Quantile edges fall within a few rows of the id boundaries: the curves agree on average.
    assert np.mean(np.abs(model.predict_p_win(numeric(test)) - by_id.predict_p_win(test))) < 0.01


def test_bad_input_names_the_field(hand_frame):
    with pytest.raises(ValueError, match="segment"):
        SegmentedKaplanMeierWinModel().fit(hand_frame)
    with pytest.raises(ValueError, match="'s'.*NaN"):
        SegmentedKaplanMeierWinModel(segment="s").fit(hand_frame.assign(s=[1.0, np.nan, 1, 1, 1, 1]))
    model = SegmentedKaplanMeierWinModel(segment="device", min_count=1, min_events=1).fit(hand_frame)
    with pytest.raises(ValueError, match="device"):
        model.predict_p_win(hand_frame.drop(columns=["device"]))
    for field, kwargs in (("min_count", {"min_count": 0}), ("prior_strength", {"prior_strength": -1.0}),
                          ("cv_folds", {"cv_folds": 1}), ("num_buckets", {"num_buckets": 1})):
        with pytest.raises(ValueError, match=field):
            SegmentedKaplanMeierWinModel(segment="device", **kwargs)
    with pytest.raises(ValueError, match="auto"):
        SegmentedKaplanMeierWinModel(segment="auto").fit(hand_frame[[names.BID_PRICE, names.WON, names.MARKET_PRICE]])
