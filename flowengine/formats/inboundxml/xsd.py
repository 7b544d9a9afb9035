"""The XSDs in schemas/ (inboundxml.xsd, twiml.xsd), generated from the grammar tables.

The schema is drawn from the tables, so it cannot drift from the compiler (h11's state diagrams are
drawn the same way). It describes documents in canonical form (the parser first rewrites names and
values written in any case); unsupported attributes are left out, so a validating editor flags them.

    python -m flowengine.formats.inboundxml.xsd          # rewrite schemas/*.xsd
    python -m flowengine.formats.inboundxml.xsd --check  # exit 1 when they are stale
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import escape

from ...schema import SCHEMA_DIR
from .grammar import EMPTY, GRAMMARS, MIXED, SPEECH, TEXT_ONLY, InboundXMLGrammar, Spec
from .types import Unsupported

_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!-- {title}.
     Generated from flowengine/formats/inboundxml/grammar.py by
     `python -m flowengine.formats.inboundxml.xsd`: edit the tables, not this file.
     Documents are validated in canonical form: element and attribute names as spelled here,
     booleans true/false, methods GET/POST (flowengine reads any case and rewrites before checking). -->
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="unqualified">
  <xs:simpleType name="bool">
    <xs:restriction base="xs:string"><xs:enumeration value="true"/><xs:enumeration value="false"/></xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="method">
    <xs:restriction base="xs:string"><xs:enumeration value="GET"/><xs:enumeration value="POST"/></xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="url">
    <xs:restriction base="xs:string"><xs:minLength value="1"/><xs:pattern value="\\S+"/></xs:restriction>
  </xs:simpleType>
  <xs:element name="{root}" type="{root}"/>
"""

_TITLES = {
    "inboundxml": "InboundXML (Ytel dialect) as flowengine runs it",
    "twiml": "TwiML voice documents (Twilio dialect) as flowengine runs them",
}


def generate(grammar: type[InboundXMLGrammar]) -> str:
    """The XSD text for one dialect."""
    out = [_HEADER.format(title=_TITLES[grammar.name], root=grammar.ROOT)]
    for spec_id, spec in grammar.ELEMENTS.items():
        out.append(_complex_type(grammar, spec_id, spec))
    out.append("</xs:schema>\n")
    return "".join(out)


def _complex_type(grammar: type[InboundXMLGrammar], spec_id: str, spec: Spec) -> str:
    mixed = ' mixed="true"' if spec.content in (MIXED, SPEECH) else ""
    lines = [f'  <xs:complexType name="{spec_id}"{mixed}>']
    if spec.doc:
        lines.append(f"    <xs:annotation><xs:documentation>{escape(spec.doc)}</xs:documentation></xs:annotation>")
    attrs = _attributes(spec, "      " if spec.content == TEXT_ONLY else "    ")
    if spec.content == TEXT_ONLY:
        lines.append('    <xs:simpleContent><xs:extension base="xs:string">')
        lines.extend(attrs)
        lines.append("    </xs:extension></xs:simpleContent>")
    else:
        if spec.content == SPEECH:
            lines.append('    <xs:sequence><xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>'
                         "</xs:sequence>")
        elif spec.children and spec.content != EMPTY:
            lines.append('    <xs:choice minOccurs="0" maxOccurs="unbounded">')
            for child in spec.children:
                lines.append(f'      <xs:element name="{grammar.ELEMENTS[child].tag}" type="{child}"/>')
            lines.append("    </xs:choice>")
        lines.extend(attrs)
    lines.append("  </xs:complexType>\n")
    return "\n".join(lines)


def _attributes(spec: Spec, indent: str) -> list[str]:
    lines = []
    for name, kind in spec.attrs.items():
        if isinstance(kind, Unsupported):
            continue
        use = ' use="required"' if name in spec.required else ""
        xsd = kind.xsd()
        if xsd.startswith("<"):
            lines.append(f'{indent}<xs:attribute name="{name}"{use}>{xsd}</xs:attribute>')
        else:
            lines.append(f'{indent}<xs:attribute name="{name}" type="{xsd}"{use}/>')
    return lines


def path_of(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.xsd"


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for name, grammar in GRAMMARS.items():
        text = generate(grammar)
        path = path_of(name)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(str(path))
            if not check:
                path.write_text(text, encoding="utf-8")
    if stale:
        print(("stale: " if check else "wrote: ") + ", ".join(stale))
    return 1 if check and stale else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
