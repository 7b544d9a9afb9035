"""The XSDs in schemas/ are drawn from the grammar tables and are what the compiler validates against."""

from pathlib import Path

import pytest
from lxml import etree

from flowengine.formats.inboundxml.grammar import GRAMMARS
from flowengine.formats.inboundxml.parse import schema
from flowengine.formats.inboundxml.types import Unsupported
from flowengine.formats.inboundxml.xsd import generate, main

ROOT = Path(__file__).resolve().parents[3]
XS = "{http://www.w3.org/2001/XMLSchema}"


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_committed_xsd_matches_the_grammar_tables(name):
    committed = (ROOT / "schemas" / f"{name}.xsd").read_text(encoding="utf-8")
    assert committed == generate(GRAMMARS[name]), "regenerate: python -m flowengine.formats.inboundxml.xsd"


def test_check_mode_reports_nothing_stale():
    assert main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_every_supported_attribute_and_no_unsupported_one_is_declared(name):
    tree = etree.parse(str(ROOT / "schemas" / f"{name}.xsd"))
    for spec_id, spec in GRAMMARS[name].ELEMENTS.items():
        (complex_type,) = tree.findall(f"{XS}complexType[@name='{spec_id}']")
        declared = {a.get("name") for a in complex_type.iter(f"{XS}attribute")}
        supported = {n for n, kind in spec.attrs.items() if not isinstance(kind, Unsupported)}
        assert declared == supported, spec_id


def test_the_schema_accepts_a_canonical_document_and_refuses_bad_nesting():
    xsd = schema("inboundxml")
    good = etree.fromstring('<Response><Gather numDigits="2" method="POST"><Say loop="0">Hi</Say></Gather>'
                            '<Dial hideCallerId="true"><Number sendDigits="1">+15551112222</Number></Dial></Response>')
    assert xsd.validate(good), xsd.error_log
    bad = etree.fromstring("<Response><Gather><Record/></Gather></Response>")
    assert not xsd.validate(bad)
