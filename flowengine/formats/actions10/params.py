"""Parameter types of ACTIONS10 actions: each checks a literal value and turns `${{ }}` into an Expr.

A parameter type is a small object with `convert(value, where) -> value`, raising `ParamProblem`
(code, message, path inside the value) for a bad literal, and `schema()` giving its JSON Schema (the
literal form; `${{ }}` strings are always allowed where the type is not a name). Rules (digest §4.5):

  * any string inside `params` may hold `${{ expr }}`; a value that is exactly one `${{ e }}` keeps
    `e`'s type (a `js` Expr), anything else is text (a `js-template` Expr);
  * text parameters (`Text`) always give text, trimmed when `trim` (say `what`, sms `body`, log `message`);
  * a literal is checked when the script compiles; an expression's value is checked when it runs (by
    the IR op's own field types, reported as E_PARAM_TYPE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...expr import Expr, ExprError
from ...expr.js import single_expression

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
DTMF = re.compile(r"^[0-9*#A-Da-d]*$")
URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)
VOICE_LANG = re.compile(r"^TTS_([A-Za-z]{2,3})-([A-Za-z]{2})_", re.IGNORECASE)


class ParamProblem(Exception):
    """A literal parameter value is wrong. `path` locates it inside the parameter's value."""

    def __init__(self, code: str, message: str, path: tuple = (), hint: str | None = None, offset: int | None = None):
        super().__init__(message)
        self.code, self.message, self.path, self.hint, self.offset = code, message, path, hint, offset


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) < 40 else "text"
    return "a list" if isinstance(value, list) else "an object"


def expression(text: str, path: tuple = (), *, as_text: bool) -> Expr | str:
    """`text` as a literal, a `js` Expr (exactly one `${{ e }}`, unless `as_text`) or a `js-template`."""
    if "${{" not in text:
        return text
    try:
        single = None if as_text else single_expression(text)
        return Expr("js", single) if single is not None else Expr("js-template", text)
    except ExprError as exc:
        raise ParamProblem(exc.code, exc.message, path, offset=exc.offset) from None


@dataclass(frozen=True)
class ParamType:
    """Base: `doc` describes the type for error messages and the schema."""

    doc: str = "a value"

    def convert(self, value: Any, path: tuple = ()) -> Any:
        return value

    def schema(self) -> dict:
        return {}

    def expect(self, value: Any, path: tuple, hint: str | None = None) -> ParamProblem:
        return ParamProblem("E_PARAM_TYPE", f"expected {self.doc}, got {_json_type(value)}", path, hint)


def _dynamic(value: Any, path: tuple) -> Expr | None:
    """The Expr when `value` is a string that is exactly one `${{ e }}` (typed), else None."""
    if isinstance(value, str) and "${{" in value:
        converted = expression(value, path, as_text=False)
        if isinstance(converted, Expr):
            if converted.lang != "js":
                raise ParamProblem("E_PARAM_TYPE", "a value mixing text and ${{ }} is text; this parameter "
                                   "needs exactly one ${{ expression }}", path)
            return converted
    return None


_EXPR_SCHEMA = {"type": "string", "pattern": r"^\s*\$\{\{[\s\S]*\}\}\s*$"}
_TEMPLATE_SCHEMA = {"type": "string", "pattern": r"\$\{\{"}


def _or_expr(schema: dict, template: bool = False) -> dict:
    return {"anyOf": [schema, _TEMPLATE_SCHEMA if template else _EXPR_SCHEMA]}


@dataclass(frozen=True)
class Text(ParamType):
    """Text; always text even when it is one expression. `trim` strips the author's blanks."""

    doc: str = "text"
    trim: bool = False
    drop_newline: bool = False  # one trailing newline removed (fetch bodies)

    def convert(self, value: Any, path: tuple = ()) -> Any:
        if not isinstance(value, str):
            raise self.expect(value, path, "quote the value so YAML keeps it as text")
        if self.trim:
            value = value.strip()
        elif self.drop_newline and value.endswith("\n"):
            value = value[:-1]
        return expression(value, path, as_text=True)

    def schema(self) -> dict:
        return {"type": "string"}


