"""`vars`: the run's variables whose names fully match a regular expression, as one object.

    {"$expr": "vars", "src": "^[a-z_][a-z0-9_]*$"}   ->   {"lang": "en", "tier": "gold"}

For webhooks that send "all the caller's variables" without listing them when the flow is written
(a webhook answer may have created new ones). Keys come sorted by name, so the value is
deterministic; bookkeeping variables stay out by not matching the pattern. Read-only.
"""

from __future__ import annotations

import re
from typing import Any

from . import ExprError, Scope, register_language


class VarsLanguage:
    name = "vars"

    def compile(self, src: str) -> re.Pattern:
        try:
            return re.compile(src)
        except re.error as exc:
            raise ExprError(f"invalid regular expression {src!r}: {exc}", "E_EXPR_SYNTAX") from None

    def evaluate(self, compiled: re.Pattern, scope: Scope) -> Any:
        return {name: scope.vars[name] for name in sorted(scope.vars) if compiled.fullmatch(name)}


register_language(VarsLanguage())
