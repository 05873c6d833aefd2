"""Building config dataclasses from JSON dicts with a clear error for unknown keys."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Type, TypeVar

T = TypeVar("T")


def from_dict(kind: Type[T], data: Mapping[str, Any]) -> T:
    """`kind(**data)`, raising a ValueError that names unknown keys and the allowed ones."""
    allowed = {f.name for f in dataclasses.fields(kind)}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"{kind.__name__}: unknown keys {sorted(unknown)}; allowed keys are {sorted(allowed)}.")
    return kind(**data)