@dataclass(frozen=True)
class Pattern(ParamType):
    """A string matching `regex` (a phone number, a language tag, DTMF keys…), or one expression."""

    regex: re.Pattern = E164
    code: str = "E_PARAM_VALUE"
    choices: tuple[str, ...] = ()  # literal values accepted besides the pattern ("BLOCKED")

    def convert(self, value: Any, path: tuple = ()) -> Any:
        if isinstance(value, str) and "${{" in value:
            return expression(value, path, as_text=False)
        if not isinstance(value, str):
            hint = "quote it: YAML reads an unquoted +33… as a number" if isinstance(value, (int, float)) else None
            raise self.expect(value, path, hint)
        if value not in self.choices and not self.regex.match(value):
            raise ParamProblem(self.code, f"{value!r} is not {self.doc}", path)
        return value

    def schema(self) -> dict:
        base: dict = {"type": "string", "pattern": self.regex.pattern}
        if self.choices:
            base = {"anyOf": [base, {"enum": list(self.choices)}]}
        return _or_expr(base, template=True)


@dataclass(frozen=True)
class Integer(ParamType):
    """An integer in [lo, hi], or one expression."""

    lo: int = 0
    hi: int = 2**31

    def convert(self, value: Any, path: tuple = ()) -> Any:
        dynamic = _dynamic(value, path)
        if dynamic is not None:  # checked when it runs, with the same range
            return Expr("js", f"((v) => Number.isInteger(v) ? (v >= {self.lo} && v <= {self.hi} ? v : "
                              f"__fe.fail('E_PARAM_VALUE', v + ' is out of range ({self.lo}..{self.hi})')) : "
                              f"__fe.fail('E_PARAM_TYPE', 'expected {self.doc}, got ' + JSON.stringify(v)))"
                              f"({dynamic.src}\n)")
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self.expect(value, path)
        if not self.lo <= value <= self.hi:
            raise ParamProblem("E_PARAM_VALUE", f"{value} is out of range ({self.lo}..{self.hi})", path)
        return value

    def schema(self) -> dict:
        return _or_expr({"type": "integer", "minimum": self.lo, "maximum": self.hi})


@dataclass(frozen=True)
class Boolean(ParamType):
    doc: str = "true or false"

    def convert(self, value: Any, path: tuple = ()) -> Any:
        dynamic = _dynamic(value, path)
        if dynamic is not None:
            return dynamic
        if not isinstance(value, bool):
            hint = "YAML 1.2 reads yes/no/on/off as text: write true or false" \
                if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off") else None
            raise self.expect(value, path, hint)
        return value

    def schema(self) -> dict:
        return _or_expr({"type": "boolean"})


@dataclass(frozen=True)
class Choice(ParamType):
    """One of `values` (compared case-insensitively when `fold`), or one expression."""

    values: tuple[str, ...] = ()
    fold: bool = False

    def convert(self, value: Any, path: tuple = ()) -> Any:
        dynamic = _dynamic(value, path)
        if dynamic is not None:
            return dynamic
        if not isinstance(value, str):
            raise self.expect(value, path)
        found = next((v for v in self.values if v == value or (self.fold and v.lower() == value.lower())), None)
        if found is None:
            raise ParamProblem("E_PARAM_VALUE", f"{value!r} is not one of {', '.join(self.values)}", path)
        return found

    def schema(self) -> dict:
        values = list(self.values)
        if self.fold:
            values += [v.lower() for v in self.values if v.lower() != v] + [v.title() for v in self.values]
        return _or_expr({"enum": list(dict.fromkeys(values))})


