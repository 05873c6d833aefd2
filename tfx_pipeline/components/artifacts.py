"""Custom artifact types."""
from tfx import types


class DataValidation(types.Artifact):
    """The gate's verdict: written only when the data passed (the gate fails otherwise)."""

    TYPE_NAME = "mtl_ads.DataValidation"


class WinModel(types.Artifact):
    """A fitted win-propensity model (`win_model.json`, see mtl_keras.propensity)."""

    TYPE_NAME = "mtl_ads.WinModel"
