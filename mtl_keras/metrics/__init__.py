"""Metrics: numpy references (AUC, log loss, ECE, calibration ratio) and streaming Keras metrics."""
from mtl_keras.metrics.calibration_ratio import CalibrationRatio
from mtl_keras.metrics.expected_calibration_error import ExpectedCalibrationError
from mtl_keras.metrics.reference import (
    calibration_ratio, expected_calibration_error, log_loss, reliability_curve, roc_auc)

__all__ = [
    "CalibrationRatio",
    "ExpectedCalibrationError",
    "calibration_ratio",
    "expected_calibration_error",
    "log_loss",
    "reliability_curve",
    "roc_auc",
]
