"""The backbone table: name -> typed config section (which builds the layer).

Add a backbone by writing its section (a `Backbone` dataclass with `name`, settings and `build`)
and listing it here; ModelConfig validation, the CLI and the benchmark read this table.
"""
from mtl_keras.backbones.base import Backbone
from mtl_keras.backbones.mmoe import MMoEConfig
from mtl_keras.backbones.ple import PLEConfig
from mtl_keras.backbones.shared_bottom import SharedBottomConfig

BACKBONES = {section.name: section for section in (SharedBottomConfig, MMoEConfig, PLEConfig)}
GATED_BACKBONES = tuple(name for name, section in BACKBONES.items() if section.has_gates)

__all__ = ["BACKBONES", "GATED_BACKBONES", "Backbone", "MMoEConfig", "PLEConfig", "SharedBottomConfig"]
