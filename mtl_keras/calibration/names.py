"""Names the calibration package adds to the data contract of `mtl_keras.names`.

Kept here rather than in `mtl_keras.names` so that the model's contract does not change with an
optional post-processing step.
"""
from mtl_keras import names

# Served next to each calibrated output: the model's own value, so that drift between the two
# can be monitored.
UNCALIBRATED_SUFFIX = "_uncalibrated"
P_CTR_UNCALIBRATED = names.P_CTR + UNCALIBRATED_SUFFIX
P_CVR_UNCALIBRATED = names.P_CVR + UNCALIBRATED_SUFFIX
P_CTCVR_UNCALIBRATED = names.P_CTCVR + UNCALIBRATED_SUFFIX
CALIBRATED_OUTPUTS = (names.P_CTR, names.P_CVR, names.P_CTCVR)

# Calibration spaces (see `CalibrationSpace`).
SPACE_IMPRESSION = "impression"
SPACE_REQUEST = "request"
SPACE_CLICK_DO = "click_do"
SPACES = (SPACE_IMPRESSION, SPACE_REQUEST, SPACE_CLICK_DO)

# Calibrator kinds, the "kind" key of each saved calibrator.
ISOTONIC = "isotonic"
PLATT = "platt"
HISTOGRAM = "histogram"
SLICE = "slice"
BASE_KINDS = (ISOTONIC, PLATT, HISTOGRAM)

# Files written by `mtl-ads calibrate`.
CALIBRATION_FILE = "calibration.json"
REPORT_FILE = "calibration_report.json"
