import dataclasses

import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.calibration import CalibrationSpace, calibration_rows, describe_space_weights, space_weights
from mtl_keras.calibration import space as space_module

P_WIN = np.array([0.01, 0.05, 0.1, 0.5, 1.0])
P_CTR = np.array([0.001, 0.01, 0.02, 0.5, 1.0])


def test_impression_weights_are_one():
    np.testing.assert_array_equal(space_weights("impression", pd.DataFrame({"a": range(4)})), np.ones(4))


def test_request_weights_by_hand():
    # 1 / max(p_win, 0.05), at most 20.
    np.testing.assert_allclose(space_weights("request", p_win=P_WIN), [20, 20, 10, 2, 1])
    np.testing.assert_allclose(space_weights("request", pd.DataFrame({names.P_WIN: P_WIN})), [20, 20, 10, 2, 1])
    # floor 0.2, clip 4: 1/0.2 = 5 is capped at 4.
    np.testing.assert_allclose(space_weights("request", p_win=P_WIN, floor=0.2, clip=4), [4, 4, 4, 2, 1])


def test_click_do_weights_by_hand():
    # 1 / max(p_ctr, 0.01), at most 100; times the request weight when p_win is given.
    np.testing.assert_allclose(space_weights("click_do", p_ctr=P_CTR), [100, 100, 50, 2, 1])
    np.testing.assert_allclose(space_weights("click_do", {names.P_CTR: P_CTR}), [100, 100, 50, 2, 1])
    np.testing.assert_allclose(space_weights("click_do", p_ctr=P_CTR, p_win=P_WIN), [2000, 2000, 500, 4, 1])
    np.testing.assert_allclose(space_weights("click_do", p_ctr=P_CTR, p_win=P_WIN, floor=0.1, clip=5,
                                             win_floor=0.5, win_clip=1.5), [7.5, 7.5, 7.5, 3, 1])
    # A frame's p_win column alone does not turn click_do into request x click.
    frame = pd.DataFrame({names.P_CTR: P_CTR, names.P_WIN: P_WIN})
    np.testing.assert_allclose(space_weights("click_do", frame), [100, 100, 50, 2, 1])


def test_defaults_are_the_training_defaults():
    from mtl_keras.config import ModelConfig
    from mtl_keras.objectives.escm2_ips import ESCM2IPSConfig

    fields = {f.name: f.default for f in dataclasses.fields(ModelConfig)}
    assert (space_module.WIN_FLOOR, space_module.WIN_CLIP) == (fields["win_propensity_floor"],
                                                               fields["win_weight_clip"])
    fields = {f.name: f.default for f in dataclasses.fields(ESCM2IPSConfig)}
    assert (space_module.CTR_FLOOR, space_module.CTR_CLIP) == (fields["ctr_propensity_floor"],
                                                               fields["ctr_weight_clip"])


def test_descriptions_and_space_names():
    assert describe_space_weights("request") == "min(1/max(p_win, 0.05), 20)"
    assert describe_space_weights("click_do", with_win=True) == \
        "min(1/max(p_ctr, 0.01), 100) * min(1/max(p_win, 0.05), 20)"
    assert CalibrationSpace.parse("click_do") is CalibrationSpace.CLICK_DO and CalibrationSpace.REQUEST == "request"


def test_calibration_rows_weight_each_output_by_hand():
    frame = pd.DataFrame({names.WON: [1, 1, 1, 1, 0], names.CLICK: [1, 1, 0, 1, 0],
                          names.CONVERSION: [1, 0, 0, 1, 0], names.P_WIN: [0.5, 0.04, 0.25, 1.0, 0.3]})
    outputs = {names.P_CTR: np.array([0.5, 0.2, 0.1, 0.005, 0.3]), names.P_CVR: np.full(5, 0.1)}
    ctr = calibration_rows(outputs, frame, names.P_CTR, "request")
    np.testing.assert_array_equal(ctr.mask, [True, True, True, True, False])  # the lost request is out
    np.testing.assert_allclose(ctr.weights, [2, 20, 4, 1])
    np.testing.assert_array_equal(ctr.labels, [1, 1, 0, 1])
    cvr = calibration_rows(outputs, frame, names.P_CVR, "request")  # clicked: rows 0, 1, 3
    np.testing.assert_allclose(cvr.weights, [2 * 2, 5 * 20, 100 * 1])
    np.testing.assert_array_equal(cvr.labels, [1, 0, 1])
    assert cvr.space == "request" and "p_ctr" in cvr.weights_description and "p_win" in cvr.weights_description
    click_do = calibration_rows(outputs, frame, names.P_CVR, "click_do")
    np.testing.assert_allclose(click_do.weights, [2, 5, 100])
    assert calibration_rows(outputs, frame, names.P_CTR, "click_do").space == "impression"
    ctcvr = calibration_rows(outputs, frame, names.P_CTCVR, "impression")
    np.testing.assert_array_equal(ctcvr.labels, [1, 0, 0, 1])
    np.testing.assert_array_equal(ctcvr.weights, np.ones(4))


@pytest.mark.parametrize("space", ["request", "click_do"])
def test_a_missing_propensity_is_named(space):
    field = "p_win" if space == "request" else "p_ctr"
    with pytest.raises(ValueError, match=f"space '{space}' needs '{field}'"):
        space_weights(space, pd.DataFrame({"a": [1]}))