@dataclass(frozen=True)
class Media(ParamType):
    """A media library id (integer) or an http(s) URL; the IR plays its text form."""

    doc: str = "a media id or an https URL"

    def convert(self, value: Any, path: tuple = ()) -> Any:
        if isinstance(value, str) and "${{" in value:
            converted = expression(value, path, as_text=False)
            if isinstance(converted, Expr) and converted.lang == "js":
                # a number is a media id: play it by its decimal text
                return Expr("js", f"((m) => typeof m === 'number' ? String(m) : m)({converted.src}\n)")
            return converted
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return str(value)
        if isinstance(value, str) and URL.match(value):
            return value
        raise self.expect(value, path)

    def schema(self) -> dict:
        return {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^(https?://|\\s*\\$\\{\\{)"}]}


@dataclass(frozen=True)
class Mapping(ParamType):
    """An object of text values (HTTP headers); each value may be templated."""

    doc: str = "an object of text values"

    def convert(self, value: Any, path: tuple = ()) -> Any:
        dynamic = _dynamic(value, path)
        if dynamic is not None:
            return dynamic
        if not isinstance(value, dict):
            raise self.expect(value, path)
        out = {}
        for key, item in value.items():
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            out[str(key)] = Text().convert(item, path + (key,))
        return out

    def schema(self) -> dict:
        return _or_expr({"type": "object", "additionalProperties": {"type": ["string", "number"]}})


@dataclass(frozen=True)
class Fields(ParamType):
    """A nested object with its own strict keys (`prompt`, `transcription`, `audio`, a dial target)."""

    doc: str = "an object"
    fields: dict[str, "Param"] = field(default_factory=dict)

    def convert(self, value: Any, path: tuple = ()) -> Any:
        dynamic = _dynamic(value, path)
        if dynamic is not None:
            return dynamic
        if not isinstance(value, dict):
            raise self.expect(value, path)
        return convert_fields(self.fields, value, path)

    def schema(self) -> dict:
        return fields_schema(self.fields)


@dataclass(frozen=True)
class ListOf(ParamType):
    """A list of `item`s (at least `min_items`), or one expression yielding the whole list."""

    item: ParamType = field(default_factory=ParamType)
    min_items: int = 0
    max_items: int = 1000
    single: bool = False  # a lone item is accepted as a one-item list

    def convert(self, value: Any, path: tuple = ()) -> Any:
        dynamic = _dynamic(value, path)
        if dynamic is not None:
            return dynamic
        if self.single and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list):
            raise self.expect(value, path)
        if not self.min_items <= len(value) <= self.max_items:
            raise ParamProblem("E_PARAM_VALUE", f"needs {self.min_items}..{self.max_items} items, got {len(value)}",
                               path)
        return [self.item.convert(item, path + (i,)) for i, item in enumerate(value)]

    def schema(self) -> dict:
        listed = {"type": "array", "items": self.item.schema(), "minItems": self.min_items, "maxItems": self.max_items}
        return _or_expr({"anyOf": [listed, self.item.schema()]} if self.single else listed)


@dataclass(frozen=True)
class Param:
    """One parameter of an action: its type, whether it is required, its default and what it means."""

    type: ParamType
    required: bool = False
    default: Any = None
    doc: str = ""


def convert_fields(spec: dict[str, Param], value: dict, path: tuple = ()) -> dict:
    """Check an object against its parameters: unknown keys, missing required ones, each value."""
    from ...diagnostics import did_you_mean

    for key in value:
        if key not in spec:
            raise ParamProblem("E_UNKNOWN_KEY", f"unknown parameter {key!r}{did_you_mean(str(key), spec)}"
                               f" (known: {', '.join(spec) or 'none'})", path + (key,))
    out = {}
    for name, param in spec.items():
        if name in value:
            out[name] = param.type.convert(value[name], path + (name,))
        elif param.required:
            raise ParamProblem("E_MISSING_PARAM", f"missing required parameter {name!r} ({param.doc})", path)
    return out


def fields_schema(spec: dict[str, Param]) -> dict:
    schema: dict = {"type": "object", "additionalProperties": False,
                    "properties": {name: {**p.type.schema(), **({"description": p.doc} if p.doc else {}),
                                          **({"default": p.default} if p.default is not None else {})}
                                   for name, p in spec.items()}}
    required = [name for name, p in spec.items() if p.required]
    if required:
        schema["required"] = required
    return schema


# -- the shared types, named as the digest names them ---------------------------------------------------

PHONE = Pattern("an E.164 phone number (+CCNSN)", regex=E164)
CLI = Pattern("a caller id: an E.164 number or BLOCKED", regex=E164, choices=("BLOCKED",))
LANGUAGE = Pattern("a language tag such as en-US", regex=LANG)
KEYS = Pattern("DTMF keys (0-9 * # A-D)", regex=DTMF)
URL_TYPE = Pattern("an http(s) URL", regex=URL)
VOICE = Text("a TTS voice id such as TTS_EN-GB_SERENA")
BRANCH = Pattern("a branch name", regex=re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$"))


def language_of_voice(voice: str) -> str | None:
    """`TTS_EN-GB_SERENA` → `en-GB` (seed voice ids are `TTS_<LL>-<CC>_<NAME>`)."""
    match = VOICE_LANG.match(voice)
    return f"{match.group(1).lower()}-{match.group(2).upper()}" if match else None


def say_language(params: dict, default: str | None) -> Any:
    """say@v2's language: explicit → from the voice id → `defaults.language` → en-US (digest §4.6)."""
    fallback = default or "en-US"
    if "language" in params:
        return params["language"]
    voice = params.get("voice")
    if voice is None:
        return fallback
    if isinstance(voice, str):
        return language_of_voice(voice) or fallback
    from ...expr.js import js_source

    return Expr("js", "((v) => { const m = /^TTS_([A-Za-z]{2,3})-([A-Za-z]{2})_/i.exec(String(v)); "
                      f"return m ? m[1].toLowerCase() + '-' + m[2].toUpperCase() : {fallback!r}; }})"
                      f"({js_source(voice.lang, voice.src)})")

