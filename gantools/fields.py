"""Checking what a model folder's JSON says before it is used: every field of a settings dataclass must
have the type its annotation names (numbers finite, whole numbers whole), so that a damaged or forged
config.json is refused with one line naming the field instead of failing later, or silently misleading."""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal, Union

from gantools.errors import GantoolsError

MAX_ITEMS = 10_000_000  # no list or mapping in a model's JSON is longer


def checked_fields(cls: type, data: Any, where: str) -> dict[str, Any]:
    """The items of ``data`` that are fields of dataclass ``cls`` (others, settings since removed, are
    dropped), after checking each against its annotation; ``where`` names the place for the error."""
    if not isinstance(data, dict):
        raise GantoolsError(f"{where} is not a JSON object; train again")
    hints = typing.get_type_hints(cls)
    names = {f for f in getattr(cls, "__dataclass_fields__", {})}
    known = {k: v for k, v in data.items() if k in names}
    for name, value in known.items():
        if not matches(value, hints[name]):
            raise GantoolsError(f"{where}: '{name}' is {_shown(value)}, not {_describe(hints[name])}; train again")
    return known


def matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a type annotation (int, float, str, bool, None, list[...], dict[str, ...],
    unions, Literal, Any)."""
    if hint is Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is Literal:
        return value in args
    if origin in (list, tuple):
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
        return not args or all(matches(v, args[0]) for v in value)
    if origin is dict:
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            return False
        return not args or all(matches(k, args[0]) and matches(v, args[1]) for k, v in value.items())
    if hint in (list, dict):
        return isinstance(value, hint)
    return isinstance(value, hint) if isinstance(hint, type) else False


def _describe(hint: Any) -> str:
    text = getattr(hint, "__name__", None) if typing.get_origin(hint) is None else None
    return text or str(hint).replace("typing.", "")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
