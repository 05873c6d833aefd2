import numpy as np
import pandas as pd
import pytest

from mtl_keras import names
from mtl_keras.calibration import (
    HistogramCalibrator, IsotonicCalibrator, MultiTaskCalibration, PlattCalibrator, SliceCalibrator,
    calibration_table, calibrator_from_dict, fit_multitask_calibration, space_weights)

P = np.linspace(0.05, 0.95, 200)
Y = np.tile([0.0, 1.0], 100)
KINDS = [IsotonicCalibrator, PlattCalibrator, HistogramCalibrator]


@pytest.mark.parametrize("cls", KINDS)
def test_too_few_rows_or_positives_give_the_counts_and_the_minimum(cls):
    with pytest.raises(ValueError, match=r"12 rows and 6 positives .*min_rows=100 and min_positives=10"):
        cls().fit(P[:12], Y[:12])
    with pytest.raises(ValueError, match=r"200 rows and 3 positives .*min_positives=5"):
        cls(min_positives=5).fit(P, np.r_[np.zeros(197), np.ones(3)])


@pytest.mark.parametrize("cls", KINDS)
def test_bad_probabilities_labels_and_weights_name_the_field(cls):
    calibrator = cls()
    with pytest.raises(ValueError, match=r"probabilities has 1 NaN values .*Fix"):
        calibrator.fit(np.r_[np.nan, P[1:]], Y)
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]; 1 of 200 .*not logits"):
        calibrator.fit(np.r_[1.5, P[1:]], Y)
    with pytest.raises(ValueError, match=r"labels must hold only 0 and 1; 1 of 200"):
        calibrator.fit(P, np.r_[2.0, Y[1:]])
    with pytest.raises(ValueError, match=r"labels must hold only 0 and 1"):
        calibrator.fit(P, np.r_[np.nan, Y[1:]])
    with pytest.raises(ValueError, match=r"labels has 199 values but probabilities has 200"):
        calibrator.fit(P, Y[1:])
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"sample_weight must be non-negative and finite; 1 of 200"):
            calibrator.fit(P, Y, sample_weight=np.r_[bad, np.ones(199)])
    with pytest.raises(ValueError, match=r"transform: the calibrator is not fitted"):
        calibrator.transform(P)
    fitted = cls().fit(P, Y)
    with pytest.raises(ValueError, match=r"transform: probabilities must lie in \[0, 1\]"):
        fitted.transform([-0.1])


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match=r"space must be one of \['impression', 'request', 'click_do'\]"):
        IsotonicCalibrator(space="requests")
    with pytest.raises(ValueError, match=r"eps must be a number in \[0, 0.5\)"):
        IsotonicCalibrator(eps=0.7)
    with pytest.raises(ValueError, match=r"interpolation must be one of"):
        IsotonicCalibrator(interpolation="nearest")
    with pytest.raises(ValueError, match=r"min_rows must be an int >= 1"):
        PlattCalibrator(min_rows=0)
    with pytest.raises(ValueError, match=r"calibrator kind must be one of"):
        SliceCalibrator("c", "beta")
    with pytest.raises(ValueError, match=r"prior_strength must be a finite number >= 0"):
        SliceCalibrator("c", prior_strength=-1)


def test_separable_labels_are_refused_by_platt():
    with pytest.raises(ValueError, match=r"separable by the probabilities"):
        PlattCalibrator().fit(P, (P > 0.5).astype(float))


def test_bad_saved_dicts_are_named():
    with pytest.raises(ValueError, match=r"expected a dict with a 'kind' key"):
        calibrator_from_dict({"a": 1})
    with pytest.raises(ValueError, match=r"unknown kind 'beta'"):
        calibrator_from_dict({"kind": "beta"})
    saved = IsotonicCalibrator().fit(P, Y).to_dict()
    del saved["x"]
    with pytest.raises(ValueError, match=r"has no 'x' entry"):
        calibrator_from_dict(saved)
    with pytest.raises(ValueError, match=r"holds a 'platt' calibrator, not 'isotonic'"):
        IsotonicCalibrator.from_dict(PlattCalibrator().fit(P, Y).to_dict())


