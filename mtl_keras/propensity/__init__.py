"""Win propensity: survival models of the market price (lifelines, a tf_keras hazard network) giving P(win | x, bid).

A won request is an event at its market price; a lost one is right-censored at its bid.
TensorFlow is imported only when the neural model is fitted or loaded, and by `to_tf_module`.
"""
from mtl_keras.propensity.aft import AFTWinModel
from mtl_keras.propensity.base import WinPropensityModel
from mtl_keras.propensity.cox import CoxWinModel
from mtl_keras.propensity.data import survival_arrays
from mtl_keras.propensity.encoder import FeatureEncoder
from mtl_keras.propensity.factory import MODEL_CLASSES, load_win_model, make_win_model, win_model_from_dict
from mtl_keras.propensity.kaplan_meier import KaplanMeierWinModel
from mtl_keras.propensity.km_segment import SegmentedKaplanMeierWinModel
from mtl_keras.propensity.lognormal_aft import LogNormalAFTWinModel
from mtl_keras.propensity.neural import NeuralWinModel
from mtl_keras.propensity.weibull_aft import WeibullAFTWinModel

__all__ = [
    "WinPropensityModel", "AFTWinModel", "KaplanMeierWinModel", "SegmentedKaplanMeierWinModel", "CoxWinModel",
    "WeibullAFTWinModel", "LogNormalAFTWinModel", "NeuralWinModel", "FeatureEncoder", "make_win_model", "load_win_model",
    "win_model_from_dict", "MODEL_CLASSES", "survival_arrays",
]
