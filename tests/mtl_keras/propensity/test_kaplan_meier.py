import numpy as np
import pytest

from mtl_keras.propensity import KaplanMeierWinModel, load_win_model


def test_agrees_with_hand_computation(hand_frame):
    # Sorted: 2 event (6 at risk) -> S = 5/6; 3 censored; 4 two events (4 at risk) -> S = 5/12;
    # 6 censored; 8 event (1 at risk) -> S = 0. P(win | b) = P(price < b) = 1 - S(b-).
    model = KaplanMeierWinModel().fit(hand_frame)
    bids = np.array([1.0, 2.0, 2.5, 4.0, 4.5, 8.0, 9.0])
    expected = [0.0, 0.0, 1 / 6, 1 / 6, 7 / 12, 7 / 12, 1.0]
    got = model.predict_p_win(hand_frame.iloc[:1], bids[None, :])[0]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_bid_shapes_floor_and_clip(hand_frame):
    model = KaplanMeierWinModel().fit(hand_frame)
    per_row = model.predict_p_win(hand_frame)  # each row's own bid
    np.testing.assert_allclose(per_row, [1 / 6, 7 / 12, 1 / 6, 7 / 12, 7 / 12, 1.0])
    assert model.predict_p_win(hand_frame, 4.5).shape == (6,)
    assert model.predict_p_win(hand_frame, np.ones((6, 3)) * 4.5).shape == (6, 3)
    clipped = model.predict_p_win(hand_frame, floor=0.2, clip=0.9)
    np.testing.assert_allclose(clipped, [0.2, 7 / 12, 0.2, 7 / 12, 7 / 12, 0.9])
    with pytest.raises(ValueError, match="floor"):
        model.predict_p_win(hand_frame, floor=0.5, clip=0.4)
    with pytest.raises(ValueError, match="bids"):
        model.predict_p_win(hand_frame, np.array([1.0, -1.0, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="shape"):
        model.predict_p_win(hand_frame, np.ones(4))
    assert model.predict_p_win(hand_frame.iloc[:0]).shape == (0,)
    assert model.predict_p_win(hand_frame.iloc[:0], np.ones((0, 3))).shape == (0, 3)


def test_save_and_load(tmp_path, hand_frame):
    model = KaplanMeierWinModel().fit(hand_frame)
    model.save(tmp_path / "km.json")
    loaded = load_win_model(tmp_path / "km.json")
    assert isinstance(loaded, KaplanMeierWinModel) and loaded.fit_info == model.fit_info
    bids = np.linspace(1, 10, 19)[None, :].repeat(6, 0)
    np.testing.assert_array_equal(loaded.predict_p_win(hand_frame, bids), model.predict_p_win(hand_frame, bids))


def test_unfitted_model_says_so(hand_frame):
    with pytest.raises(ValueError, match="not fitted"):
        KaplanMeierWinModel().predict_p_win(hand_frame)
