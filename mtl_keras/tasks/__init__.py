"""Tasks: each owns its loss and metrics; the model weights and sums them."""
from mtl_keras.tasks.base import Task
from mtl_keras.tasks.ctcvr import CTCVRTask
from mtl_keras.tasks.ctr import CTRTask
from mtl_keras.tasks.cvr import ClickedCVRTask, CVRTask
from mtl_keras.tasks.dr_cvr import DRCVRTask
from mtl_keras.tasks.ips_cvr import IPSCVRTask
from mtl_keras.tasks.win_weights import WinPropensityWeights

__all__ = ["Task", "CTRTask", "CTCVRTask", "CVRTask", "ClickedCVRTask", "IPSCVRTask", "DRCVRTask", "WinPropensityWeights"]
