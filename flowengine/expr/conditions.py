"""Conditions: declarative tests a `branch` state evaluates, in IR JSON as plain data.

    true | false                         a constant
    {"$expr": "js", "src": "$n > 2"}     an expression, true when its value is truthy (JS rules)
    {"all": [c, ...]}  {"any": [c, ...]}  {"not": c}
    {"eq": [a, b]}                       a equals b as JSON (a, b may be expressions)
    {"match": [value, "regex"]}          the value's text fully matches the regex

More kinds (time intervals, caller-id classes) are added with `register_condition`; each kind is a
class with `parse(arg, parse)` and `evaluate(scope)`. Conditions are parsed once, when the IR is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from . import Expr, ExprError, Scope, resolve, truthy
from .basic import to_text

__all__ = ["Cond", "CondError", "parse_cond", "register_condition", "json_equal"]


class CondError(ExprError):
    """A condition is malformed. `path` locates the offending part inside the condition's JSON."""

    def __init__(self, message: str, path: tuple = (), code: str = "E_COND"):
        super().__init__(message, code)
        self.path = path


class Cond:
    """Base class of condition kinds. Subclasses are frozen dataclasses."""

    kind: ClassVar[str] = ""

    def evaluate(self, scope: Scope) -> bool:
        raise NotImplementedError

    def to_json(self) -> Any:
        raise NotImplementedError


_KINDS: dict[str, Callable[[Any, Callable[[Any, tuple], "Cond"], tuple], "Cond"]] = {}


def register_condition(kind: str):
    """Class decorator: `@register_condition("time")` on a Cond subclass with a `parse` classmethod."""

    def deco(cls):
        cls.kind = kind
        _KINDS[kind] = cls.parse
        return cls

    return deco


def condition_kinds() -> list[str]:
    return sorted(_KINDS)


def parse_cond(data: Any, path: tuple = ()) -> Cond:
    """Build a Cond from its JSON form; raises CondError with the path of the bad part."""
    if isinstance(data, Cond):
        return data
    if isinstance(data, bool):
        return Const(data)
    if isinstance(data, Expr):
        return Truthy(data)
    if isinstance(data, dict):
        if Expr.is_json(data):
            try:
                return Truthy(Expr(data["$expr"], data.get("src", "")))
            except ExprError as exc:
                raise CondError(exc.message, path, exc.code) from None
        if len(data) != 1:
            raise CondError(
                f"a condition is one of {', '.join(condition_kinds())}; got keys {sorted(map(str, data))}",
                path,
            )
        ((kind, arg),) = data.items()
        if kind not in _KINDS:
            from ..diagnostics import did_you_mean

            raise CondError(f"unknown condition {kind!r}{did_you_mean(str(kind), _KINDS)}"
                            f" (known: {', '.join(condition_kinds())})", path)
        return _KINDS[kind](arg, parse_cond, path + (kind,))
    raise CondError(f"a condition must be true, false, an expression or a mapping, not {data!r}", path)


def _value(arg: Any, path: tuple) -> Any:
    """A value operand: an Expr (from JSON or already built) or a JSON literal."""
    if isinstance(arg, dict) and Expr.is_json(arg):
        try:
            return Expr(arg["$expr"], arg.get("src", ""))
        except ExprError as exc:
            raise CondError(exc.message, path, exc.code) from None
    return arg


def _value_json(value: Any) -> Any:
    return value.to_json() if isinstance(value, Expr) else value


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON: true is not 1, 1 equals 1.0, lists and objects compare element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@dataclass(frozen=True, slots=True)
class Const(Cond):
    value: bool
    kind: ClassVar[str] = "const"

    def evaluate(self, scope: Scope) -> bool:
        return self.value

    def to_json(self) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class Truthy(Cond):
    expr: Expr
    kind: ClassVar[str] = "expr"

    def evaluate(self, scope: Scope) -> bool:
        return truthy(self.expr.evaluate(scope))

    def to_json(self) -> Any:
        return self.expr.to_json()


@register_condition("all")
@dataclass(frozen=True, slots=True)
class All(Cond):
    items: tuple[Cond, ...]

    @classmethod
    def parse(cls, arg: Any, parse: Callable, path: tuple) -> "All":
        if not isinstance(arg, list):
            raise CondError("'all' takes a list of conditions", path)
        return cls(tuple(parse(item, path + (i,)) for i, item in enumerate(arg)))

    def evaluate(self, scope: Scope) -> bool:
        return all(c.evaluate(scope) for c in self.items)

    def to_json(self) -> Any:
        return {"all": [c.to_json() for c in self.items]}


@register_condition("any")
@dataclass(frozen=True, slots=True)
class AnyOf(Cond):
    items: tuple[Cond, ...]

    @classmethod
    def parse(cls, arg: Any, parse: Callable, path: tuple) -> "AnyOf":
        if not isinstance(arg, list):
            raise CondError("'any' takes a list of conditions", path)
        return cls(tuple(parse(item, path + (i,)) for i, item in enumerate(arg)))

    def evaluate(self, scope: Scope) -> bool:
        return any(c.evaluate(scope) for c in self.items)

    def to_json(self) -> Any:
        return {"any": [c.to_json() for c in self.items]}


@register_condition("not")
@dataclass(frozen=True, slots=True)
class Not(Cond):
    item: Cond

    @classmethod
    def parse(cls, arg: Any, parse: Callable, path: tuple) -> "Not":
        return cls(parse(arg, path))

    def evaluate(self, scope: Scope) -> bool:
        return not self.item.evaluate(scope)

    def to_json(self) -> Any:
        return {"not": self.item.to_json()}


@register_condition("eq")
@dataclass(frozen=True, slots=True)
class Eq(Cond):
    left: Any
    right: Any

    @classmethod
    def parse(cls, arg: Any, parse: Callable, path: tuple) -> "Eq":
        if not isinstance(arg, list) or len(arg) != 2:
            raise CondError("'eq' takes a list of two values", path)
        return cls(_value(arg[0], path + (0,)), _value(arg[1], path + (1,)))

    def evaluate(self, scope: Scope) -> bool:
        return json_equal(resolve(self.left, scope), resolve(self.right, scope))

    def to_json(self) -> Any:
        return {"eq": [_value_json(self.left), _value_json(self.right)]}


@register_condition("match")
@dataclass(frozen=True, slots=True)
class Match(Cond):
    value: Any
    pattern: str
    regex: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.regex is None:
            try:
                object.__setattr__(self, "regex", re.compile(self.pattern))
            except re.error as exc:
                raise CondError(f"invalid regular expression {self.pattern!r}: {exc}", ()) from None

    @classmethod
    def parse(cls, arg: Any, parse: Callable, path: tuple) -> "Match":
        if not isinstance(arg, list) or len(arg) != 2 or not isinstance(arg[1], str):
            raise CondError("'match' takes [value, \"regex\"]", path)
        try:
            return cls(_value(arg[0], path + (0,)), arg[1])
        except CondError as exc:
            raise CondError(exc.message, path + (1,)) from None

    def evaluate(self, scope: Scope) -> bool:
        return self.regex.fullmatch(to_text(resolve(self.value, scope))) is not None

    def to_json(self) -> Any:
        return {"match": [_value_json(self.value), self.pattern]}


from . import intervals as _intervals  # noqa: E402,F401  (registers the `interval` condition kind)
