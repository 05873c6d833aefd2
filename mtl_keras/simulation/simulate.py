"""Simulated bid-request logs as pandas frames, and the FeatureSpec of their feature columns."""
from __future__ import annotations

from typing import Dict, Iterator, Optional, Tuple

import numpy as np
import pandas as pd

from mtl_keras.features import CategoricalFeature, FeatureSpec, NumericFeature
from mtl_keras.simulation.config import SimulationConfig
from mtl_keras.simulation.world import BLOCK_SIZE, FunnelWorld


def simulate_frames(config: SimulationConfig) -> Iterator[pd.DataFrame]:
    """Yields the requests in frames of `config.chunk_size` rows (the last may be shorter).

    Memory stays at about one chunk; row i is the same for any chunk size (deterministic by seed).
    """
    world = FunnelWorld(config)
    cache: Tuple[Optional[int], Optional[Dict[str, np.ndarray]]] = (None, None)
    for start in range(0, config.num_requests, config.chunk_size):
        stop = min(start + config.chunk_size, config.num_requests)
        parts = []
        for index in range(start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE + 1):
            if cache[0] != index:  # a block split by a chunk boundary is drawn once
                cache = (index, world.block(index))
            lo = max(start - index * BLOCK_SIZE, 0)
            hi = min(stop - index * BLOCK_SIZE, BLOCK_SIZE)
            parts.append({k: v[lo:hi] for k, v in cache[1].items()})
        columns = parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        frame = pd.DataFrame(columns, copy=False)
        frame.index = pd.RangeIndex(start, stop)
        yield frame


def simulate_frame(config: SimulationConfig) -> pd.DataFrame:
    """All requests in one frame (for small sets: tests, notebooks)."""
    return pd.concat(list(simulate_frames(config)))


def feature_spec(config: SimulationConfig, embedding_dim: int = 8) -> FeatureSpec:
    """The FeatureSpec of the feature columns the simulator writes (numeric mean/std are exact)."""
    return FeatureSpec(
        categorical=[
            CategoricalFeature(name, vocabulary_size=size, embedding_dim=embedding_dim)
            for name, size in zip(config.categorical_names, config.observed_vocabularies)
        ],
        numeric=[
            NumericFeature(name, mean=m, std=s)
            for name, m, s in zip(config.numeric_names, config.numeric_means, config.numeric_stds)
        ],
    )
