import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.simulation import SimulationConfig, feature_spec, simulate_frame, simulate_frames


@pytest.fixture(scope="module")
def frame():
    return simulate_frame(SimulationConfig(num_requests=100_000, seed=3))


def test_same_seed_same_data_for_any_chunk_size():
    a = simulate_frame(SimulationConfig(num_requests=70_000, seed=11, chunk_size=70_000))
    b = simulate_frame(SimulationConfig(num_requests=70_000, seed=11, chunk_size=9_999))
    pd.testing.assert_frame_equal(a, b)
    c = simulate_frame(SimulationConfig(num_requests=70_000, seed=12))
    assert not np.allclose(a[names.BID_PRICE], c[names.BID_PRICE])


def test_chunks_have_the_configured_size():
    sizes = [len(f) for f in simulate_frames(SimulationConfig(num_requests=25, chunk_size=10))]
    assert sizes == [10, 10, 5]


def test_request_space_rates_match_the_base_rates(frame):
    # Base rates are request-space means of the ground truth; 100k rows give a standard error < 0.003.
    assert frame[names.TRUE_P_WIN].mean() == pytest.approx(0.45, abs=0.01)
    assert frame[names.WON].mean() == pytest.approx(0.45, abs=0.01)
    assert frame[names.POTENTIAL_CLICK].mean() == pytest.approx(0.08, abs=0.005)
    assert frame[names.POTENTIAL_CONVERSION].mean() == pytest.approx(0.15, abs=0.006)


def test_other_base_rates_are_honoured():
    config = SimulationConfig(num_requests=60_000, base_win_rate=0.2, base_ctr=0.3, base_cvr=0.05, seed=1)
    f = simulate_frame(config)
    assert f[names.TRUE_P_WIN].mean() == pytest.approx(0.2, abs=0.01)
    assert f[names.TRUE_P_CTR].mean() == pytest.approx(0.3, abs=0.01)
    assert f[names.TRUE_P_CVR].mean() == pytest.approx(0.05, abs=0.005)


def test_funnel_invariants(frame):
    won, click, conversion = frame[names.WON], frame[names.CLICK], frame[names.CONVERSION]
    assert set(won.unique()) <= {0, 1}
    assert (click <= won).all() and (conversion <= click).all()
    assert (click == won * frame[names.POTENTIAL_CLICK]).all()
    assert (conversion == click * frame[names.POTENTIAL_CONVERSION]).all()
    market = frame[names.MARKET_PRICE]
    assert (market.notna() == (won == 1)).all()
    assert (market[won == 1] < frame.loc[won == 1, names.BID_PRICE]).all()  # second price: we outbid it
    assert (frame[names.BID_PRICE] > 0).all() and (market[won == 1] > 0).all()


def test_true_p_win_matches_empirical_win_rate_in_bins(frame):
    bins = pd.cut(frame[names.TRUE_P_WIN], np.linspace(0, 1, 11))
    grouped = frame.groupby(bins)[[names.TRUE_P_WIN, names.WON]].mean()
    counts = frame.groupby(bins).size()
    for (_, row), n in zip(grouped.iterrows(), counts):
        if n >= 500:  # standard error <= 0.023
            assert abs(row[names.WON] - row[names.TRUE_P_WIN]) < 0.03


def test_selection_bias_is_real_and_vanishes_without_bias(frame):
    clicked = frame[names.CLICK] == 1
    won = frame[names.WON] == 1
    # Naive CVR over clicks overstates the request-space CVR; won traffic has a higher CTR.
    assert frame.loc[clicked, names.TRUE_P_CVR].mean() > 1.3 * frame[names.TRUE_P_CVR].mean()
    assert frame.loc[won, names.TRUE_P_CTR].mean() > 1.15 * frame[names.TRUE_P_CTR].mean()
    unbiased = simulate_frame(SimulationConfig(num_requests=100_000, seed=3, bias_strength=0.0))
    clicked0 = unbiased[names.CLICK] == 1
    assert unbiased.loc[clicked0, names.TRUE_P_CVR].mean() == pytest.approx(unbiased[names.TRUE_P_CVR].mean(), rel=0.05)


def test_columns_and_dtypes_agree_with_feature_spec(frame):
    config = SimulationConfig(num_requests=100_000, seed=3)
    spec = feature_spec(config)
    spec.check_columns(frame.columns)
    for feature in spec.categorical:
        ids = frame[feature.name]
        assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < feature.vocabulary_size
        assert feature.embedding_dim == 8
    for feature in spec.numeric:
        values = frame[feature.name]
        assert values.dtype == np.float32
        assert values.mean() == pytest.approx(feature.mean, abs=0.03)
        assert values.std() == pytest.approx(feature.std, rel=0.03)
    for column in (names.WON, names.CLICK, names.CONVERSION, names.POTENTIAL_CLICK, names.POTENTIAL_CONVERSION):
        assert frame[column].dtype == np.int64
    expected = set(spec.names) | {names.BID_PRICE, names.WON, names.MARKET_PRICE, names.CLICK, names.CONVERSION}
    assert set(frame.columns) == expected | set(names.GROUND_TRUTH_COLUMNS)


@pytest.mark.parametrize("num_categorical, num_numeric", [(0, 3), (2, 0), (8, 1)])
def test_any_number_of_features(num_categorical, num_numeric):
    config = SimulationConfig(num_requests=20_000, num_categorical=num_categorical, num_numeric=num_numeric, seed=2)
    frame = simulate_frame(config)
    feature_spec(config).check_columns(frame.columns)
    assert len(feature_spec(config).names) == num_categorical + num_numeric
    assert frame[names.TRUE_P_WIN].mean() == pytest.approx(0.45, abs=0.015)
    assert frame[names.TRUE_P_CTR].mean() == pytest.approx(0.08, abs=0.006)
