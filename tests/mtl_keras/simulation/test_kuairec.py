import os

import numpy as np
import pandas as pd
import pytest
from scipy import special

from mtl_keras import names
from mtl_keras.simulation import kuairec
from mtl_keras.simulation.kuairec import KuaiRecSelection, kuairec_feature_spec, kuairec_frame, load_kuairec

FEATURES = ["user_id", "item_id", "user_activity", "item_popularity"]
COLUMNS = FEATURES + [names.BID_PRICE, names.WON, names.MARKET_PRICE, names.CLICK, names.CONVERSION,
                      names.TRUE_P_WIN, names.TRUE_P_CTR, names.TRUE_P_CVR, names.POTENTIAL_CLICK,
                      names.POTENTIAL_CONVERSION, names.TRUE_INTENT]


@pytest.fixture(scope="module")
def ratings():
    if not os.path.isfile(kuairec.DEFAULT_PATH):
        pytest.skip(f"KuaiRec data not present at {kuairec.DEFAULT_PATH}")
    return load_kuairec()


@pytest.fixture(scope="module")
def frame(ratings):
    return kuairec_frame(ratings, KuaiRecSelection(), sample_seed=0)


def test_loads_the_documented_table(ratings):
    assert list(ratings.columns) == ["user_id", "item_id", "watch_ratio"]
    assert len(ratings) == 117_113
    assert ratings["user_id"].nunique() == 1_411 and ratings["item_id"].nunique() == 2_519


def test_columns_and_dtypes(frame):
    assert list(frame.columns) == COLUMNS
    int_columns = ["user_id", "item_id", names.WON, names.CLICK, names.CONVERSION, names.POTENTIAL_CLICK,
                   names.POTENTIAL_CONVERSION]
    for column in COLUMNS:
        expected = np.int64 if column in int_columns else np.float32 if column in FEATURES else np.float64
        assert frame[column].dtype == expected, column
    # ids are dense from 0: every id below the maximum occurs
    assert frame["user_id"].min() == 0 and frame["user_id"].max() == 1_410 and frame["user_id"].nunique() == 1_411
    assert frame["item_id"].min() == 0 and frame["item_id"].max() == 2_518 and frame["item_id"].nunique() == 2_519
    assert (frame[names.TRUE_INTENT] == 0).all()
    spec = kuairec_feature_spec(frame, embedding_dim=4)
    assert [f.vocabulary_size for f in spec.categorical] == [1_411, 2_519]
    assert spec.numeric[0].mean == pytest.approx(frame["user_activity"].mean(), rel=1e-6)


def test_funnel_invariants(frame):
    won, click, conversion = frame[names.WON], frame[names.CLICK], frame[names.CONVERSION]
    assert set(won.unique()) == {0, 1}
    assert (click <= won).all() and (conversion <= click).all()
    assert (click == won * frame[names.POTENTIAL_CLICK]).all()
    assert (conversion == click * frame[names.POTENTIAL_CONVERSION]).all()
    market = frame[names.MARKET_PRICE]
    assert (market.isna() == (won == 0)).all()
    assert (market[won == 1] < frame.loc[won == 1, names.BID_PRICE]).all()
    assert (frame[names.BID_PRICE] > 0).all() and (market[won == 1] > 0).all()


def test_conversion_is_the_real_outcome(ratings, frame):
    outcome = (ratings["watch_ratio"].to_numpy() >= 2.0).astype(np.int64)
    np.testing.assert_array_equal(frame[names.POTENTIAL_CONVERSION].to_numpy(), outcome)
    np.testing.assert_array_equal(frame[names.TRUE_P_CVR].to_numpy(), outcome.astype(np.float64))
    assert outcome.mean() == pytest.approx(0.0495, abs=5e-4)  # SOURCE.md: 5.0% of rows have watch_ratio >= 2
    other = kuairec_frame(ratings, KuaiRecSelection(conversion_threshold=1.0), sample_seed=0)
    np.testing.assert_array_equal(other[names.POTENTIAL_CONVERSION].to_numpy(),
                                  (ratings["watch_ratio"].to_numpy() >= 1.0).astype(np.int64))


