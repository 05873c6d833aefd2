"""Readers of public ad datasets into (frame, FeatureSpec) on the `mtl_keras.names` contract."""
from mtl_keras.datasets.ali_ccp import read_ali_ccp
from mtl_keras.datasets.aliexpress import read_aliexpress
from mtl_keras.datasets.common import write_for_training

__all__ = ["read_ali_ccp", "read_aliexpress", "write_for_training"]
