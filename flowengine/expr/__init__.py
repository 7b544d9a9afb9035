"""Values computed while a call runs: expressions (`Expr`) and conditions (`Cond`).

An `Expr` is a frozen (language, source) pair. Its source is compiled once, when the IR is built, so a
syntax error is a compile-time diagnostic; evaluation at run time only looks things up in a `Scope`.
Languages are registered by name (`var`, `template` and `calc` here; `js` and `js-template` from the
ACTIONS10 support) so formats and the runtime share them without importing each other.

In IR JSON an expression is written `{"$expr": "<language>", "src": "<source>"}`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol

__all__ = [
    "Expr",
    "ExprError",
    "Language",
    "Scope",
    "register_language",
    "get_language",
    "language_names",
    "resolve",
    "contains_expr",
    "expr_names",
    "truthy",
]


class ExprError(Exception):
    """An expression failed to compile or to evaluate. `code` is the diagnostic / error-event code."""

    def __init__(self, message: str, code: str = "E_EXPR", offset: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.offset = offset


class Language(Protocol):
    """An expression language: compile once (may raise ExprError), evaluate many times."""

    name: str

    def compile(self, src: str) -> Any: ...

    def evaluate(self, compiled: Any, scope: "Scope") -> Any: ...


_LANGUAGES: dict[str, Language] = {}
# Languages that live in optional modules, imported on first use.
_LAZY: dict[str, str] = {"js": "flowengine.expr.js", "js-template": "flowengine.expr.js",
                         "js-script": "flowengine.expr.js"}

_LAZY.update({"url-template": "flowengine.expr.urltemplate", "cond": "flowengine.expr.condexpr",
              "vars": "flowengine.expr.varset"})


def register_language(language: Language) -> Language:
    _LANGUAGES[language.name] = language
    return language


def get_language(name: str) -> Language:
    if name not in _LANGUAGES and name in _LAZY:
        importlib.import_module(_LAZY[name])
    try:
        return _LANGUAGES[name]
    except KeyError:
        raise ExprError(f"unknown expression language {name!r}", "E_EXPR_LANG") from None


def language_names() -> list[str]:
    return sorted(set(_LANGUAGES) | set(_LAZY))


def expr_names(expr: "Expr") -> frozenset[str] | None:
    """The top-level variable names `expr` reads (`a` for `a.b.c`), or None when its language cannot
    tell. A language opts in with a `names(src, compiled) -> frozenset[str]` method; static checks
    (lint's unset and unused variables) use it and skip expressions whose names are unknown."""
    hook = getattr(get_language(expr.lang), "names", None)
    return None if hook is None else frozenset(hook(expr.src, expr.compiled))


@dataclass(frozen=True, slots=True)
class Expr:
    """An expression in a named language. Compiled on construction; equal when language and source are."""

    lang: str
    src: str
    compiled: Any = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.compiled is None:
            object.__setattr__(self, "compiled", get_language(self.lang).compile(self.src))

    def evaluate(self, scope: "Scope") -> Any:
        return get_language(self.lang).evaluate(self.compiled, scope)

    def to_json(self) -> dict:
        return {"$expr": self.lang, "src": self.src}

    @staticmethod
    def is_json(value: Any) -> bool:
        return type(value) is dict and "$expr" in value


class Scope:
    """What an expression can see: the run's variables, read-only built-ins and the call's wall clock.

    `vars` is the live, mutable variable dict of the run; built-ins (`call`, `now`, …) are looked up
    after it and cannot be assigned through `set`.

    `declared` names the flow's declared variables, set or not (a JS scope shows an unset one as
    `undefined` rather than a ReferenceError). `cache` is per-run state a language keeps between
    evaluations (the JS language's engine context); it dies with the scope.
    """

    __slots__ = ("vars", "_builtins", "_now", "declared", "cache")

    def __init__(
        self,
        vars: dict[str, Any],
        builtins: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
        now: Callable[[], datetime] | None = None,
        declared: frozenset[str] | tuple[str, ...] = frozenset(),
    ):
        self.vars = vars
        self._builtins = builtins if builtins is not None else {}
        self._now = now
        self.declared = frozenset(declared)
        self.cache: dict[str, Any] = {}

    @property
    def builtins(self) -> dict[str, Any]:
        """The read-only built-ins (built on first use when given as a factory)."""
        if callable(self._builtins):
            self._builtins = self._builtins()
        return self._builtins

    def now(self) -> datetime:
        if self._now is None:
            raise ExprError("no clock in this scope", "E_EXPR_RUNTIME")
        return self._now()

    def lookup(self, name: str) -> tuple[bool, Any]:
        if name in self.vars:
            return True, self.vars[name]
        if name == "now" and self._now is not None:
            return True, self.now().isoformat().replace("+00:00", "Z")
        if name in self.builtins:
            return True, self.builtins[name]
        return False, None


def contains_expr(value: Any) -> bool:
    """True when `value` is an Expr or a list/tuple/dict holding one at any depth."""
    if isinstance(value, Expr):
        return True
    if isinstance(value, (list, tuple)):
        return any(contains_expr(v) for v in value)
    if isinstance(value, dict):
        return any(contains_expr(v) for v in value.values())
    return False


def resolve(value: Any, scope: Scope) -> Any:
    """Evaluate every Expr inside `value`; containers come back as plain lists and dicts."""
    if isinstance(value, Expr):
        return value.evaluate(scope)
    if isinstance(value, (list, tuple)):
        return [resolve(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, scope) for k, v in value.items()}
    return value


def truthy(value: Any) -> bool:
    """JavaScript truthiness, the one rule for every condition: false, 0, NaN, "", null are false."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == value and value != 0
    if isinstance(value, str):
        return value != ""
    return True


from . import basic as _basic  # noqa: E402,F401  (registers the built-in languages)
from . import calc as _calc  # noqa: E402,F401
