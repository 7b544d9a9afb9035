"""The ACTIONS10 JSON Schema, generated from the action catalogue (never written by hand).

`schemas/actions10.schema.json` is this module's output for the built-in catalogue; a test fails when
the committed file drifts. Regenerate with
`python -m flowengine.formats.actions10.jsonschema > schemas/actions10.schema.json`.

Editors use it for completion and validation. The compiler is the authority (its diagnostics name the
digest's codes); after its own checks pass it also validates the script against this schema, so the
two cannot silently disagree. Each catalogue action adds an `if action == id then params…` rule, so an
action a plugin adds is checked for shape only.
"""

from __future__ import annotations

import json
from typing import Any

from .catalogue import ACTION_ID, ACTIONS, Action
from .compiler import BRANCH_NAME, DATE, DEFAULT_KEYS, VAR_NAME
from .params import LANGUAGE, fields_schema

SCHEMA_NAME = "actions10.schema.json"


def _action_rule(action: Action) -> dict:
    then: dict[str, Any] = {"description": action.doc, "properties": {"params": fields_schema(action.params)}}
    if action.events:
        then["properties"]["events"] = {
            "type": "object", "additionalProperties": False,
            "properties": {name: {"$ref": "#/$defs/steps", "description": doc} for name, doc in action.events.items()},
        }
    forbidden = [key for key, allowed in (("result", action.result), ("events", action.events)) if not allowed]
    if forbidden:
        then["not"] = {"anyOf": [{"required": [key]} for key in forbidden]}
    if any(p.required for p in action.params.values()):
        then["required"] = ["params"]
    return {"if": {"properties": {"action": {"const": action.id}}, "required": ["action"]}, "then": then}


def build_schema(actions: dict | None = None) -> dict:
    actions = ACTIONS if actions is None else actions
    ordered = sorted(actions.values(), key=lambda a: (a.name.lower(), a.version))
    condition = {"description": "a JavaScript expression (or true/false)", "type": ["string", "boolean"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://flowengine.dev/schemas/actions10.schema.json",
        "title": "CALLR Actions (ACTIONS10) script (generated from flowengine/formats/actions10)",
        "type": "object",
        "additionalProperties": False,
        "required": ["branches"],
        "properties": {
            "description": {"type": "string"},
            "compat": {"type": "object", "additionalProperties": False,
                       "properties": {"version": {"type": "string", "pattern": DATE.pattern}}},
            "variables": {"type": "object", "propertyNames": {"pattern": VAR_NAME.pattern},
                          "description": "$variables and their initial values (`undefined` = JS undefined)"},
            "defaults": {"type": "object", "additionalProperties": False, "properties": {
                DEFAULT_KEYS[0]: {"type": "boolean", "default": True,
                                  "description": "answer inbound calls before the first step"},
                DEFAULT_KEYS[1]: {"type": "string", "pattern": LANGUAGE.regex.pattern},
                DEFAULT_KEYS[2]: {"type": "string", "minLength": 1},
            }},
            "branches": {"type": "object", "minProperties": 1, "propertyNames": {"pattern": BRANCH_NAME.pattern},
                         "additionalProperties": {"$ref": "#/$defs/branch"},
                         "description": "inbound-call, api-initiated, inbound-sms, hangup, or your own"},
        },
        "$defs": {
            "branch": {"oneOf": [
                {"type": "object", "additionalProperties": False, "required": ["actions"],
                 "properties": {"actions": {"$ref": "#/$defs/steps"}}},
                {"$ref": "#/$defs/steps"},
            ]},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
            "step": {"oneOf": [{"$ref": "#/$defs/actionStep"}, {"$ref": "#/$defs/gotoStep"},
                               {"$ref": "#/$defs/ifBlock"}]},
            "condition": condition,
            "actionStep": {
                "type": "object", "additionalProperties": False, "required": ["action"],
                "properties": {
                    "action": {"type": "string", "pattern": ACTION_ID.pattern,
                               "examples": [a.id for a in ordered]},
                    "params": {"type": "object"},
                    "result": {"type": "string", "pattern": VAR_NAME.pattern},
                    "events": {"type": "object", "additionalProperties": {"$ref": "#/$defs/steps"}},
                    "if": {"$ref": "#/$defs/condition"},
                },
                "allOf": [_action_rule(a) for a in ordered],
            },
            "gotoStep": {
                "type": "object", "additionalProperties": False, "required": ["goto"],
                "properties": {
                    "goto": {"type": "object", "additionalProperties": False, "required": ["branch"],
                             "properties": {"branch": {"type": "string", "pattern": BRANCH_NAME.pattern}}},
                    "if": {"$ref": "#/$defs/condition"},
                },
            },
            "ifBlock": {
                "type": "object", "additionalProperties": False, "required": ["if", "then"],
                "properties": {"if": {"$ref": "#/$defs/condition"}, "then": {"$ref": "#/$defs/steps"},
                               "else": {"$ref": "#/$defs/steps"}},
            },
        },
    }


def render() -> str:
    """The committed schema: the built-in actions only (plugins are checked for shape)."""
    from .actions import BUILTIN

    return json.dumps(build_schema({key: ACTIONS[key] for key in BUILTIN}), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
