"""JavaScript expressions (ACTIONS10's `${{ }}`, `if:` and `javascript@v1`) in a sandboxed QuickJS.

Three languages are registered here:

    js           one JS expression; its value keeps its type        `$dial.ok && call.fromType == "MOBILE"`
    js-template  text with `${{ expr }}` placeholders; always text  `Hello ${{ $name }}, press 1`
    js-script    statements that assign `$variables`; its value is  `$tries++; $last = $dtmf.digits`
                 the object {name: new value} of what changed (for the IR's `assign` op)

Rules kept in this module:
  1. Every source is scanned and syntax-checked when the IR is built: an unterminated `${{`, an
     unbalanced bracket or a JS syntax error is an ExprError with the offset of the problem.
  2. A run gets its own QuickJS context (created on its first evaluation, kept in `Scope.cache`), with
     a memory limit, a stack limit and a time limit per evaluation. No host access: no modules, no
     `std`/`os`, no timers; `Date`, `Math.random` and local time are deterministic (the run's clock,
     a PRNG seeded by the call id, UTC).
  3. Only the run's variables and the CALLR pre-defined objects are in scope. Variables are copied in
     (deep-frozen) before an evaluation when they changed; an expression cannot change them. Only a
     `js-script` writes, and it reports what it wrote so the interpreter stores and logs it.
  4. The pre-defined objects (`now run scenario app integrations call sms recording`) are built from
     the interpreter's neutral built-ins (`call`, `legs`, `flow`, `recording`) and are read-only.

Errors are ExprErrors with the codes E_EXPR_SYNTAX, E_TEMPLATE (compile time) and E_EXPR_RUNTIME,
E_RESERVED_ASSIGN, E_EXPR_TIMEOUT, E_EXPR_MEMORY (run time).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import quickjs

from . import ExprError, Scope, register_language

__all__ = [
    "JsLimits",
    "LIMITS",
    "RESERVED",
    "TemplatePart",
    "split_template",
    "template_to_js",
    "js_source",
    "check_expression",
    "assigned_names",
    "read_names",
    "single_expression",
    "number_info",
    "cdr",
]

RESERVED = frozenset({"now", "run", "scenario", "app", "integrations", "call", "sms", "recording"})
"""CALLR's pre-defined names: read-only in every expression and script."""


@dataclass
class JsLimits:
    """Per-run QuickJS limits. `time` is per evaluation (seconds); `memory` and `stack` in bytes."""

    time: float = 0.1
    memory: int = 16 * 1024 * 1024
    stack: int = 256 * 1024


LIMITS = JsLimits()
"""The process-wide limits new run contexts get (the daemon may change them at start-up)."""


# ---------------------------------------------------------------------------------------------------
# Scanning: JS sources and `${{ }}` templates, without running anything.

_IDENT_START = re.compile(r"[A-Za-z_$\u00a0-\uffff]")
_IDENT = re.compile(r"[A-Za-z0-9_$\u00a0-\uffff]*")
_NUMBER = re.compile(r"(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?")
_PUNCT = re.compile(r">>>=|\.\.\.|===|!==|\*\*=|<<=|>>=|>>>|&&=|\|\|=|\?\?=|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.|"
                    r"\+\+|--|\+=|-=|\*=|/=|%=|&=|\|=|\^=|\*\*|<<|>>|[-+*/%&|^!~?:;,.<>=@#]")
# After these tokens a `/` starts a regular expression; after anything else it divides.
_REGEX_AFTER_WORDS = frozenset({"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
                                "case", "do", "else", "yield", "await"})
_ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^=",
                         "&&=", "||=", "??=", "++", "--"})
_CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ident | number | string | template | regex | punct | open | close
    text: str
    start: int


