"""JSON Schemas shipped in `schemas/`, and validation that reports at the author's line.

jsonschema's own messages are rephrased for the common cases (unknown key with a suggestion, wrong
type with a hint to quote, value not in a list) and placed with the `Document`'s positions.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from .diagnostics import Diagnostic, did_you_mean
from .structured import Document

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A schema by file name, e.g. `load_schema("scenario.schema.json")`."""
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def _is_number(checker: Any, instance: Any) -> bool:
    """JSON numbers only: YAML's .inf and .nan are not numbers a flow or a scenario can mean."""
    if not Draft202012Validator.TYPE_CHECKER.is_type(instance, "number"):
        return False
    return not isinstance(instance, float) or math.isfinite(instance)


_Validator = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("number", _is_number))


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    return _Validator(load_schema(name))


def validate(name: str, data: Any, doc: Document, code: str, path_prefix: tuple = ()) -> list[Diagnostic]:
    """Diagnostics for every place `data` breaks the schema (an empty list when it is valid)."""
    out = []
    seen = set()
    errors = sorted(validator(name).iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    for error in errors:
        diag = _diagnostic(error, doc, code, path_prefix)
        key = (diag.span, diag.message)
        if key not in seen:
            seen.add(key)
            out.append(diag)
    return out


def _best(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf failures, the sub-error that got furthest (the most specific complaint)."""
    if error.context:
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.context or ())))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return _best(deepest)
    return error


def _diagnostic(error: ValidationError, doc: Document, code: str, prefix: tuple) -> Diagnostic:
    error = _best(error)
    path = prefix + tuple(error.absolute_path)
    where = "/".join(map(str, error.absolute_path)) or "the document"
    validator_name = error.validator
    if validator_name == "additionalProperties":
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        name = extra[0] if extra else "?"
        allowed = list(error.schema.get("properties", {}))
        return Diagnostic(code, f"unknown field {name!r} in {where}{did_you_mean(str(name), allowed)}",
                          doc.span(path + (name,), key=True))
    if validator_name == "required":
        return Diagnostic(code, f"{where}: {error.message}", doc.span(path, key=True))
    if validator_name == "type":
        expected = error.validator_value
        hint = None
        if expected == "string" and isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool):
            hint = "quote the value so YAML keeps it as text (phone numbers and keys are strings)"
        return Diagnostic(code, f"{where}: expected {expected}, got {json.dumps(error.instance)[:60]}",
                          doc.span(path), hint=hint)
    if validator_name == "enum":
        choices = ", ".join(json.dumps(v) for v in error.validator_value)
        return Diagnostic(code, f"{where}: {json.dumps(error.instance)[:60]} is not one of {choices}", doc.span(path))
    if validator_name == "oneOf":
        return Diagnostic(code, f"{where}: {json.dumps(error.instance)[:60]} is not a valid value here", doc.span(path))
    return Diagnostic(code, f"{where}: {error.message}", doc.span(path))
