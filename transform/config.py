"""TransformConfig: how `preprocessing_fn` treats categorical and numeric features."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional

from mtl_keras import dataclass_dict

NUMERIC_TRANSFORMS = ("zscore", "log", "bucketize")


@dataclasses.dataclass(frozen=True)
class TransformConfig:
    """Options of the tf.Transform preprocessing.

    Categoricals with a `vocabulary_size` in the FeatureSpec get a vocabulary computed over the
    whole data set (features that share an embedding table share one vocabulary) and
    `num_oov_buckets` buckets for ids not in it; `top_k` and `frequency_threshold` prune the
    vocabulary. Categoricals with `hash_buckets` pass through as raw ids (the model hashes them).

    Numerics: `zscore` standardises; `log` standardises sign(x)·log1p(|x|), defined for every
    real x, for heavy-tailed values such as prices; `bucketize` maps to `num_buckets` quantile
    buckets, which the model then embeds like a categorical. `numeric_transform` is the default and
    `numeric_overrides` sets it per feature name.
    """

    numeric_transform: str = "zscore"
    numeric_overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    num_buckets: int = 10
    num_oov_buckets: int = 1
    top_k: Optional[int] = None
    frequency_threshold: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "numeric_overrides", dict(self.numeric_overrides))
        for where, value in [("numeric_transform", self.numeric_transform)] + [
            (f"numeric_overrides[{k!r}]", v) for k, v in self.numeric_overrides.items()
        ]:
            if value not in NUMERIC_TRANSFORMS:
                raise ValueError(f"TransformConfig.{where}={value!r}; choose one of {NUMERIC_TRANSFORMS}.")
        _positive_int("num_buckets", self.num_buckets, minimum=2)
        _positive_int("num_oov_buckets", self.num_oov_buckets, minimum=1)
        if self.top_k is not None:
            _positive_int("top_k", self.top_k, minimum=1)
        if self.frequency_threshold is not None:
            _positive_int("frequency_threshold", self.frequency_threshold, minimum=1)

    def numeric_transform_for(self, name: str) -> str:
        return self.numeric_overrides.get(name, self.numeric_transform)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TransformConfig":
        return dataclass_dict.from_dict(cls, data)


def _positive_int(field: str, value: Any, minimum: int) -> None:
    # 0 vocabulary OOV buckets would map unseen ids to -1, which no embedding table accepts.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"TransformConfig.{field} must be an int >= {minimum}, got {value!r}.")
