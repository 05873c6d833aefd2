"""The neural model's price bins and censored likelihood against hand-computed numpy references."""
import numpy as np
import pytest

from mtl_keras.propensity import hazard_bins


def test_censored_nll_equals_the_exact_terms_of_a_won_and_a_lost_request():
    import mtl_keras  # noqa: F401  (tf_keras before TensorFlow)
    from mtl_keras.propensity.hazard_net import censored_nll

    edges = np.array([0.0, 1.0, 2.0, 4.0, 8.0])  # bins [0,1) [1,2) [2,4) [4,8)
    h = np.array([[0.1, 0.2, 0.3, 0.4], [0.15, 0.25, 0.35, 0.45]])
    # Row 0 won at market price 3 (bin 2); row 1 lost at bid 5, a quarter into bin 3 [4, 8).
    targets = hazard_bins.targets(edges, np.array([3.0, 5.0]), np.array([1, 0]))
    np.testing.assert_allclose(targets, [[2, 0.0, 1], [3, 0.25, 0]])
    won = np.log(0.3) + np.log(0.9) + np.log(0.8)  # h_2 (1 - h_0)(1 - h_1)
    lost = np.log(0.85) + np.log(0.75) + np.log(0.65) + np.log(1 - 0.25 * 0.45)  # S(e_3)(1 - f h_3) = S(5)
    logits = np.log(h / (1 - h))
    got = censored_nll(targets, logits.astype(np.float32)).numpy()
    np.testing.assert_allclose(got, [-won, -lost], rtol=1e-6)
    # The lost row's term is -log S(5) of the scoring path: the fit maximises what predict_p_win reports.
    np.testing.assert_allclose(hazard_bins.survival_at(h[1:], edges, np.array([[5.0]]))[0, 0], np.exp(lost))
    # A bid past the last edge: S(e_J), all four bins survived.
    past = censored_nll(hazard_bins.targets(edges, np.array([9.0]), np.array([0])), logits[1:].astype(np.float32))
    np.testing.assert_allclose(past.numpy(), [-np.log(0.85 * 0.75 * 0.65 * 0.55)], rtol=1e-6)


def test_integer_prices_get_integer_edges_and_a_bid_on_an_edge_splits_won_from_lost():
    prices = np.array([1.0, 2.0, 3.0, 7.0, 50.0, 294.0])
    edges = hazard_bins.price_bin_edges(prices, 16)
    assert edges[0] == 0 and edges[-1] == 295 and np.all(edges == np.round(edges)) and np.all(np.diff(edges) > 0)
    assert edges[1:4].tolist() == [1.0, 2.0, 3.0]  # one-unit bins at low prices
    k, f = hazard_bins.bin_position(edges, np.array([[2.0, 7.0]]))
    assert edges[k[0, 0]] == 2.0 and f[0, 0] == 0.0  # a bid on an edge: S(2) = prod_{l<k}(1 - h_l), z < 2 in bins < k
    lo, hi = edges[k[0, 1]], edges[k[0, 1] + 1]
    assert lo <= 7 < hi and f[0, 1] == (7 - lo) / (hi - lo)  # the share of the bin's integers below the bid
    real = hazard_bins.price_bin_edges(np.array([0.5, 2.25, 10.0]), 8)
    assert real[-1] > 10.0 and len(real) == 9


def test_survival_interpolates_within_bins_is_flat_past_the_grid_and_tf_agrees():
    import mtl_keras  # noqa: F401
    import tensorflow as tf

    edges = np.array([0.0, 1.0, 2.0, 4.0, 8.0])
    h = np.array([[0.1, 0.2, 0.3, 0.4]])
    prices = np.array([[0.5, 1.0, 3.0, 6.0, 8.0, 100.0]])
    s_edges = np.cumprod([1, 0.9, 0.8, 0.7, 0.6])
    expected = [1 - 0.5 * 0.1, s_edges[1], s_edges[2] * (1 - 0.5 * 0.3), s_edges[3] * (1 - 0.5 * 0.4), s_edges[4], s_edges[4]]
    np.testing.assert_allclose(hazard_bins.survival_at(h, edges, prices)[0], expected)
    got = hazard_bins.tf_survival_at(tf.constant(h), tf.constant(edges), tf.constant(prices)).numpy()
    np.testing.assert_allclose(got, [expected], rtol=1e-15)
    median = hazard_bins.median_price(h, edges)
    np.testing.assert_allclose(hazard_bins.survival_at(h, edges, median[:, None]), [[0.5]])
    assert hazard_bins.median_price(np.full((1, 4), 0.01), edges)[0] == 8.0  # S(e_J) > 1/2: the grid's end


def test_bin_edges_must_cover_the_won_prices():
    with pytest.raises(ValueError, match="bin_edges"):
        hazard_bins.check_bin_edges([0.0, 10.0, 20.0], np.array([5.0, 25.0]))
    with pytest.raises(ValueError, match="bin_edges"):
        hazard_bins.check_bin_edges([0.0, 10.0, 10.0], np.array([5.0]))
    np.testing.assert_array_equal(hazard_bins.check_bin_edges([0, 10, 30], np.array([5.0, 25.0])), [0, 10, 30])