class _Scanner:
    """A small JS tokenizer: enough to find where an expression ends, balance brackets, skip strings,
    template literals, regular expressions and comments, and list identifiers. Never raises anything
    but ExprError."""

    def __init__(self, src: str, base: int = 0):
        self.src = src
        self.base = base  # offset of src inside the author's text, for error positions
        self.tokens: list[Token] = []

    def fail(self, message: str, pos: int, code: str = "E_EXPR_SYNTAX") -> ExprError:
        return ExprError(message, code, self.base + pos)

    def scan(self, pos: int = 0, *, until_close: bool = False) -> int:
        """Tokenize from `pos`. With `until_close`, stop at the first `}}` at depth 0 and return its
        index; else scan to the end and return len(src). Brackets must balance."""
        src = self.src
        stack: list[tuple[str, int]] = []
        n = len(src)
        while pos < n:
            ch = src[pos]
            if ch in " \t\r\n\u2028\u2029\ufeff\xa0":
                pos += 1
                continue
            if until_close and not stack and src.startswith("}}", pos):
                return pos
            if src.startswith("//", pos):
                end = src.find("\n", pos)
                pos = n if end < 0 else end
                continue
            if src.startswith("/*", pos):
                end = src.find("*/", pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment", pos)
                pos = end + 2
                continue
            if ch in "\"'":
                pos = self._string(pos, ch)
            elif ch == "`":
                pos = self._template(pos)
            elif ch == "/" and self._regex_allowed():
                pos = self._regex(pos)
            elif ch in "([{":
                stack.append((ch, pos))
                self.tokens.append(Token("open", ch, pos))
                pos += 1
            elif ch in ")]}":
                if not stack or stack[-1][0] != _CLOSERS[ch]:
                    raise self.fail(f"unexpected {ch!r}", pos)
                stack.pop()
                self.tokens.append(Token("close", ch, pos))
                pos += 1
            elif _IDENT_START.match(ch):
                end = _IDENT.match(src, pos + 1).end()
                self.tokens.append(Token("ident", src[pos:end], pos))
                pos = end
            elif ch.isdigit() or (ch == "." and pos + 1 < n and src[pos + 1].isdigit()):
                match = _NUMBER.match(src, pos)
                end = match.end() if match and match.end() > pos else pos + 1
                self.tokens.append(Token("number", src[pos:end], pos))
                pos = end
            else:
                match = _PUNCT.match(src, pos)
                if match is None:
                    raise self.fail(f"unexpected character {ch!r}", pos)
                self.tokens.append(Token("punct", match.group(), pos))
                pos = match.end()
        if stack:
            opener, at = stack[-1]
            raise self.fail(f"{opener!r} is never closed", at)
        if until_close:
            raise self.fail("`${{` is never closed with `}}`", 0, "E_TEMPLATE")
        return pos

    def _regex_allowed(self) -> bool:
        if not self.tokens:
            return True
        last = self.tokens[-1]
        if last.kind in ("number", "string", "template", "regex"):
            return False
        if last.kind == "ident":
            return last.text in _REGEX_AFTER_WORDS
        if last.kind == "close":
            return False
        return last.text not in ("++", "--")

    def _string(self, pos: int, quote: str) -> int:
        src, n, i = self.src, len(self.src), pos + 1
        while i < n:
            ch = src[i]
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                self.tokens.append(Token("string", src[pos:i + 1], pos))
                return i + 1
            if ch in "\r\n":
                break
            i += 1
        raise self.fail("unterminated string", pos)

    def _template(self, pos: int) -> int:
        src, n, i = self.src, len(self.src), pos + 1
        while i < n:
            ch = src[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "`":
                self.tokens.append(Token("template", src[pos:i + 1], pos))
                return i + 1
            if src.startswith("${", i):
                inner = _Scanner(src, self.base)
                i = inner._embedded(i + 2)
                continue
            i += 1
        raise self.fail("unterminated template literal", pos)

    def _embedded(self, pos: int) -> int:
        """Scan a template literal's `${ … }` from just after `${`; return the index after its `}`."""
        depth = 0
        src, n = self.src, len(self.src)
        while pos < n:
            ch = src[pos]
            if ch == "}" and depth == 0:
                return pos + 1
            if ch in " \t\r\n":
                pos += 1
                continue
            if ch in "\"'":
                pos = self._string(pos, ch)
            elif ch == "`":
                pos = self._template(pos)
            elif ch == "/" and self._regex_allowed() and not src.startswith(("//", "/*"), pos):
                pos = self._regex(pos)
            elif src.startswith("//", pos):
                end = src.find("\n", pos)
                pos = n if end < 0 else end
            elif src.startswith("/*", pos):
                end = src.find("*/", pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment", pos)
                pos = end + 2
            else:
                if ch in "([{":
                    depth += 1
                elif ch in ")]}":
                    depth -= 1
                self.tokens.append(Token("punct", ch, pos))
                pos += 1
        raise self.fail("unterminated template literal", pos)

    def _regex(self, pos: int) -> int:
        src, n, i = self.src, len(self.src), pos + 1
        in_class = False
        while i < n:
            ch = src[i]
            if ch == "\\":
                i += 2
                continue
            if ch in "\r\n":
                break
            if ch == "[":
                in_class = True
            elif ch == "]":
                in_class = False
            elif ch == "/" and not in_class:
                end = _IDENT.match(src, i + 1).end()
                self.tokens.append(Token("regex", src[pos:end], pos))
                return end
            i += 1
        raise self.fail("unterminated regular expression", pos)


def _tokens(src: str) -> list[Token]:
    scanner = _Scanner(src)
    scanner.scan()
    return scanner.tokens


@dataclass(frozen=True, slots=True)
class TemplatePart:
    """One `${{ expr }}` of a template: its source and where it starts in the template text."""

    src: str
    offset: int


def split_template(text: str) -> list[str | TemplatePart]:
    """Literal text and `${{ }}` parts, in order. An expression ends at the first `}}` at bracket
    depth 0 outside strings, template literals, regular expressions and comments.

    Raises ExprError(E_TEMPLATE) for an unterminated `${{`, E_EXPR_SYNTAX for unbalanced brackets.
    """
    parts: list[str | TemplatePart] = []
    pos = 0
    while True:
        start = text.find("${{", pos)
        if start < 0:
            if pos < len(text):
                parts.append(text[pos:])
            return parts
        if start > pos:
            parts.append(text[pos:start])
        body = start + 3
        scanner = _Scanner(text, 0)
        try:
            end = scanner.scan(body, until_close=True)
        except ExprError as exc:
            if exc.code == "E_TEMPLATE":
                raise ExprError("`${{` is never closed with `}}`", "E_TEMPLATE", start) from None
            raise
        inner = text[body:end]
        parts.append(TemplatePart(inner.strip(), body + len(inner) - len(inner.lstrip())))
        pos = end + 2


def single_expression(text: str) -> str | None:
    """The expression source when `text` is exactly one `${{ e }}` (surrounding blanks allowed)."""
    stripped = text.strip()
    if not stripped.startswith("${{"):
        return None
    parts = split_template(stripped)
    return parts[0].src if len(parts) == 1 and isinstance(parts[0], TemplatePart) else None


def template_to_js(text: str) -> str:
    """A JS template literal with the same value as the `${{ }}` template `text`."""
    out = ["`"]
    for part in split_template(text):
        if isinstance(part, TemplatePart):
            out.append("${(" + part.src + "\n)}")
        else:
            out.append(part.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${"))
    out.append("`")
    return "".join(out)


def js_source(lang: str, src: str) -> str:
    """A parenthesised JS expression with the value of an Expr in `js` or `js-template`."""
    if lang == "js":
        return "(" + src + "\n)"
    if lang == "js-template":
        return template_to_js(src)
    raise ExprError(f"no JavaScript form for language {lang!r}", "E_EXPR_LANG")


def assigned_names(src: str) -> frozenset[str]:
    """The `$names` a script assigns (`$x = …`, `$x += …`, `$x++`, `++$x`)."""
    tokens = _tokens(src)
    out = set()
    for i, tok in enumerate(tokens):
        if tok.kind != "ident" or not tok.text.startswith("$") or _is_property(tokens, i):
            continue
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        before = tokens[i - 1] if i else None
        if (after and after.kind == "punct" and after.text in _ASSIGN_OPS) or \
                (before and before.kind == "punct" and before.text in ("++", "--")):
            out.add(tok.text)
    return frozenset(out)


def _is_property(tokens: list[Token], i: int) -> bool:
    return i > 0 and tokens[i - 1].kind == "punct" and tokens[i - 1].text in (".", "?.")


def read_names(src: str) -> frozenset[str]:
    """Top-level names a source mentions (identifiers not after `.`), minus JS keywords."""
    tokens = _tokens(src)
    return frozenset(tok.text for i, tok in enumerate(tokens)
                     if tok.kind == "ident" and not _is_property(tokens, i) and tok.text not in _KEYWORDS
                     and not (i + 1 < len(tokens) and tokens[i + 1].text == ":" and i and tokens[i - 1].text in "{,"))


_KEYWORDS = frozenset("""break case catch class const continue debugger default delete do else export extends
false finally for function if import in instanceof let new null of return super switch this throw true try typeof
undefined var void while with yield async await NaN Infinity""".split())


def _reserved_assignment(src: str) -> Token | None:
    """The reserved name a script assigns (directly or through a property), if any."""
    tokens = _tokens(src)
    for i, tok in enumerate(tokens):
        if tok.kind != "ident" or tok.text not in RESERVED or _is_property(tokens, i):
            continue
        j, depth = i + 1, 0
        while j < len(tokens):
            t = tokens[j]
            if t.kind == "open":
                depth += 1
            elif t.kind == "close":
                depth -= 1
            elif depth == 0 and not (t.kind == "punct" and t.text in (".", "?.")) and t.kind != "ident":
                break
            j += 1
            if depth < 0:
                break
        if j < len(tokens) and tokens[j].kind == "punct" and tokens[j].text in _ASSIGN_OPS:
            return tok
        if i and tokens[i - 1].kind == "punct" and tokens[i - 1].text in ("++", "--"):
            return tok
    return None


# ---------------------------------------------------------------------------------------------------
# The sandbox: a prelude run once per context.

_PRELUDE = r"""
(function () {
"use strict";
const G = globalThis, RealDate = Date, P = RealDate.prototype;
let nowMs = 0, seed = 1;
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
function utc(s) { return typeof s === "string" && ISO_LOCAL.test(s) ? s + "Z" : s; }
function FakeDate(...a) {
  if (!new.target) return new RealDate(nowMs).toString();
  if (a.length === 0) return new RealDate(nowMs);
  if (a.length === 1) return new RealDate(utc(a[0]));
  return new RealDate(RealDate.UTC(...a));
}
FakeDate.prototype = P;
FakeDate.now = () => nowMs;
FakeDate.UTC = RealDate.UTC;
FakeDate.parse = (s) => RealDate.parse(utc(s));
for (const n of ["FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds"]) {
  P["get" + n] = P["getUTC" + n];
  if (n !== "Day") P["set" + n] = P["setUTC" + n];
}
P.getTimezoneOffset = () => 0;
P.toString = function () { return this.toUTCString(); };
P.toLocaleString = function () { return this.toISOString().replace("T", " ").slice(0, 19); };
P.toLocaleDateString = function () { return this.toISOString().slice(0, 10); };
P.toLocaleTimeString = P.toTimeString = function () { return this.toISOString().slice(11, 19); };
P.toDateString = function () { return this.toUTCString().slice(0, 16); };
G.Date = FakeDate;
Math.random = function () {
  seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
delete G.performance;
const hidden = new Set(Object.getOwnPropertyNames(G));
function freeze(v) {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) freeze(v[k]);
  }
  return v;
}
function thaw(v) { return v === undefined ? undefined : JSON.parse(JSON.stringify(v)); }
function put(name, value) {
  Object.defineProperty(G, name, {value: freeze(value), writable: false, enumerable: true, configurable: true});
}
function out(v) {
  const t = typeof v;
  if (t === "number") return Number.isFinite(v) ? v : null;
  if (t === "bigint") return Number(v);
  if (t === "function" || t === "symbol") throw new TypeError("the value is a " + t + ", not data");
  return v;
}
function userNames() { return Object.keys(G).filter((k) => !hidden.has(k)); }
const api = {
  put, out,
  drop(name) { delete G[name]; },
  undef(name) { put(name, undefined); },
  fail(code, message) { const e = new Error(message); e.name = code; throw e; },
  tick(ms) { nowMs = ms; },
  seed(n) { seed = n | 0; },
  reset() { for (const k of userNames()) delete G[k]; },
  fixed(name, value) {
    hidden.add(name);
    if (value === null) { delete G[name]; return; }
    Object.defineProperty(G, name, {value: freeze(value), writable: false, enumerable: false, configurable: true});
  },
  script(fn, targets) {
    const before = new Map(), created = [];
    for (const k of userNames()) {
      const v = G[k];
      before.set(k, JSON.stringify(v));
      Object.defineProperty(G, k, {value: thaw(v), writable: true, enumerable: true, configurable: true});
    }
    for (const k of targets ? targets.split(",") : []) {
      if (!Object.prototype.hasOwnProperty.call(G, k)) {
        Object.defineProperty(G, k, {value: undefined, writable: true, enumerable: true, configurable: true});
        created.push(k);
      }
    }
    let done = false;
    const changed = {};
    try {
      fn();
      done = true;
    } finally {
      for (const k of userNames()) {
        const v = G[k];
        if (v === undefined && created.includes(k)) { delete G[k]; continue; }
        const text = JSON.stringify(v);
        if (done && text !== before.get(k)) changed[k] = v === undefined ? null : v;
        put(k, v);
      }
    }
    return JSON.stringify(changed);
  },
};
Object.defineProperty(G, "now", {get: () => new RealDate(nowMs), enumerable: false});
hidden.add("now");
Object.defineProperty(G, "__fe", {value: Object.freeze(api), enumerable: false, writable: false, configurable: false});
hidden.add("__fe");
})();
"""


def _new_context(limits: JsLimits) -> quickjs.Context:
    ctx = quickjs.Context()
    ctx.set_memory_limit(limits.memory)
    ctx.set_max_stack_size(limits.stack)
    ctx.eval(_PRELUDE)
    ctx.set_time_limit(limits.time)
    return ctx


# ---------------------------------------------------------------------------------------------------
# Compile time: syntax checks in a shared checker context (one per thread: QuickJS is not thread-safe).

_checker = threading.local()


def _check(wrapped: str, src: str, first_line_offset: int, base: int = 0) -> None:
    ctx = getattr(_checker, "ctx", None)
    if ctx is None:
        ctx = _checker.ctx = _new_context(JsLimits(time=1.0, memory=32 * 1024 * 1024))
    try:
        ctx.eval(wrapped)
    except quickjs.JSException as exc:
        message, line, col = _js_error(exc)
        line -= first_line_offset
        offset = base
        lines = src.split("\n")
        if line > len(lines):
            message, offset = "SyntaxError: unexpected end of the code", base + len(src)
        elif line >= 1:
            offset = base + sum(len(lines[i]) + 1 for i in range(line - 1)) + max(col - 1, 0)
        raise ExprError(message, "E_EXPR_SYNTAX", offset) from None


_ERROR_AT = re.compile(r"at <input>:(\d+):(\d+)")
_CODED = re.compile(r"^(E_[A-Z_]+): (.*)$")


def _js_error(exc: BaseException) -> tuple[str, int, int]:
    text = str(exc.args[0] if exc.args else exc)
    first = text.strip().splitlines()[0] if text.strip() else "JavaScript error"
    match = _ERROR_AT.search(text)
    return first, (int(match.group(1)) if match else 0), (int(match.group(2)) if match else 0)


def check_expression(src: str, base: int = 0) -> None:
    """Raise ExprError unless `src` is exactly one JS expression."""
    if not src.strip():
        raise ExprError("empty expression", "E_EXPR_SYNTAX", base)
    scanner = _Scanner(src, base)
    scanner.scan()
    depth = 0
    for token in scanner.tokens:
        depth += token.kind == "open"
        depth -= token.kind == "close"
        if depth == 0 and token.kind == "punct" and token.text == ";":
            raise ExprError("an expression cannot contain ';' (statements belong in javascript@v1)",
                            "E_EXPR_SYNTAX", base + token.start)
    _check("(function(){ return (\n" + src + "\n); })", src, 1, base)


@dataclass(frozen=True, slots=True)
class Compiled:
    kind: str  # expr | template | script
    body: str  # the JS function source run in a run's context
    uses: frozenset[str]  # the pre-defined objects it mentions (pushed in before it runs)
    targets: str = ""  # script: the $names it may create, comma-separated


class JsLanguage:
    """`js`: one expression."""

    name = "js"

    def compile(self, src: str) -> Compiled:
        check_expression(src)
        return Compiled("expr", '(function(){ "use strict"; return __fe.out((\n' + src + "\n)); })",
                        read_names(src) & _OBJECTS)

    def evaluate(self, compiled: Compiled, scope: Scope) -> Any:
        return _run_for(scope).evaluate(compiled, scope)

    def names(self, src: str, compiled: Compiled) -> frozenset[str]:
        return read_names(src)


class JsTemplateLanguage(JsLanguage):
    """`js-template`: text with `${{ }}` placeholders, each replaced by `String(value)`."""

    name = "js-template"

    def compile(self, src: str) -> Compiled:
        for part in split_template(src):
            if isinstance(part, TemplatePart):
                check_expression(part.src, part.offset)
        return Compiled("template", '(function(){ "use strict"; return ' + template_to_js(src) + "; })",
                        self.names(src, None) & _OBJECTS)

    def names(self, src: str, compiled: Compiled) -> frozenset[str]:
        return frozenset().union(*(read_names(p.src) for p in split_template(src) if isinstance(p, TemplatePart)))


class JsScriptLanguage(JsLanguage):
    """`js-script`: statements (strict mode). Value: {name: value} of the variables they changed."""

    name = "js-script"

    def compile(self, src: str) -> Compiled:
        _Scanner(src).scan()
        token = _reserved_assignment(src)
        if token is not None:
            raise ExprError(f"{token.text!r} is a pre-defined name and cannot be assigned", "E_RESERVED_ASSIGN",
                            token.start)
        _check('(function(){ "use strict";\n' + src + "\n})", src, 1)
        targets = ",".join(sorted(n for n in assigned_names(src) if n not in RESERVED))
        return Compiled("script", '(function(){ "use strict";\n' + src + "\n})", read_names(src) & _OBJECTS,
                        targets)


# ---------------------------------------------------------------------------------------------------
# Run time: one context per run.

_SCALARS = (str, int, float, bool, type(None))
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _run_for(scope: Scope) -> "JsRun":
    run = scope.cache.get("js")
    if run is None:
        run = scope.cache["js"] = JsRun(scope, LIMITS)
    return run


class JsRun:
    """The QuickJS context of one run, and what it was last told about the run's variables."""

    def __init__(self, scope: Scope, limits: JsLimits):
        self.limits = limits
        self.pushed: dict[str, tuple[str, Any]] = {}
        self.objects: dict[str, str | None] = {}
        self.inputs: dict[str, Any] = {}
        self.functions: dict[str, Any] = {}
        self._start(scope)

    def _start(self, scope: Scope) -> None:
        self.ctx = _new_context(self.limits)
        get = self.ctx.eval
        self._put, self._drop, self._tick = get("__fe.put"), get("__fe.drop"), get("__fe.tick")
        self._script, self._reset, self._undef = get("__fe.script"), get("__fe.reset"), get("__fe.undef")
        self._fixed = get("__fe.fixed")
        call_id = str((scope.builtins.get("call") or {}).get("id", ""))
        get("__fe.seed")(int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:4], "big") or 1)
        self.functions.clear()
        self.pushed.clear()
        self.objects.clear()
        self.inputs.clear()
        self.protected = frozenset(json.loads(get("JSON.stringify(Object.getOwnPropertyNames(globalThis))")))

    # -- what the script can see ---------------------------------------------------------------------

    def sync(self, scope: Scope) -> None:
        """Copy in the variables that changed since the last evaluation."""
        pushed = self.pushed
        fresh = not pushed
        for name, value in scope.vars.items():
            old = pushed.get(name)
            if type(value) in _SCALARS:
                if old is not None and old[0] == "v" and type(old[1]) is type(value) and old[1] == value:
                    continue
                marker = ("v", value)
                js_value = value
            else:
                try:
                    text = _encode(value)
                except (TypeError, ValueError) as exc:
                    raise ExprError(f"variable {name!r} is not plain JSON: {exc}", "E_EXPR_RUNTIME") from None
                if old is not None and old[1] == text and old[0] == "j":
                    continue
                marker = ("j", text)
                js_value = self.ctx.parse_json(text)
            if name in self.protected or name in RESERVED:
                continue
            self._put(name, js_value)
            pushed[name] = marker
        if len(pushed) != len(scope.vars) or fresh:
            for name in [n for n in pushed if n not in scope.vars and pushed[n][0] != "u"]:
                del pushed[name]
                self._drop(name)
            for name in scope.declared:
                if name not in pushed and name not in self.protected:
                    self._undef(name)
                    pushed[name] = ("u", None)

    def objects_for(self, uses: frozenset[str], scope: Scope) -> None:
        """Copy in the pre-defined objects an evaluation mentions, when what they are built from changed."""
        builtins = scope.builtins
        for name in uses:
            inputs = _inputs(name, builtins)
            if self.inputs.get(name, _NEVER) == inputs:
                continue
            self.inputs[name] = inputs
            value = _BUILDERS[name](builtins)
            text = None if value is None else _encode(value)
            if self.objects.get(name, "") != text:
                self._fixed(name, None if text is None else self.ctx.parse_json(text))
                self.objects[name] = text

    # -- evaluation ----------------------------------------------------------------------------------

    def function(self, compiled: Compiled) -> Any:
        fn = self.functions.get(compiled.body)
        if fn is None:
            fn = self.functions[compiled.body] = self.ctx.eval(compiled.body)
        return fn

    def evaluate(self, compiled: Compiled, scope: Scope) -> Any:
        try:
            self.sync(scope)
            if compiled.uses:
                self.objects_for(compiled.uses, scope)
            self._tick(_epoch_ms(scope))
            fn = self.function(compiled)
            if compiled.kind == "script":
                changed = json.loads(self._script(fn, compiled.targets))
                for name, value in changed.items():
                    self.pushed[name] = ("v", value) if type(value) in _SCALARS else ("j", _encode(value))
                return changed
            return _from_js(fn())
        except quickjs.JSException as exc:
            raise self._error(exc, compiled, scope) from None

    def _error(self, exc: BaseException, compiled: Compiled, scope: Scope) -> ExprError:
        message, _, _ = _js_error(exc)
        if "out of memory" in message or message == "null":
            self._start(scope)
            return ExprError(f"the script used more than {self.limits.memory // 1024} KiB of memory",
                             "E_EXPR_MEMORY")
        self._recover(compiled)
        if message.startswith("InternalError: interrupted"):
            return ExprError(f"the script ran longer than {self.limits.time * 1000:g} ms (an endless loop?)",
                             "E_EXPR_TIMEOUT")
        if message.startswith("TypeError") and ("read-only" in message or "no setter" in message):
            name = re.search(r"'([^']*)' is read-only", message)
            if compiled.kind == "script" or not (name and name.group(1) in scope.vars):
                return ExprError(f"pre-defined objects are read-only ({message})", "E_RESERVED_ASSIGN")
            return ExprError(f"an expression cannot change variables; use javascript@v1 ({message})",
                             "E_EXPR_RUNTIME")
        coded = _CODED.match(message)
        if coded:  # __fe.fail(code, message): a check in generated code names its own code
            return ExprError(coded.group(2), coded.group(1))
        return ExprError(message, "E_EXPR_RUNTIME")

    def _recover(self, compiled: Compiled) -> None:
        """After a failed script the context may hold half its writes: forget every variable."""
        if compiled.kind == "script":
            self._reset()
            self.pushed.clear()

    def memory(self) -> int:
        """Bytes the context holds (for the benchmark's per-call figure)."""
        return int(self.ctx.memory()["malloc_size"])


def _epoch_ms(scope: Scope) -> int:
    try:
        now = scope.now()
    except ExprError:
        return 0
    return float(round(now.timestamp() * 1000))  # a float: QuickJS truncates big Python ints


def _from_js(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, quickjs.Object):
        return json.loads(value.json())
    return value


# ---------------------------------------------------------------------------------------------------
# CALLR pre-defined objects, built from the interpreter's neutral built-ins.

def _iso(at: datetime | None, seconds: float | None = 0.0) -> str | None:
    if at is None or seconds is None:
        return None
    moment = at + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _start_time(call: dict) -> datetime | None:
    text = call.get("at")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def number_info(number: str) -> dict[str, str | None]:
    """libphonenumber's view of a number: its type (MOBILE, FIXED_LINE, …) and country."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return {"type": "UNKNOWN", "country": None}
    kind = phonenumbers.number_type(parsed)
    names = {v: k for k, v in vars(phonenumbers.PhoneNumberType).items() if isinstance(v, int)}
    return {"type": names.get(kind, "UNKNOWN"), "country": phonenumbers.region_code_for_number(parsed)}


_CAUSES = {"busy": 17, "rejected": 21, "normal": 16}
_SOURCES = {"caller": "caller", "callee": "callee", "flow": "system"}


def cdr(leg: dict, start: datetime | None, base: dict) -> dict:
    """A REST-v2-style CDR of one leg from the interpreter's `legs` record (seconds from call start).
    Durations count up to the leg's end; while it is up they read 0 (CALLR fills them at hang-up)."""
    began, answered_at, ended_at = leg.get("started_at") or 0.0, leg.get("answered_at"), leg.get("ended_at")
    answered = round(max(ended_at - answered_at, 0.0)) if answered_at is not None and ended_at is not None else 0
    cause = leg.get("cause")
    if ended_at is None:
        code = None
    elif isinstance(cause, int) and not isinstance(cause, bool):
        code = cause
    else:
        code = _CAUSES.get(str(cause), 16)
    return {
        **base,
        "started": _iso(start, began),
        "answered": _iso(start, answered_at),
        "ended": _iso(start, ended_at),
        "durationTotal": round(max(ended_at - began, 0.0)) if ended_at is not None else 0,
        "durationAnswered": answered,
        "durationBilled": answered,
        "hangupCause": code,
        "hangupSource": _SOURCES.get(leg.get("ended_by")),
        "status": "ANSWER" if answered_at is not None else ("NOANSWER" if ended_at is not None else "RINGING"),
    }


_RESTRICTED = frozenset({"anonymous", "restricted", "private", "unknown", "blocked", ""})


def _call(builtins: dict) -> dict | None:
    call = builtins.get("call") or {}
    if call.get("trigger", "inbound-call") != "inbound-call":
        return None
    caller = str(call.get("from") or "")
    restricted = caller.lower() in _RESTRICTED
    caller = "" if restricted else caller
    callee = str(call.get("to") or "")
    info = number_info(caller) if caller else {"type": "UNKNOWN", "country": None}
    leg = (builtins.get("legs") or {}).get("A") or {}
    return {
        "fromNumber": caller, "toNumber": callee, "fromName": call.get("from_name") or "",
        "fromType": info["type"], "fromCountry": info["country"], "toType": number_info(callee)["type"],
        "cdr": cdr(leg, _start_time(call), {
            "callid": call.get("id"), "direction": "inbound", "callerNumber": caller,
            "callerName": call.get("from_name") or "", "callerRestricted": restricted, "callee": callee,
        }),
    }


_GSM7 = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def _sms(builtins: dict) -> dict | None:
    sms = builtins.get("sms")
    call = builtins.get("call") or {}
    if sms is None or call.get("trigger") != "inbound-sms":
        return None
    body = str(sms.get("body") or "")
    gsm = all(ch in _GSM7 for ch in body)
    single, multi = (160, 153) if gsm else (70, 67)
    sender, receiver = number_info(str(sms.get("from") or "")), number_info(str(sms.get("to") or ""))
    return {
        "sid": call.get("id"), "direction": "inbound", "fromNumber": sms.get("from"), "toNumber": sms.get("to"),
        "fromType": sender["type"], "fromCountry": sender["country"], "toType": receiver["type"],
        "toCountry": receiver["country"], "status": "received", "encoding": "gsm" if gsm else "unicode",
        "bodyText": body, "parts": 1 if len(body) <= single else math.ceil(len(body) / multi),
        "createdAt": _iso(_start_time(call)),
    }


def _recording(builtins: dict) -> dict | None:
    rec = builtins.get("recording")
    if not rec:
        return None
    url = str(rec.get("url") or "")
    sid = url.rsplit("/", 1)[-1].split(".", 1)[0] if url else ""
    language = rec.get("transcribe")
    return {"sid": sid, "duration": round(float(rec.get("duration") or 0)), "url": url,
            "transcription": {"language": language} if language else None}


def _run(builtins: dict) -> dict:
    call = builtins.get("call") or {}
    kind = {"inbound-call": "inbound-call", "inbound-sms": "inbound-sms"}.get(call.get("trigger"), "api")
    return {"id": f"{kind}:{call.get('id', '')}", "type": kind}


def _scenario(builtins: dict) -> dict:
    name = (builtins.get("flow") or {}).get("name", "")
    return {"sid": name, "name": name}


def _app(builtins: dict) -> dict:
    return {"name": (builtins.get("flow") or {}).get("name", ""), "package": "ACTIONS10"}


_OBJECTS = RESERVED - {"now"}
_BUILDERS = {
    "run": _run, "scenario": _scenario, "app": _app, "integrations": lambda builtins: {}, "call": _call,
    "sms": _sms, "recording": _recording,
}
_NEVER = object()


def _inputs(name: str, builtins: dict) -> Any:
    """What a pre-defined object is built from, compared cheaply to skip rebuilding it."""
    if name == "call":
        return tuple(((builtins.get("legs") or {}).get("A") or {}).items())
    if name == "recording":
        return tuple((builtins.get("recording") or {}).items())
    return ()


register_language(JsLanguage())
register_language(JsTemplateLanguage())
register_language(JsScriptLanguage())
