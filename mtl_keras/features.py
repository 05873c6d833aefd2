"""FeatureSpec: which categorical and numeric features a model reads, as JSON-round-trippable dataclasses."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Sequence

from mtl_keras import dataclass_dict, names


@dataclasses.dataclass(frozen=True)
class CategoricalFeature:
    """An integer id feature looked up in an embedding table.

    Exactly one of `vocabulary_size` (ids must lie in [0, vocabulary_size)) or `hash_buckets`
    (any int64 id, hashed into that many rows) is set. Features with the same `shared_table`
    share one table; their sizes and `embedding_dim` must then agree.
    """

    name: str
    vocabulary_size: Optional[int] = None
    hash_buckets: Optional[int] = None
    embedding_dim: int = 8
    shared_table: Optional[str] = None

    def __post_init__(self):
        _check_name(self.name, "CategoricalFeature.name")
        if (self.vocabulary_size is None) == (self.hash_buckets is None):
            raise ValueError(
                f"CategoricalFeature {self.name!r}: set exactly one of vocabulary_size or hash_buckets, "
                f"got vocabulary_size={self.vocabulary_size}, hash_buckets={self.hash_buckets}."
            )
        for field in ("vocabulary_size", "hash_buckets", "embedding_dim"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(
                    f"CategoricalFeature {self.name!r}: {field} must be a positive int, got {value!r}."
                )

    @property
    def table_name(self) -> str:
        return self.shared_table or self.name

    @property
    def num_rows(self) -> int:
        return self.hash_buckets if self.hash_buckets is not None else self.vocabulary_size


@dataclasses.dataclass(frozen=True)
class NumericFeature:
    """A float feature, standardised as (x - mean) / std inside the model."""

    name: str
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self):
        _check_name(self.name, "NumericFeature.name")
        if not self.std > 0:
            raise ValueError(f"NumericFeature {self.name!r}: std must be > 0, got {self.std!r}.")


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """All input features of a model."""

    categorical: Sequence[CategoricalFeature] = ()
    numeric: Sequence[NumericFeature] = ()

    def __post_init__(self):
        object.__setattr__(self, "categorical", tuple(self.categorical))
        object.__setattr__(self, "numeric", tuple(self.numeric))
        if not self.categorical and not self.numeric:
            raise ValueError("FeatureSpec is empty: give at least one categorical or numeric feature.")
        seen = set()
        for feature in (*self.categorical, *self.numeric):
            if feature.name in seen:
                raise ValueError(f"FeatureSpec: feature name {feature.name!r} appears twice; names must be unique.")
            seen.add(feature.name)
        tables: Dict[str, CategoricalFeature] = {}
        for feature in self.categorical:
            other = tables.setdefault(feature.table_name, feature)
            if (other.num_rows, other.embedding_dim, other.hash_buckets is None) != (
                feature.num_rows, feature.embedding_dim, feature.hash_buckets is None
            ):
                raise ValueError(
                    f"FeatureSpec: features {other.name!r} and {feature.name!r} share table "
                    f"{feature.table_name!r} but differ in size, hashing or embedding_dim; make them equal."
                )

    @property
    def names(self) -> List[str]:
        return [f.name for f in self.categorical] + [f.name for f in self.numeric]

    def check_columns(self, columns: Sequence[str], where: str = "the data") -> None:
        """Raises a ValueError naming every feature of the spec that `columns` lacks."""
        missing = [n for n in self.names if n not in set(columns)]
        if missing:
            raise ValueError(
                f"Features {missing} are in the FeatureSpec but not in {where} (columns: {sorted(columns)}). "
                "Fix: remove them from the config or add the columns."
            )

    def to_dict(self) -> Dict[str, Any]:
        return {
            "categorical": [dataclasses.asdict(f) for f in self.categorical],
            "numeric": [dataclasses.asdict(f) for f in self.numeric],
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "FeatureSpec":
        unknown = set(data) - {"categorical", "numeric"}
        if unknown:
            raise ValueError(f"FeatureSpec: unknown keys {sorted(unknown)}; expected 'categorical' and 'numeric'.")
        return cls(
            categorical=[dataclass_dict.from_dict(CategoricalFeature, f) for f in data.get("categorical", [])],
            numeric=[dataclass_dict.from_dict(NumericFeature, f) for f in data.get("numeric", [])],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "FeatureSpec":
        return cls.from_dict(json.loads(text))


def _check_name(name: str, field: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{field} must be a non-empty string, got {name!r}.")
    if name in names.FUNNEL_COLUMNS or name in names.GROUND_TRUTH_COLUMNS:
        raise ValueError(f"{field}={name!r} is a label/funnel column and cannot be a model feature; rename it.")