@pytest.mark.parametrize("base_win_rate, base_ctr", [(0.5, 0.5), (0.2, 0.1)])
def test_request_space_means_equal_the_base_rates(ratings, base_win_rate, base_ctr):
    f = kuairec_frame(ratings, KuaiRecSelection(base_win_rate=base_win_rate, base_ctr=base_ctr), sample_seed=3)
    assert f[names.TRUE_P_WIN].mean() == pytest.approx(base_win_rate, abs=1e-3)
    assert f[names.TRUE_P_CTR].mean() == pytest.approx(base_ctr, abs=1e-3)


def test_win_and_click_draws_follow_the_true_probabilities(frame):
    p = frame[names.TRUE_P_WIN].to_numpy()
    se = np.sqrt(np.sum(p * (1 - p))) / len(p)  # won are independent Bernoulli(p_i) draws
    assert abs(frame[names.WON].mean() - p.mean()) < 3 * se
    q = frame[names.TRUE_P_CTR].to_numpy()
    se = np.sqrt(np.sum(q * (1 - q))) / len(q)
    assert abs(frame[names.POTENTIAL_CLICK].mean() - q.mean()) < 3 * se


def test_overlap_few_requests_are_almost_never_won(frame):
    assert (frame[names.TRUE_P_WIN] < 0.05).mean() < 0.03
    assert (frame[names.TRUE_P_WIN] < 0.01).mean() < 0.005


def _outcome_effect_on_click_logit(f):
    """OLS coefficient of y in logit(true_p_ctr) ~ item_popularity + y within users (the features)."""
    users = f["user_id"].to_numpy()
    columns = [special.logit(f[names.TRUE_P_CTR].to_numpy()), f["item_popularity"].to_numpy(np.float64),
               f[names.POTENTIAL_CONVERSION].to_numpy(np.float64)]
    counts = np.bincount(users)
    logit, popularity, y = [c - (np.bincount(users, weights=c) / counts)[users] for c in columns]
    coefficients = np.linalg.lstsq(np.stack([popularity, y], axis=1), logit, rcond=None)[0]
    return coefficients[1]


def test_without_outcome_dependence_clicks_select_on_features_only(frame):
    # Given the features the click probability does not move with the outcome ...
    assert _outcome_effect_on_click_logit(frame) == pytest.approx(0.0, abs=1e-3)
    # ... so among exposed rows click ~ Bernoulli(p_ctr(features)) independently of y, and the
    # clicked rows' conversion rate estimates sum(p y) / sum(p) over exposed rows; its delta-method
    # standard error is sqrt(sum p (1 - p) (y - m)^2) / sum p.
    exposed = frame[frame[names.WON] == 1]
    p = exposed[names.TRUE_P_CTR].to_numpy()
    y = exposed[names.POTENTIAL_CONVERSION].to_numpy(np.float64)
    expected = np.sum(p * y) / np.sum(p)
    se = np.sqrt(np.sum(p * (1 - p) * (y - expected) ** 2)) / np.sum(p)
    clicked = exposed[exposed[names.CLICK] == 1]
    assert abs(clicked[names.POTENTIAL_CONVERSION].mean() - expected) < 3 * se
    assert clicked[names.CONVERSION].sum() >= 1_500  # enough positives to score CVR on clicks


def test_outcome_dependence_makes_clicks_select_on_the_outcome(ratings, frame):
    mnar = kuairec_frame(ratings, KuaiRecSelection(outcome_dependence=2.0), sample_seed=0)
    assert _outcome_effect_on_click_logit(mnar) == pytest.approx(2.0, abs=1e-3)
    request_rate = mnar[names.POTENTIAL_CONVERSION].mean()
    mnar_click_rate = mnar.loc[mnar[names.CLICK] == 1, names.POTENTIAL_CONVERSION].mean()
    mar_click_rate = frame.loc[frame[names.CLICK] == 1, names.POTENTIAL_CONVERSION].mean()
    assert mnar_click_rate > 1.5 * request_rate
    assert mnar_click_rate > 1.3 * mar_click_rate


