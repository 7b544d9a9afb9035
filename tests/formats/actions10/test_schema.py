"""The editor JSON Schema: generated from the catalogue, and in agreement with the compiler."""

from pathlib import Path

import pytest

from flowengine.formats.actions10.jsonschema import render
from flowengine.schema import validate
from flowengine.structured import load

from tests.formats.actions10.test_invalid import CASES

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "flows").glob("*.actions.yaml"))


def test_committed_schema_matches_the_catalogue():
    assert (ROOT / "schemas" / "actions10.schema.json").read_text() == render(), \
        "regenerate: python -m flowengine.formats.actions10.jsonschema > schemas/actions10.schema.json"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_examples_are_valid_for_editors(path):
    doc = load(path.read_text(), str(path))
    assert validate("actions10.schema.json", doc.data, doc, "E_SCHEMA") == []


SCHEMA_CATCHES = [c for c in CASES if c[2] not in (
    # semantic checks the schema cannot express: names that must exist, JS syntax, the catalogue's
    # refusals, reserved names, and values checked against patterns only after templating
    "E_UNKNOWN_BRANCH", "E_NO_ENTRY", "E_EXPR_SYNTAX", "E_TEMPLATE", "E_RESERVED_ASSIGN", "E_UNKNOWN_ACTION",
    "E_UNSUPPORTED_ACTION")]


@pytest.mark.parametrize("name, text, code, line, words", SCHEMA_CATCHES, ids=[c[0] for c in SCHEMA_CATCHES])
def test_the_schema_also_rejects_what_the_compiler_rejects(name, text, code, line, words):
    doc = load(text, "t.actions.yaml")
    assert validate("actions10.schema.json", doc.data, doc, "E_SCHEMA"), name
