"""`calc`: a small, safe expression language for counters and comparisons, with no JS engine.

    tries + 1            failures >= 3            call.from == "+15551230000"
    not vip and (hour < 9 or hour >= 18)          len(digits) == 4           "ext-" + digits

Python expression syntax restricted to: literals (numbers, strings, true/false/null and Python's
True/False/None), variable paths (`a.b.c`, missing = null), + - * / // %, unary - and not,
comparisons (chains allowed), and/or (returning a boolean), conditional `x if c else y`,
and the functions len, str, int, float, abs, min, max, lower, upper. Anything else is a compile error.
Arithmetic on null treats it as 0 (so `tries + 1` works before `tries` is set); a type error at run
time is an ExprError.
"""

from __future__ import annotations

import ast
import io
import keyword
import operator
import tokenize
from typing import Any, Callable

from . import ExprError, Scope, register_language, truthy
from .basic import lookup_path, to_text

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": lambda v: len(v) if v is not None else 0,
    "str": to_text,
    "int": lambda v: int(float(v)) if v not in (None, "") else 0,
    "float": lambda v: float(v) if v not in (None, "") else 0.0,
    "abs": abs,
    "min": min,
    "max": max,
    "lower": lambda v: to_text(v).lower(),
    "upper": lambda v: to_text(v).upper(),
}
_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


_KW_SUFFIX = "__kw"


def _escape_keywords(src: str) -> str:
    """Let `call.from` through Python's parser: a keyword right after a dot becomes `from__kw`."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, IndentationError):
        return src
    out = []
    previous = None
    for tok in tokens:
        if tok.type == tokenize.NAME and keyword.iskeyword(tok.string) and previous is not None \
                and previous.type == tokenize.OP and previous.string == ".":
            tok = tok._replace(string=tok.string + _KW_SUFFIX)
        out.append(tok)
        previous = tok
    return tokenize.untokenize(out)


def _attr(name: str) -> str:
    return name[: -len(_KW_SUFFIX)] if name.endswith(_KW_SUFFIX) else name


def _path(node: ast.AST) -> tuple[str, ...] | None:
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        base = _path(node.value)
        return base + (_attr(node.attr),) if base else None
    return None


def _compile(node: ast.AST) -> Callable[[Scope], Any]:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        value = node.value
        return lambda scope: value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        value = _NAMES[node.id]
        return lambda scope: value
    path = _path(node)
    if path is not None:
        return lambda scope: lookup_path(path, scope)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        fn, left, right = _BINOPS[type(node.op)], _compile(node.left), _compile(node.right)
        is_add = isinstance(node.op, ast.Add)

        def binop(scope: Scope) -> Any:
            a, b = left(scope), right(scope)
            if is_add and (isinstance(a, str) or isinstance(b, str)):
                return to_text(a) + to_text(b)
            a = 0 if a is None else a
            b = 0 if b is None else b
            try:
                return fn(a, b)
            except (TypeError, ZeroDivisionError) as exc:
                raise ExprError(f"cannot compute {a!r} and {b!r}: {exc}", "E_EXPR_RUNTIME") from None

        return binop
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        operand = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda scope: not truthy(operand(scope))
        sign = -1 if isinstance(node.op, ast.USub) else 1

        def unary(scope: Scope) -> Any:
            value = operand(scope)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ExprError(f"cannot negate {value!r}", "E_EXPR_RUNTIME")
            return sign * value

        return unary
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda scope: all(truthy(p(scope)) for p in parts)
        return lambda scope: any(truthy(p(scope)) for p in parts)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        first = _compile(node.left)
        rest = [(_CMPOPS[type(op)], _compile(c)) for op, c in zip(node.ops, node.comparators)]

        def compare(scope: Scope) -> bool:
            left = first(scope)
            for fn, right_fn in rest:
                right = right_fn(scope)
                try:
                    if not fn(left, right):
                        return False
                except TypeError:
                    raise ExprError(f"cannot compare {left!r} with {right!r}", "E_EXPR_RUNTIME") from None
                left = right
            return True

        return compare
    if isinstance(node, ast.IfExp):
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
        return lambda scope: body(scope) if truthy(test(scope)) else orelse(scope)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
            and not node.keywords:
        fn = _FUNCTIONS[node.func.id]
        args = [_compile(a) for a in node.args]

        def call(scope: Scope) -> Any:
            values = [a(scope) for a in args]
            try:
                return fn(*values)
            except (TypeError, ValueError) as exc:
                raise ExprError(f"{node.func.id}(): {exc}", "E_EXPR_RUNTIME") from None

        return call
    raise ExprError(f"not allowed in calc expressions: {ast.dump(node)[:60]}", "E_EXPR_SYNTAX",
                    getattr(node, "col_offset", None))


class CalcLanguage:
    name = "calc"

    def compile(self, src: str) -> Callable[[Scope], Any]:
        if len(src) > 2000:
            raise ExprError("calc expression longer than 2000 characters", "E_EXPR_SYNTAX")
        try:
            tree = ast.parse(_escape_keywords(src.strip()), mode="eval")
        except SyntaxError as exc:
            raise ExprError(f"invalid calc expression: {exc.msg}", "E_EXPR_SYNTAX", exc.offset) from None
        return _compile(tree.body)

    def evaluate(self, compiled: Callable[[Scope], Any], scope: Scope) -> Any:
        return compiled(scope)

    def names(self, src: str, compiled: Callable[[Scope], Any]) -> frozenset[str]:
        """Roots of the variable paths read (not literals such as `true`, not function names)."""
        tree = ast.parse(_escape_keywords(src.strip()), mode="eval")
        functions = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        return frozenset(n.id for n in ast.walk(tree)
                         if isinstance(n, ast.Name) and n.id not in _NAMES and id(n) not in functions)


register_language(CalcLanguage())
