"""FeatureSpec: which categorical and numeric features a model reads, as JSON-round-trippable dataclasses."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Sequence, Union

from mtl_keras import dataclass_dict, names


@dataclasses.dataclass(frozen=True)
class CategoricalFeature:
    """A categorical feature looked up in an embedding table. Three kinds:

    - `vocabulary_size`: integer ids in [0, vocabulary_size), mapped by the caller.
    - `hash_buckets`: any int64 id, hashed into that many rows.
    - a vocabulary: raw values (all strings or all ints). Declare it with `num_oov_buckets >= 1`
      and no size; `mtl_keras.vocabulary.learn_vocabularies` fills `vocabulary` from training
      data (values seen `min_count` times or more, most frequent first, at most `max_size`). Id
      layout: [0, num_oov_buckets) for values outside the vocabulary, then the vocabulary in
      order; `vocabulary_size` is set to len(vocabulary) + num_oov_buckets.

    Features with the same `shared_table` share one table; their sizes, `embedding_dim` and
    vocabularies must then agree.
    """

    name: str
    vocabulary_size: Optional[int] = None
    hash_buckets: Optional[int] = None
    embedding_dim: int = 8
    shared_table: Optional[str] = None
    vocabulary: Optional[Sequence[Union[str, int]]] = None
    num_oov_buckets: int = 0
    min_count: int = 1
    max_size: Optional[int] = None

    def __post_init__(self):
        _check_name(self.name, "CategoricalFeature.name")
        for field in ("vocabulary_size", "hash_buckets", "embedding_dim", "min_count", "max_size"):
            value = getattr(self, field)
            if value is not None and not _positive_int(value):
                raise ValueError(
                    f"CategoricalFeature {self.name!r}: {field} must be a positive int, got {value!r}."
                )
        if not (_positive_int(self.num_oov_buckets) or self.num_oov_buckets == 0):
            raise ValueError(f"CategoricalFeature {self.name!r}: num_oov_buckets must be an int >= 0, "
                             f"got {self.num_oov_buckets!r}.")
        if self.vocabulary is not None:
            self._check_vocabulary()
        elif self.num_oov_buckets and (self.vocabulary_size is not None or self.hash_buckets is not None):
            raise ValueError(
                f"CategoricalFeature {self.name!r}: num_oov_buckets={self.num_oov_buckets} needs a vocabulary; "
                "drop vocabulary_size/hash_buckets and learn one (mtl_keras.vocabulary.learn_vocabularies), "
                "or set num_oov_buckets=0 for integer ids."
            )
        elif self.num_oov_buckets == 0 and (self.vocabulary_size is None) == (self.hash_buckets is None):
            raise ValueError(
                f"CategoricalFeature {self.name!r}: set exactly one of vocabulary_size or hash_buckets "
                f"(or num_oov_buckets >= 1 to learn a vocabulary), got vocabulary_size={self.vocabulary_size}, "
                f"hash_buckets={self.hash_buckets}."
            )

    def _check_vocabulary(self) -> None:
        vocabulary = tuple(self.vocabulary)
        object.__setattr__(self, "vocabulary", vocabulary)
        where = f"CategoricalFeature {self.name!r}"
        if self.hash_buckets is not None:
            raise ValueError(f"{where}: set either a vocabulary or hash_buckets, not both.")
        if self.num_oov_buckets < 1:
            raise ValueError(f"{where}: a vocabulary needs num_oov_buckets >= 1 (ids for unseen values), "
                             f"got {self.num_oov_buckets}.")
        if not (all(isinstance(v, str) for v in vocabulary)
                or all(isinstance(v, int) and not isinstance(v, bool) for v in vocabulary)):
            raise ValueError(f"{where}: the vocabulary must hold only strings or only ints.")
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError(f"{where}: the vocabulary has repeated values.")
        size = len(vocabulary) + self.num_oov_buckets
        if self.vocabulary_size is not None and self.vocabulary_size != size:
            raise ValueError(f"{where}: vocabulary_size={self.vocabulary_size} but the vocabulary has "
                             f"{len(vocabulary)} values + {self.num_oov_buckets} OOV buckets = {size} ids; "
                             "leave vocabulary_size unset.")
        object.__setattr__(self, "vocabulary_size", size)

    @property
    def learns_vocabulary(self) -> bool:
        """True for a feature that maps raw values through a (learned or still missing) vocabulary."""
        return self.num_oov_buckets > 0

    @property
    def string_values(self) -> bool:
        """True when the feature's raw values are strings (a vocabulary of strings)."""
        return bool(self.vocabulary) and isinstance(self.vocabulary[0], str)

    @property
    def table_name(self) -> str:
        return self.shared_table or self.name

    @property
    def num_rows(self) -> Optional[int]:
        """Rows of the embedding table; None for a vocabulary not learned yet."""
        return self.hash_buckets if self.hash_buckets is not None else self.vocabulary_size

    def to_dict(self) -> Dict[str, Any]:
        """The fields as a JSON-ready dict; the vocabulary fields only when used."""
        data = dataclasses.asdict(self)
        if not self.learns_vocabulary:
            for field in _VOCABULARY_FIELDS:
                data.pop(field)
        elif data["vocabulary"] is not None:
            data["vocabulary"] = list(data["vocabulary"])
        return data


_VOCABULARY_FIELDS = ("vocabulary", "num_oov_buckets", "min_count", "max_size")


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
            if _table_key(other) != _table_key(feature):
                raise ValueError(
                    f"FeatureSpec: features {other.name!r} and {feature.name!r} share table "
                    f"{feature.table_name!r} but differ in size, hashing, vocabulary or embedding_dim; make them equal."
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
            "categorical": [f.to_dict() for f in self.categorical],
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


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _table_key(feature: CategoricalFeature):
    return (feature.num_rows, feature.embedding_dim, feature.hash_buckets is None, feature.vocabulary,
            feature.num_oov_buckets, feature.min_count, feature.max_size)
