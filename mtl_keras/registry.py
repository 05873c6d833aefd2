"""Typed config sections chosen by name: the shared machinery of the backbone and objective tables."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Dict, Mapping, Type, TypeVar, Union

S = TypeVar("S", bound="Section")


@dataclasses.dataclass
class Section:
    """A config section: `name` picks the table entry, the dataclass fields are its settings."""

    name: ClassVar[str] = ""

    def settings(self) -> Dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, **self.settings()}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def parse_section(kind: str, table: Mapping[str, Type[S]], value: Union[str, Mapping[str, Any], S]) -> S:
    """The section for `value`: a name (default settings), a dict {"name": ..., **settings} or a section.

    A setting the chosen entry does not use is an error naming the entry and the entries that use it.
    """
    if isinstance(value, Section):
        if type(value) not in table.values():
            raise ValueError(f"ModelConfig.{kind}: {type(value).__name__} is not a {kind}; use one of {list(table)}.")
        return value
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping) or "name" not in value:
        raise ValueError(f"ModelConfig.{kind} must be a name {list(table)}, a dict with a 'name' key and its "
                         f"settings, or a {kind} config object; got {value!r}.")
    settings = dict(value)
    name = settings.pop("name")
    if name not in table:
        raise ValueError(f"ModelConfig.{kind} must be one of {list(table)}, got {name!r}.")
    section = table[name]
    allowed = [f.name for f in dataclasses.fields(section)]
    for key in settings:
        if key not in allowed:
            users = [n for n, s in table.items() if key in {f.name for f in dataclasses.fields(s)}]
            where = f"; it is a setting of {users}" if users else ""
            raise ValueError(f"ModelConfig.{kind} {name!r} does not use the setting {key!r}{where}. "
                             f"The settings of {name!r} are {allowed}.")
    from mtl_keras import dataclass_dict  # typed errors for quoted numbers and the like

    return dataclass_dict.from_dict(section, settings)


def positive_int(owner: str, field: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}.{field} must be an int >= {minimum}, got {value!r}.")
    return value


def units(owner: str, field: str, value: Any) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else value
    if not isinstance(values, list) or not values or any(
            not isinstance(u, int) or isinstance(u, bool) or u < 1 for u in values):
        raise ValueError(f"{owner}.{field} must be a non-empty list of positive ints, got {value!r}.")
    return values
