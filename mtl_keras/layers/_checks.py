"""Argument checks shared by the layers: each raises a ValueError naming the argument and the fix."""
from __future__ import annotations

import math
from typing import Any, List, Sequence

import tf_keras as keras


def int_at_least(layer: str, argument: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(
            f"{layer}: `{argument}` must be an int >= {minimum}, received {argument}={value!r}. "
            f"Fix: pass an integer of at least {minimum}."
        )
    return value


def units_list(layer: str, argument: str, value: Any, allow_empty: bool = False) -> List[int]:
    """Layer widths: a list/tuple of positive ints (tuples are turned into lists so get_config is JSON)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(
            f"{layer}: `{argument}` must be a list of positive ints (layer widths), received "
            f"{argument}={value!r}. Fix: pass e.g. {argument}=[128, 64]."
        )
    if not value and not allow_empty:
        raise ValueError(
            f"{layer}: `{argument}` is empty; it needs at least one layer width. "
            f"Fix: pass e.g. {argument}=[128, 64]."
        )
    for width in value:
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(
                f"{layer}: every entry of `{argument}` must be a positive int, received {argument}={list(value)!r} "
                f"(bad entry {width!r}). Fix: use widths >= 1."
            )
    return list(value)


def activation(layer: str, value: Any):
    """Returns (callable, serialized form) for a Keras activation identifier."""
    try:
        function = keras.activations.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{layer}: `activation`={value!r} is not a Keras activation ({error}). "
            "Fix: pass a name such as 'relu', 'gelu', 'swish' or a registered callable."
        ) from None
    return function, keras.activations.serialize(function)


def rate(layer: str, argument: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value < 1.0) or math.isnan(value):
        raise ValueError(
            f"{layer}: `{argument}` must be a float in [0, 1), received {argument}={value!r}. "
            f"Fix: pass e.g. {argument}=0.1, or 0.0 to disable."
        )
    return float(value)
