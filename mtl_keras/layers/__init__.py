"""Keras layers of the multi-task models; each is registered for serialization under package `mtl_keras`."""
from mtl_keras.layers.mixture_of_experts import MixtureOfExperts
from mtl_keras.layers.mmoe import MMoE
from mtl_keras.layers.ple import PLE
from mtl_keras.layers.shared_bottom import SharedBottom
from mtl_keras.layers.shared_embedding import SharedEmbedding
from mtl_keras.layers.tower import Tower

__all__ = ["MixtureOfExperts", "MMoE", "PLE", "SharedBottom", "SharedEmbedding", "Tower"]