def test_slice_values_and_fields():
    with pytest.raises(ValueError, match=r"slice field 'advertiser' holds floats.*astype"):
        SliceCalibrator("advertiser").fit(P, Y, np.ones(200))
    with pytest.raises(ValueError, match=r"slice field 'advertiser' has 1 missing values"):
        SliceCalibrator("advertiser").fit(P, Y, np.array([None] + ["a"] * 199, dtype=object))
    with pytest.raises(ValueError, match=r"slice field 'advertiser' has 10 values but probabilities has 200"):
        SliceCalibrator("advertiser").fit(P, Y, np.ones(10, dtype=int))
    fitted = SliceCalibrator("advertiser").fit(P, Y, np.ones(200, dtype=int))
    with pytest.raises(ValueError, match=r"slice field 'advertiser' was fitted on integer values"):
        fitted.transform(P, np.array(["1"] * 200))


def _frame():
    return pd.DataFrame({names.CLICK: np.tile([0, 1], 200), names.CONVERSION: np.tile([0, 0, 0, 1], 100)})


def test_fit_multitask_calibration_names_the_missing_or_bad_column():
    frame, outputs = _frame(), {names.P_CTR: np.linspace(0.1, 0.9, 400), names.P_CVR: np.linspace(0.1, 0.9, 400)}
    with pytest.raises(ValueError, match=r"slice field 'advertiser' is not a column of the frame"):
        fit_multitask_calibration(outputs, frame, slice_field="advertiser")
    with pytest.raises(ValueError, match=r"no 'p_win' column.*use space 'impression'"):
        fit_multitask_calibration(outputs, frame, space="request")
    with pytest.raises(ValueError, match=r"label column 'conversion' is missing"):
        fit_multitask_calibration(outputs, frame.drop(columns=[names.CONVERSION]))
    with pytest.raises(ValueError, match=r"label column 'click' must hold only 0 and 1; 1 of the 400"):
        fit_multitask_calibration(outputs, frame.assign(click=np.r_[3, frame[names.CLICK][1:]]))
    with pytest.raises(ValueError, match=r"model output 'p_ctr' has 10 values but the frame has 400 rows"):
        fit_multitask_calibration({names.P_CTR: np.full(10, 0.5)}, frame)
    with pytest.raises(ValueError, match=r"calibrating 'p_cvr': .*too little data to calibrate: 200 rows and 100"):
        fit_multitask_calibration(outputs, frame, calibrator_kwargs={"min_rows": 300})
    with pytest.raises(ValueError, match=r"weights the CVR by 1/pCTR.*no 'p_ctr'"):
        fit_multitask_calibration({names.P_CVR: outputs[names.P_CVR]}, frame, space="click_do")


def test_sliced_calibration_needs_its_field_at_apply_time():
    frame = _frame().assign(advertiser=np.arange(400) % 3)
    outputs = {names.P_CTR: np.linspace(0.1, 0.9, 400), names.P_CVR: np.linspace(0.1, 0.9, 400)}
    calibration = fit_multitask_calibration(outputs, frame, slice_field="advertiser")
    with pytest.raises(ValueError, match=r"sliced by field 'advertiser'.*were not passed"):
        calibration.apply(outputs)
    with pytest.raises(ValueError, match=r"sliced by field 'advertiser'.*have no 'advertiser'"):
        calibration.apply(outputs, {"other": np.zeros(400)})
    with pytest.raises(ValueError, match=r"outputs \['p_cvr'\] have calibrators but are not in the model outputs"):
        calibration.apply({names.P_CTR: outputs[names.P_CTR]}, frame)


def test_load_and_report_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"is not a file"):
        MultiTaskCalibration.load(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match=r"is not valid JSON"):
        MultiTaskCalibration.load(str(tmp_path / "bad.json"))
    with pytest.raises(ValueError, match=r"probabilities_after must lie in \[0, 1\]"):
        calibration_table([0.1, 0.2], [0.1, 2.0], [0, 1])
    with pytest.raises(ValueError, match=r"weights must be non-negative"):
        calibration_table([0.1, 0.2], [0.1, 0.2], [0, 1], weights=[1, -1])
    with pytest.raises(ValueError, match=r"the clip of 1/p_win must be >= 1"):
        space_weights("request", p_win=[0.5], clip=0.5)
