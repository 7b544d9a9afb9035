"""`cond`: a declarative condition used as a boolean expression.

    {"$expr": "cond", "src": "{\"interval\": {\"timezone\": \"UTC\", \"conditions\": [{\"days\": \"sat-sun\"}]}}"}

The source is the JSON form of a condition (see expr/conditions.py: all/any/not/eq/match/interval…).
It lets any boolean op field (a prompt's `enabled`, for instance) depend on the same conditions a
`branch` can test, without a programming language. Parsed once; evaluation is the condition's own.
"""

from __future__ import annotations

import json
from typing import Any

from . import ExprError, Scope, register_language
from .conditions import Cond, CondError, parse_cond
from . import intervals as _intervals  # noqa: F401  (the interval kind must be known when parsing)


class CondLanguage:
    name = "cond"

    def compile(self, src: str) -> Cond:
        try:
            data = json.loads(src)
        except ValueError as exc:
            raise ExprError(f"a cond expression is the JSON of a condition: {exc}", "E_EXPR_SYNTAX") from None
        try:
            return parse_cond(data)
        except CondError as exc:
            raise ExprError(exc.message, "E_EXPR_SYNTAX") from None

    def evaluate(self, compiled: Cond, scope: Scope) -> Any:
        return compiled.evaluate(scope)


def cond_expr_source(cond: Cond) -> str:
    """The `src` of a cond expression for `cond` (compact JSON)."""
    return json.dumps(cond.to_json(), separators=(",", ":"), ensure_ascii=False)


register_language(CondLanguage())
