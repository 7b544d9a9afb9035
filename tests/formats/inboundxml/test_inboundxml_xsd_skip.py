"""The parser skips the XSD when its own walk found nothing it cannot vouch for (parse.py). That is safe
only if every tree the walk vouches for is one the XSD accepts: documents built from the grammar tables,
with attribute values drawn from a pool of valid and invalid ones, names in any case, stray text,
misplaced and unknown elements, must never be vouched for and then fail the XSD."""

from __future__ import annotations

import importlib

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flowengine.formats.inboundxml.grammar import GRAMMARS
from flowengine.formats.inboundxml.options import Options

P = importlib.import_module("flowengine.formats.inboundxml.parse")  # the module (the package exports a function of that name)

VALUES = ["true", "FALSE", "1", "0", "yes", "GET", "post", "5", "-1", "99999999", " 12 ", "abc", "", " ",
          "https://a.example/x", "rel/x", "#", "*", "12#", "ww12", "en", "en-US", "+15551112222", "woman",
          "mp3", "WAV", "both", "continue", "ssml", "dtmf speech", "1234", "record-from-ringing",
          "trim-silence", "true ", "tone_stream://%(100,100,350)", "ftp://x", "é"]
TEXTS = ["", " ", "\n  ", "hello there", "+15551112222", "https://x.example/a.wav", "<!-- c -->",
         "<![CDATA[ ]]>", "&#13;", "stray", "<Foo/>", "<break time='1s'/>"]


def _case(name: str, how: int) -> str:
    return (name, name.lower(), name.upper())[how]


@st.composite
def element(draw, grammar, spec_id: str, depth: int) -> str:
    spec = grammar.ELEMENTS[spec_id]
    tag = _case(spec.tag, draw(st.sampled_from((0, 0, 0, 1, 2))))
    names = sorted(spec.attrs) + ["foo"]
    chosen = draw(st.lists(st.sampled_from(names), max_size=4, unique_by=str.lower))
    attrs = "".join(f' {_case(name, draw(st.sampled_from((0, 0, 1))))}="{draw(st.sampled_from(VALUES))}"'
                    for name in chosen)
    parts = [draw(st.sampled_from(TEXTS))] if draw(st.booleans()) else []
    if spec.children and depth < 4:
        pool = list(spec.children) + [draw(st.sampled_from(sorted(grammar.ELEMENTS)))]  # sometimes misplaced
        for child in draw(st.lists(st.sampled_from(pool), max_size=3)):
            parts.append(draw(element(grammar, child, depth + 1)))
    body = "".join(parts)
    return f"<{tag}{attrs}>{body}</{tag}>" if body else f"<{tag}{attrs}/>"


@st.composite
def document(draw) -> str:
    dialect = draw(st.sampled_from(sorted(GRAMMARS)))
    grammar = GRAMMARS[dialect]
    verbs = draw(st.lists(st.sampled_from(grammar.ELEMENTS["Response"].children), max_size=4))
    body = "".join(draw(element(grammar, verb, 2)) for verb in verbs)
    pi = f'<?flowengine dialect="{dialect}"?>' if dialect != "inboundxml" else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{pi}<Response>{body}</Response>'


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_a_document_the_walk_vouches_for_passes_the_xsd(text):
    ran = []
    original = P._Walker.check_schema

    def spy(self, root):
        ran.append(True)
        return original(self, root)

    P._Walker.check_schema = spy
    try:
        parsed = P.parse(text, "https://app.example.com/x.xml", Options())
    finally:
        P._Walker.check_schema = original
    if parsed.root is None or ran:
        event("the XSD ran")
        return
    event("vouched for by the walk")
    xsd = P.schema(parsed.grammar.name)
    assert xsd.validate(parsed.root.el), [e.message for e in xsd.error_log][:3]
