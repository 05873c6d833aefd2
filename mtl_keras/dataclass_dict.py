"""Building config dataclasses from JSON dicts with clear errors for unknown keys and wrong types.

Fields annotated with JSON types (int, float, str, bool, None, lists and dicts of them, unions)
are type-checked before the dataclass is built, so `"learning_rate": "0.001"` fails naming the
field and the expected type instead of deep inside `__post_init__`. Fields whose annotation names
a class (a FeatureSpec, a backbone section) are left to that class's own validation.
"""
from __future__ import annotations

import dataclasses
import json
import numbers
import typing
from typing import Any, Mapping, Optional, Type, TypeVar

T = TypeVar("T")

_SEQUENCES = (list, tuple, typing.Sequence, typing.List, typing.Tuple)
_MAPPINGS = (dict, typing.Mapping, typing.Dict)


def from_dict(kind: Type[T], data: Mapping[str, Any]) -> T:
    """`kind(**data)`, raising a ValueError that names unknown keys, missing required keys, or a value
    of the wrong JSON type (with the field and the expected type)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{kind.__name__} must be a JSON object (a dict of its settings), got "
                         f"{type(data).__name__} {_short(data)}.")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"{kind.__name__}: unknown keys {sorted(unknown)}; allowed keys are {sorted(fields)}.")
    missing = [name for name, f in fields.items() if f.init and name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{kind.__name__}: required keys {missing} are missing.")
    named = f"{kind.__name__} {data['name']!r}: " if isinstance(data.get("name"), str) else f"{kind.__name__}."
    hints = _hints(kind)
    for name, value in data.items():
        hint = hints.get(name)
        if hint is not None and _checkable(hint) and not _matches(value, hint):
            raise ValueError(f"{named}{name} must be {describe(hint)}, got {type(value).__name__} "
                             f"{_short(value)}.{_quote_hint(value, hint)}")
    return kind(**data)


def _hints(kind) -> dict:
    try:
        return typing.get_type_hints(kind)
    except Exception:  # an annotation that does not resolve: leave those fields to the class
        return {}


def _args(hint) -> tuple:
    return typing.get_args(hint)


def _checkable(hint) -> bool:
    """True when `hint` is built only of JSON types, so a type mismatch is certainly an error."""
    if hint is Any or hint in (int, float, str, bool, type(None)):
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin in _SEQUENCES or origin in _MAPPINGS:
        return all(a is Ellipsis or _checkable(a) for a in _args(hint))
    return False


def _matches(value, hint) -> bool:
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return type(value).__name__ in ("bool", "bool_")
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), _args(hint)
    if origin is typing.Union:
        return any(_matches(value, a) for a in args)
    if origin in _SEQUENCES:
        if isinstance(value, (str, bytes)) or not (isinstance(value, (list, tuple)) or hasattr(value, "tolist")):
            return False
        items = value.tolist() if hasattr(value, "tolist") else value
        if not isinstance(items, list):
            return False
        if origin in (tuple, typing.Tuple) and args and args[-1] is not Ellipsis:
            return len(items) == len(args) and all(_matches(v, a) for v, a in zip(items, args))
        element = args[0] if args else Any
        return all(_matches(v, element) for v in items)
    if origin in _MAPPINGS:
        if not isinstance(value, Mapping):
            return False
        key, item = args if len(args) == 2 else (Any, Any)
        return all(_matches(k, key) and _matches(v, item) for k, v in value.items())
    return True


def describe(hint) -> str:
    """The JSON type a hint asks for, in words: `Optional[Dict[str, float]]` -> 'an object of numbers or null'."""
    if hint is Any:
        return "any value"
    if hint is type(None):
        return "null"
    if hint in (int, float, str, bool):
        return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[hint]
    origin, args = typing.get_origin(hint), _args(hint)
    if origin is typing.Union:
        return " or ".join(describe(a) for a in sorted(args, key=lambda a: a is type(None)))
    if origin in _SEQUENCES:
        element = args[0] if args else Any
        return "a list" + ("" if element is Any else " of " + _plural(describe(element)))
    if origin in _MAPPINGS and len(args) == 2:
        return "an object" + ("" if args[1] is Any else " of " + _plural(describe(args[1])))
    return getattr(hint, "__name__", str(hint))


def _plural(words: str) -> str:
    return " or ".join(w.replace("an integer", "integers").replace("a number", "numbers").replace(
        "a string", "strings").replace("a list", "lists").replace("an object", "objects")
        for w in words.split(" or "))


def _quote_hint(value, hint) -> str:
    """A fix for a number or boolean written as a JSON string ("0.001", "true")."""
    if not isinstance(value, str):
        return ""
    try:
        parsed: Optional[Any] = json.loads(value)
    except ValueError:
        return ""
    if parsed is not None and not isinstance(parsed, str) and _matches(parsed, hint):
        return f" Fix: write it without quotes: {value.strip()}."
    return ""


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