def test_same_seeds_same_frame_and_which_seed_moves_what(ratings, frame):
    pd.testing.assert_frame_equal(frame, kuairec_frame(ratings, KuaiRecSelection(), sample_seed=0))
    other_sample = kuairec_frame(ratings, KuaiRecSelection(), sample_seed=1)
    fixed = FEATURES + [names.TRUE_P_CTR, names.POTENTIAL_CONVERSION]  # the world, not the draws
    pd.testing.assert_frame_equal(frame[fixed], other_sample[fixed])
    assert (frame[names.WON] != other_sample[names.WON]).mean() > 0.1
    assert (frame[names.POTENTIAL_CLICK] != other_sample[names.POTENTIAL_CLICK]).mean() > 0.1
    other_world = kuairec_frame(ratings, KuaiRecSelection(world_seed=1), sample_seed=0)
    assert not np.allclose(frame[names.TRUE_P_CTR], other_world[names.TRUE_P_CTR])
    assert not np.allclose(frame[names.TRUE_P_WIN], other_world[names.TRUE_P_WIN])
    pd.testing.assert_frame_equal(frame[FEATURES], other_world[FEATURES])


def _write(tmp_path, text):
    path = tmp_path / "random.txt"
    path.write_text(text)
    return str(path)


def test_bad_files_give_errors_naming_the_problem(tmp_path):
    missing = str(tmp_path / "absent.txt")
    with pytest.raises(ValueError, match="does not exist"):
        load_kuairec(missing)
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        load_kuairec(missing)
    with pytest.raises(ValueError, match="2 columns; expected 3"):
        load_kuairec(_write(tmp_path, "1,2\n3,4\n"))
    with pytest.raises(ValueError, match="negative"):
        load_kuairec(_write(tmp_path, "1,2,0.5\n3,4,-1.0\n"))
    with pytest.raises(ValueError, match="'watch_ratio' has 1 NaN"):
        load_kuairec(_write(tmp_path, "1,2,0.5\n3,4,\n"))
    with pytest.raises(ValueError, match="'user_id' has 1 NaN or non-numeric"):
        load_kuairec(_write(tmp_path, "1,2,0.5\nalice,4,1.0\n"))
    ok = load_kuairec(_write(tmp_path, "1,2,0.5\n3,4,2.5\n"))
    assert list(ok.dtypes) == [np.int64, np.int64, np.float64]
    with pytest.raises(ValueError, match="lacks columns \\['watch_ratio'\\]"):
        kuairec_frame(ok.drop(columns="watch_ratio"), KuaiRecSelection(), sample_seed=0)
    with pytest.raises(ValueError, match="every outcome 0"):
        kuairec_frame(ok, KuaiRecSelection(conversion_threshold=10.0), sample_seed=0)


@pytest.mark.parametrize("field, value", [("base_win_rate", 1.0), ("base_ctr", 0.0), ("conversion_threshold", -1.0),
                                          ("outcome_dependence", float("nan")), ("market_price_sigma", 0.0),
                                          ("world_seed", -1), ("world_seed", 1.5)])
def test_bad_selection_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"KuaiRecSelection.{field}"):
        KuaiRecSelection(**{field: value})


def test_frame_validates_and_trains(frame):
    from mtl_keras.config import ModelConfig
    from mtl_keras.data import validate_frame
    from mtl_keras.training import train

    spec = kuairec_feature_spec(frame)
    validate_frame(frame[frame[names.WON] == 1], spec)
    model, history = train(ModelConfig(features=spec, objective="esmm", epochs=1, batch_size=1024), frame, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
