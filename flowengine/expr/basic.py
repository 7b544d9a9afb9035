"""The two dialect-neutral expression languages.

* `var`: a dotted path into the scope (`call.from`, `menu.digits`, `items.0`). A missing name is null.
* `template`: text with `${path}` placeholders, each replaced by the value's text ("" for null).
  `$${` writes a literal `${`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import ExprError, Scope, register_language

_PATH = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*(\.[A-Za-z0-9_$-]+)*$")
_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")


def _compile_path(src: str) -> tuple[str, ...]:
    src = src.strip()
    if not _PATH.match(src):
        raise ExprError(f"invalid variable path {src!r}", "E_EXPR_SYNTAX")
    return tuple(src.split("."))


def lookup_path(path: tuple[str, ...], scope: Scope) -> Any:
    found, value = scope.lookup(path[0])
    if not found:
        return None
    for part in path[1:]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def to_text(value: Any) -> str:
    """How a value reads inside a template: strings as-is, null as "", the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class VarLanguage:
    name = "var"

    def compile(self, src: str) -> tuple[str, ...]:
        return _compile_path(src)

    def evaluate(self, compiled: tuple[str, ...], scope: Scope) -> Any:
        return lookup_path(compiled, scope)

    def names(self, src: str, compiled: tuple[str, ...]) -> frozenset[str]:
        return frozenset({compiled[0]})


class TemplateLanguage:
    name = "template"

    def compile(self, src: str) -> tuple:
        parts: list = []
        pos = 0
        for match in _PLACEHOLDER.finditer(src):
            parts.append(src[pos : match.start()])
            if match.group(0) == "$${":
                parts.append("${")
            else:
                try:
                    parts.append(_compile_path(match.group(1)))
                except ExprError as exc:
                    raise ExprError(exc.message, exc.code, match.start()) from None
            pos = match.end()
        if "${" in src[pos:]:
            raise ExprError("unterminated ${ placeholder", "E_EXPR_SYNTAX", src.index("${", pos))
        parts.append(src[pos:])
        return tuple(p for p in parts if p != "")

    def evaluate(self, compiled: tuple, scope: Scope) -> str:
        return "".join(p if isinstance(p, str) else to_text(lookup_path(p, scope)) for p in compiled)

    def names(self, src: str, compiled: tuple) -> frozenset[str]:
        return frozenset(p[0] for p in compiled if not isinstance(p, str))


register_language(VarLanguage())
register_language(TemplateLanguage())
