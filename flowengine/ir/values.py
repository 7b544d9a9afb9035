"""Immutable containers for IR values, and the type checks derived from op annotations.

IR values are JSON-shaped: str, int, float, bool, None, tuples (JSON arrays), FrozenDict (JSON objects)
and `Expr` (evaluated at run time). `freeze` makes author data immutable; `thaw` gives plain JSON back.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any, Callable, Literal, Union

from ..expr import Expr


class FrozenDict(dict):
    """A dict that refuses mutation. Still a dict, so json.dumps and equality work unchanged."""

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("IR values are immutable")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _readonly  # type: ignore

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def __reduce__(self):
        return (FrozenDict, (dict(self),))


EMPTY = FrozenDict()


def freeze(value: Any) -> Any:
    """Deep-convert lists to tuples and dicts to FrozenDicts; an `{"$expr": …}` object becomes an Expr."""
    if isinstance(value, dict):
        if Expr.is_json(value):
            return Expr(value["$expr"], value.get("src", ""))
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain-JSON form of an IR value (Exprs, conditions and ops know their own JSON)."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def type_error(value: Any, tp: Any, allow_expr: bool = True) -> str | None:
    """None when `value` fits the annotation `tp`, else a short description of what was expected.

    Exprs fit any type when `allow_expr` (their value is checked when the call runs).
    """
    if allow_expr and isinstance(value, Expr):
        return None
    ok = _checker(tp, allow_expr)(value)
    return None if ok else f"expected {describe(tp)}, got {_json_type(value)}"


def value_check(tp: Any, allow_expr: bool = True) -> Callable[[Any], bool]:
    """A function answering `type_error(value, tp, allow_expr) is None`, built once per annotation."""
    return _checker(tp, allow_expr)


_SAMPLES = ("", 0, 0.0, False, None)  # one value of each JSON scalar class


@functools.lru_cache(maxsize=None)
def classes_that_fit(tp: Any, allow_expr: bool = True) -> frozenset[type]:
    """The classes whose every value fits `tp`: the scalar classes it accepts (none when a Literal
    makes the answer depend on the value), plus `Expr` when `allow_expr`. A check can stop at
    `value.__class__ in classes_that_fit(tp)` before calling `value_check(tp)`."""
    fits = _checker(tp, allow_expr)
    found = set() if _has_literal(tp) else {type(sample) for sample in _SAMPLES if fits(sample)}
    if allow_expr:
        found.add(Expr)  # an Expr fits any annotation (checked when the call runs)
    return frozenset(found)


def _has_literal(tp: Any) -> bool:
    """Whether a scalar fits `tp` depending on its value, not only its class (a Literal)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return any(_has_literal(arg) for arg in typing.get_args(tp))
    return origin is Literal


@functools.lru_cache(maxsize=None)
def _checker(tp: Any, allow_expr: bool) -> Callable[[Any], bool]:
    """`_fits` for one annotation, with the annotation taken apart once (ops are built by the thousand
    when a document compiles). Same answers as `_fits`."""
    origin = typing.get_origin(tp)
    if tp is Any or tp in (bool, int, float, str) or tp is type(None) or tp is None or origin is Literal:
        simple = {
            bool: lambda v: isinstance(v, bool),
            int: lambda v: isinstance(v, int) and not isinstance(v, bool),
            float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            str: lambda v: isinstance(v, str),
        }
        if tp is Any:
            check = lambda v: _is_json(v, allow_expr)  # noqa: E731
        elif origin is Literal:  # a value of the same type, equal to one listed
            allowed = frozenset((type(a), a) for a in typing.get_args(tp))
            kinds = frozenset(type(a) for a in typing.get_args(tp))
            check = lambda v: type(v) in kinds and (type(v), v) in allowed  # noqa: E731
        elif tp is type(None) or tp is None:
            check = lambda v: v is None  # noqa: E731
        else:
            check = simple[tp]
    elif origin in (Union, types.UnionType):
        check = _union_checker(tuple(_checker(arg, allow_expr) for arg in typing.get_args(tp)))
    elif origin is tuple:
        args = typing.get_args(tp)
        check = _list_checker(args[0] if args else Any, allow_expr)
    elif origin in (dict, FrozenDict) or tp in (dict, FrozenDict):
        args = typing.get_args(tp)
        check = _object_checker(args[1] if len(args) == 2 else Any, allow_expr)
    elif isinstance(tp, type):
        check = lambda v: isinstance(v, tp)  # noqa: E731
    else:
        return lambda v: (allow_expr and isinstance(v, Expr))
    if not allow_expr:
        return check
    return lambda v: isinstance(v, Expr) or check(v)


def _union_checker(parts: tuple[Callable[[Any], bool], ...]) -> Callable[[Any], bool]:
    """Any of `parts` (a plain loop: cheaper than any() over a generator)."""

    def check(value: Any) -> bool:
        for part in parts:
            if part(value):
                return True
        return False

    return check


def _list_checker(item_tp: Any, allow_expr: bool) -> Callable[[Any], bool]:
    """A list (tuple) whose items fit `item_tp`; an item of a class in `fast` needs no call."""
    item, fast = _checker(item_tp, allow_expr), classes_that_fit(item_tp, allow_expr)

    def check(value: Any) -> bool:
        if not isinstance(value, (tuple, list)):
            return False
        for x in value:
            if x.__class__ not in fast and not item(x):
                return False
        return True

    return check


def _object_checker(item_tp: Any, allow_expr: bool) -> Callable[[Any], bool]:
    """An object (dict) with string keys whose values fit `item_tp`."""
    item, fast = _checker(item_tp, allow_expr), classes_that_fit(item_tp, allow_expr)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for key, x in value.items():
            if not isinstance(key, str) or (x.__class__ not in fast and not item(x)):
                return False
        return True

    return check


def _fits(value: Any, tp: Any, allow_expr: bool) -> bool:
    if allow_expr and isinstance(value, Expr):
        return True
    if tp is Any:
        return _is_json(value, allow_expr)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg, allow_expr) for arg in typing.get_args(tp))
    if origin is Literal:
        return any(type(value) is type(arg) and value == arg for arg in typing.get_args(tp))
    if tp is type(None) or tp is None:
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return isinstance(value, (tuple, list)) and all(_fits(v, item, allow_expr) for v in value)
    if origin in (dict, FrozenDict) or tp in (dict, FrozenDict):
        args = typing.get_args(tp)
        item = args[1] if len(args) == 2 else Any
        return isinstance(value, dict) and all(
            isinstance(k, str) and _fits(v, item, allow_expr) for k, v in value.items()
        )
    if isinstance(tp, type):
        return isinstance(value, tp)
    return False


def _is_json(value: Any, allow_expr: bool) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if allow_expr and isinstance(value, Expr):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(v, allow_expr) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, allow_expr) for k, v in value.items())
    return False


def describe(tp: Any) -> str:
    """A readable name for an annotation: 'string', 'number or null', 'list of strings'…"""
    if tp is Any:
        return "any JSON value"
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        return f"a list of {_plural(describe(args[0]))}" if args else "a list"
    if origin in (dict, FrozenDict) or tp in (dict, FrozenDict):
        return "an object"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null"}
    if tp in names:
        return names[tp]
    return getattr(tp, "__name__", str(tp))


def _plural(text: str) -> str:
    for article in ("a ", "an "):
        if text.startswith(article):
            return text[len(article):] + "s"
    return text


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
