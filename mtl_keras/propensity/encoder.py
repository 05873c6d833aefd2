"""FeatureEncoder: the design matrix of the regression win models (Cox, AFT), in numpy and in TF.

Categorical ids become one-hot columns for their most frequent levels; all other ids (rare or
unseen) share the all-zero reference. When the kept levels cover every fitted row, the least
frequent is dropped too, so the columns are never collinear with the intercept. Numeric features
are standardised with the fitted mean and std; constant ones are dropped.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np
import pandas as pd


class FeatureEncoder:
    """Fits levels / scales on a frame, then maps frames (or TF tensors) to a float design matrix."""

    def __init__(self, categorical: Sequence[str] = (), numeric: Sequence[str] = (), max_levels: int = 20,
                 min_count: int = 20):
        if not isinstance(max_levels, int) or max_levels < 1:
            raise ValueError(f"FeatureEncoder.max_levels must be an int >= 1, got {max_levels!r}.")
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"FeatureEncoder.min_count must be an int >= 1, got {min_count!r}.")
        overlap = set(categorical) & set(numeric)
        if overlap:
            raise ValueError(f"FeatureEncoder: {sorted(overlap)} are both categorical and numeric; choose one.")
        self.categorical = list(categorical)
        self.numeric = list(numeric)
        self.max_levels = max_levels
        self.min_count = min_count
        self.levels: Dict[str, np.ndarray] = {}
        self.mean: Dict[str, float] = {}
        self.std: Dict[str, float] = {}

    def fit(self, frame: pd.DataFrame) -> "FeatureEncoder":
        self._check(frame)
        for name in self.categorical:
            counts = frame[name].value_counts(sort=False)
            counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
            kept = counts[counts >= self.min_count].iloc[: self.max_levels]
            if len(kept) and kept.sum() == len(frame):
                kept = kept.iloc[:-1]  # keep a reference level
            self.levels[name] = kept.index.to_numpy(np.int64)
        for name in self.numeric:
            values = frame[name].to_numpy(np.float64)
            std = float(values.std())
            if std > 0:
                self.mean[name], self.std[name] = float(values.mean()), std
        return self

    @property
    def column_names(self) -> List[str]:
        cols = [f"{n}={v}" for n in self.categorical for v in self.levels.get(n, [])]
        return cols + [n for n in self.numeric if n in self.std]

    @property
    def num_columns(self) -> int:
        return len(self.column_names)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """[rows, num_columns] float64 design matrix."""
        self._check(frame)
        blocks = []
        for name in self.categorical:
            ids = frame[name].to_numpy(np.int64)
            blocks.append((ids[:, None] == self.levels[name][None, :]).astype(np.float64))
        for name in self.numeric:
            if name in self.std:
                blocks.append(((frame[name].to_numpy(np.float64) - self.mean[name]) / self.std[name])[:, None])
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.concatenate(blocks, axis=1)

    def dot(self, frame: pd.DataFrame, beta: np.ndarray) -> np.ndarray:
        """transform(frame) @ beta without building the one-hot matrix: each id looks up its
        level's coefficient (binary search), so the cost is O(rows log levels) per feature."""
        self._check(frame)
        beta = np.asarray(beta, np.float64)
        if beta.shape != (self.num_columns,):
            raise ValueError(f"beta must have shape ({self.num_columns},), got {beta.shape}.")
        out = np.zeros(len(frame))
        offset = 0
        for name in self.categorical:
            levels = self.levels[name]
            if len(levels):
                order = np.argsort(levels)
                sorted_levels, sorted_beta = levels[order], beta[offset:offset + len(levels)][order]
                ids = frame[name].to_numpy(np.int64)
                index = np.clip(np.searchsorted(sorted_levels, ids), 0, len(levels) - 1)
                out += np.where(sorted_levels[index] == ids, sorted_beta[index], 0.0)
            offset += len(levels)
        for name in self.numeric:
            if name in self.std:
                out += (frame[name].to_numpy(np.float64) - self.mean[name]) / self.std[name] * beta[offset]
                offset += 1
        return out

    def transform_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.transform(frame), columns=self.column_names, index=frame.index)

    def tf_transform(self, features: Dict[str, Any]):
        """The same matrix from a dict of [batch] (or [batch, 1]) tensors, as float64."""
        import tensorflow as tf

        blocks = []
        for name in self.categorical:
            ids = tf.reshape(tf.cast(features[name], tf.int64), [-1, 1])
            levels = tf.constant(self.levels[name], tf.int64)[None, :]
            blocks.append(tf.cast(tf.equal(ids, levels), tf.float64))
        for name in self.numeric:
            if name in self.std:
                x = tf.reshape(tf.cast(features[name], tf.float64), [-1, 1])
                blocks.append((x - self.mean[name]) / self.std[name])
        return tf.concat(blocks, axis=1)

    # --- level ids and scaled numbers (the neural model's inputs; same levels and scales) -----------
    @property
    def levels_per_field(self) -> List[int]:
        """Per categorical feature: its kept levels plus the shared reference (rare / unseen ids)."""
        return [len(self.levels[n]) + 1 for n in self.categorical]

    def level_ids(self, frame: pd.DataFrame) -> np.ndarray:
        """[rows, len(categorical)] int32: per feature 0 for the reference, 1 + the level's position,
        offset by the sizes of the features before it (one id space for one embedding table)."""
        self._check(frame)
        out = np.zeros((len(frame), len(self.categorical)), np.int32)
        offset = 0
        for i, name in enumerate(self.categorical):
            levels = self.levels[name]
            if len(levels):
                order = np.argsort(levels)
                ids = frame[name].to_numpy(np.int64)
                index = np.clip(np.searchsorted(levels[order], ids), 0, len(levels) - 1)
                out[:, i] = np.where(levels[order][index] == ids, order[index] + 1, 0) + offset
            else:
                out[:, i] = offset
            offset += len(levels) + 1
        return out

    def scaled_numeric(self, frame: pd.DataFrame) -> np.ndarray:
        """[rows, kept numeric] float32: standardised numeric features (constant ones dropped)."""
        self._check(frame)
        kept = [n for n in self.numeric if n in self.std]
        columns = [(frame[n].to_numpy(np.float64) - self.mean[n]) / self.std[n] for n in kept]
        return np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((len(frame), 0), np.float32)

    def tf_level_ids(self, features: Dict[str, Any]):
        """level_ids from a dict of [batch] (or [batch, 1]) tensors, int32 [batch, len(categorical)]."""
        import tensorflow as tf

        columns, offset = [], 0
        for name in self.categorical:
            levels = self.levels[name]
            ids = tf.reshape(tf.cast(features[name], tf.int64), [-1])
            if len(levels):
                order = np.argsort(levels)
                sorted_levels = tf.constant(levels[order], tf.int64)
                index = tf.clip_by_value(tf.searchsorted(sorted_levels, ids), 0, len(levels) - 1)
                position = tf.gather(tf.constant(order + 1, tf.int32), index)
                hit = tf.equal(tf.gather(sorted_levels, index), ids)
                columns.append(tf.where(hit, position, tf.zeros_like(position)) + offset)
            else:
                columns.append(tf.zeros_like(ids, tf.int32) + offset)
            offset += len(levels) + 1
        return tf.stack(columns, axis=1)

    def tf_scaled_numeric(self, features: Dict[str, Any]):
        """scaled_numeric from a dict of tensors, float32 [batch, kept numeric]."""
        import tensorflow as tf

        kept = [n for n in self.numeric if n in self.std]
        columns = [(tf.reshape(tf.cast(features[n], tf.float64), [-1]) - self.mean[n]) / self.std[n] for n in kept]
        return tf.cast(tf.stack(columns, axis=1), tf.float32)

    def _check(self, frame: pd.DataFrame) -> None:
        missing = [n for n in self.categorical + self.numeric if n not in frame.columns]
        if missing:
            raise ValueError(f"Feature columns {missing} are missing from the data; give them or drop them from the model.")
        for name in self.categorical + self.numeric:
            if frame[name].isna().any():
                raise ValueError(f"Feature {name!r} has {int(frame[name].isna().sum())} NaN values; "
                                 "fill or drop them before fitting or scoring a win model.")
        for name in self.categorical:
            if not pd.api.types.is_integer_dtype(frame[name]):
                raise ValueError(f"Categorical feature {name!r} must hold integer ids, got dtype {frame[name].dtype}.")

    def to_dict(self) -> Dict[str, Any]:
        return {
            "categorical": self.categorical, "numeric": self.numeric, "max_levels": self.max_levels,
            "min_count": self.min_count, "levels": {k: v.tolist() for k, v in self.levels.items()},
            "mean": self.mean, "std": self.std,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "FeatureEncoder":
        encoder = cls(data["categorical"], data["numeric"], data["max_levels"], data["min_count"])
        encoder.levels = {k: np.asarray(v, np.int64) for k, v in data["levels"].items()}
        encoder.mean, encoder.std = dict(data["mean"]), dict(data["std"])
        return encoder
