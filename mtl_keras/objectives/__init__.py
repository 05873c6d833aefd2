"""The objective table: name -> typed config section (towers, tasks, default task weights).

Add an objective by writing its section (an `Objective` dataclass with `name`, `towers`, `labels`,
`default_task_weights`, settings and `build_tasks`) and listing it here; ModelConfig validation,
the CLI and the benchmark read this table. Win weighting (1/p_win) applies to every objective and
is set on ModelConfig.
"""
from mtl_keras.objectives.base import Objective
from mtl_keras.objectives.escm2_dr import ESCM2DRConfig
from mtl_keras.objectives.escm2_ips import ESCM2IPSConfig
from mtl_keras.objectives.esmm import ESMMConfig
from mtl_keras.objectives.naive import NaiveConfig
from mtl_keras.objectives.single_task import CTRConfig, CVRConfig

OBJECTIVES = {section.name: section for section in (NaiveConfig, ESMMConfig, ESCM2IPSConfig, ESCM2DRConfig,
                                                       CTRConfig, CVRConfig)}

__all__ = ["OBJECTIVES", "CTRConfig", "CVRConfig", "ESCM2DRConfig", "ESCM2IPSConfig", "ESMMConfig", "NaiveConfig", "Objective"]
