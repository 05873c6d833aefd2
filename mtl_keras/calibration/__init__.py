"""Post-hoc calibration of a trained model's probabilities, fitted on held-out rows and served in TF.

Calibrators (`IsotonicCalibrator`, `PlattCalibrator`, `HistogramCalibrator`, and
`SliceCalibrator` per value of a feature) are monotone maps fitted with `fit(p, labels,
sample_weight)`, applied with `transform` (numpy) or `tf_transform` (TF ops only, for serving
graphs) and saved as plain JSON data (`to_dict`, `calibrator_from_dict`). Each records the
population it is calibrated on (`CalibrationSpace`: impression, request or click_do) and the
weights that moved the held-out rows there (`space_weights`). `MultiTaskCalibration` applies them
to a model's p_ctr / p_cvr / p_ctcvr; `fit_multitask_calibration` fits one from predictions and a
log; `report` compares before and after. TensorFlow is imported only by the TF forms.
"""
from mtl_keras.calibration.base import Calibrator
from mtl_keras.calibration.fitting import CalibrationRows, calibration_rows, fit_multitask_calibration
from mtl_keras.calibration.histogram import HistogramCalibrator
from mtl_keras.calibration.isotonic import IsotonicCalibrator
from mtl_keras.calibration.multitask import MultiTaskCalibration
from mtl_keras.calibration.pav import pool_adjacent_violators
from mtl_keras.calibration.platt import PlattCalibrator
from mtl_keras.calibration.registry import CALIBRATORS, calibrator_from_dict, make_calibrator
from mtl_keras.calibration.report import calibration_table, multitask_calibration_report, reliability_plot
from mtl_keras.calibration.slice_calibrator import SliceCalibrator
from mtl_keras.calibration.space import CalibrationSpace, describe_space_weights, space_weights

__all__ = [
    "CALIBRATORS",
    "CalibrationRows",
    "CalibrationSpace",
    "Calibrator",
    "HistogramCalibrator",
    "IsotonicCalibrator",
    "MultiTaskCalibration",
    "PlattCalibrator",
    "SliceCalibrator",
    "calibration_rows",
    "calibration_table",
    "calibrator_from_dict",
    "describe_space_weights",
    "fit_multitask_calibration",
    "make_calibrator",
    "multitask_calibration_report",
    "pool_adjacent_violators",
    "reliability_plot",
    "space_weights",
]
