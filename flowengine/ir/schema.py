"""The IR's JSON Schema, derived from the op declarations (never written by hand).

`schemas/ir.schema.json` is this module's output; a test fails when the committed file and the
declarations drift apart. Regenerate with `python -m flowengine.ir.schema > schemas/ir.schema.json`.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING
from typing import Any, Literal, Union

from .model import ANSWER_MODES, HANDLERS, OPS, PROMPT_KINDS, TRIGGERS, Case, Op, json_name, op_fields
from .values import FrozenDict

EXPR = {"$ref": "#/$defs/expr"}


def _type_schema(tp: Any, dynamic: bool = False) -> dict:
    """The schema of an annotation; `dynamic`: an expression may stand for the value or any part of it."""
    schema = _plain_schema(tp, dynamic)
    return {"anyOf": [schema, EXPR]} if dynamic and schema else schema


def _plain_schema(tp: Any, dynamic: bool) -> dict:
    if tp is Any:
        return {}
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_plain_schema(arg, dynamic) for arg in typing.get_args(tp)]}
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if origin is tuple:
        args = typing.get_args(tp)
        return {"type": "array", "items": _type_schema(args[0], dynamic) if args else {}}
    if origin in (dict, FrozenDict) or tp in (dict, FrozenDict):
        args = typing.get_args(tp)
        return {"type": "object", "additionalProperties": _type_schema(args[1], dynamic) if len(args) == 2 else {}}
    if tp is Op:
        return {"$ref": "#/$defs/prompt"}
    if tp is Case:
        return {"$ref": "#/$defs/case"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"no JSON Schema for {tp!r}")


def _op_schema(cls: type[Op], state: bool) -> dict:
    properties: dict[str, Any] = {"op": {"const": cls.kind, "description": (cls.__doc__ or "").strip()}}
    required = ["op"]
    for f, tp in op_fields(cls):
        schema = _type_schema(tp, dynamic=not f.metadata.get("static"))
        if f.metadata.get("doc"):
            schema = {**schema, "description": f.metadata["doc"]}
        properties[json_name(f)] = schema
        if f.default is MISSING and f.default_factory is MISSING:
            required.append(json_name(f))
    if state:
        outcomes = sorted(cls.OUTCOMES)
        properties["edges"] = {
            "type": "object",
            "description": f"outcome -> state id; outcomes: {', '.join(outcomes) or 'none (terminal)'}"
                           + (" and match:<key>" if cls.kind in ("collect", "branch") else ""),
            "additionalProperties": {"type": "string"},
        }
        properties["next"] = {"type": "string", "description": "shorthand for edges.ok"}
        properties["label"] = {"type": "string"}
        properties["span"] = {"$ref": "#/$defs/span"}
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def ir_schema() -> dict:
    kinds = sorted(OPS)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://flowengine.dev/schemas/ir.schema.json",
        "title": "flowengine IR flow (generated from flowengine/ir/model.py)",
        "type": "object",
        "additionalProperties": False,
        "required": ["entry", "states"],
        "properties": {
            "flowengine": {"const": "ir/1"},
            "name": {"type": "string"},
            "dialect": {"type": "string"},
            "source": {"type": "string"},
            "entry": {
                "description": "the first state, or a map of trigger (or *) to first state",
                "anyOf": [
                    {"type": "string"},
                    {"type": "object", "propertyNames": {"enum": [*TRIGGERS, "*"]},
                     "additionalProperties": {"type": "string"}, "minProperties": 1},
                ],
            },
            "answer": {"enum": list(ANSWER_MODES)},
            "lifetime": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}]},
            "variables": {"type": "object"},
            "handlers": {"type": "object", "propertyNames": {"enum": list(HANDLERS)},
                         "additionalProperties": {"type": "string"}},
            "meta": {"type": "object"},
            "declared": {"type": "array", "items": {"type": "string"},
                         "description": "declared variables; a run may only be started with these"},
            "start_pattern": {"type": "string", "description": "regex every start variable's name must match"},
            "max_jumps": {"type": "integer", "minimum": 1,
                          "description": "most goto states without a channel operation (loop guard)"},
            "states": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/$defs/state"}},
        },
        "$defs": {
            "state": {"oneOf": [{"$ref": f"#/$defs/op_{kind}"} for kind in kinds]},
            "prompt": {"oneOf": [{"$ref": f"#/$defs/prompt_{kind}"} for kind in PROMPT_KINDS]},
            **{f"op_{kind}": _op_schema(OPS[kind], state=True) for kind in kinds},
            **{f"prompt_{kind}": _op_schema(OPS[kind], state=False) for kind in PROMPT_KINDS},
            "case": {
                "type": "object", "required": ["key", "when"], "additionalProperties": False,
                "properties": {"key": {"type": "string", "minLength": 1}, "when": {"$ref": "#/$defs/condition"}},
            },
            "condition": {
                "description": "true/false, an expression, or {all|any|not|eq|match|…: …}",
                "anyOf": [{"type": "boolean"}, EXPR, {"type": "object", "minProperties": 1, "maxProperties": 1}],
            },
            "expr": {
                "type": "object", "required": ["$expr", "src"], "additionalProperties": False,
                "properties": {"$expr": {"type": "string", "description": "language: var, template, calc, js, …"},
                               "src": {"type": "string"}},
            },
            "span": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string"}, "line": {"type": "integer"}, "col": {"type": "integer"},
                               "end_line": {"type": ["integer", "null"]}, "end_col": {"type": ["integer", "null"]}},
            },
        },
    }


def render() -> str:
    return json.dumps(ir_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
