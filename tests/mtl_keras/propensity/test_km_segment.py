import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.propensity import KaplanMeierWinModel, SegmentedKaplanMeierWinModel, load_win_model


def test_each_segment_gets_its_own_curve_and_unseen_levels_the_overall_one(hand_frame, tmp_path):
    model = SegmentedKaplanMeierWinModel(segment="device", min_events=1).fit(hand_frame)
    bids = np.array([2.5, 4.5, 8.5])
    for level in (0, 1):
        rows = hand_frame[hand_frame["device"] == level]
        alone = KaplanMeierWinModel().fit(rows)
        np.testing.assert_allclose(model.predict_p_win(rows, np.tile(bids, (len(rows), 1))),
                                   alone.predict_p_win(rows, np.tile(bids, (len(rows), 1))))
    unseen = hand_frame.iloc[:1].assign(device=7)
    overall = KaplanMeierWinModel().fit(hand_frame)
    np.testing.assert_allclose(model.predict_p_win(unseen, bids[None]), overall.predict_p_win(unseen, bids[None]))
    model.save(tmp_path / "m.json")
    np.testing.assert_allclose(load_win_model(tmp_path / "m.json").predict_p_win(hand_frame), model.predict_p_win(hand_frame))


def test_small_segments_fall_back_to_overall(hand_frame):
    # device 1 has one won request; with min_events=2 it uses the overall curve.
    model = SegmentedKaplanMeierWinModel(segment="device", min_events=2).fit(hand_frame)
    rows = hand_frame[hand_frame["device"] == 1]
    overall = KaplanMeierWinModel().fit(hand_frame)
    np.testing.assert_allclose(model.predict_p_win(rows), overall.predict_p_win(rows))


def test_segment_column_is_required(hand_frame):
    with pytest.raises(ValueError, match="segment"):
        SegmentedKaplanMeierWinModel().fit(hand_frame)
    with pytest.raises(ValueError, match="NaN"):
        SegmentedKaplanMeierWinModel(segment="s").fit(hand_frame.assign(s=[1.0, np.nan, 1, 1, 1, 1]))
