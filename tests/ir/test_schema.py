import json
from pathlib import Path

import jsonschema

from flowengine.ir.schema import render

ROOT = Path(__file__).resolve().parents[2]


def test_committed_ir_schema_matches_the_op_declarations():
    committed = (ROOT / "schemas" / "ir.schema.json").read_text()
    assert committed == render(), "regenerate: python -m flowengine.ir.schema > schemas/ir.schema.json"


def test_example_ir_flows_validate_against_the_schema():
    schema = json.loads(render())
    jsonschema.Draft202012Validator.check_schema(schema)
    examples = sorted((ROOT / "flows").glob("*.flow.json"))
    assert examples
    for path in examples:
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_schema_rejects_an_unknown_op_field():
    schema = json.loads(render())
    bad = {"entry": "a", "states": {"a": {"op": "say", "text": "x", "colour": "red"}}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
