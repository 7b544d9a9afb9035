"""Safe parsing of InboundXML/TwiML text into a tree of checked `Node`s with source positions.

Rules kept here:
  * Untrusted XML: lxml with no DTD loading, no entity resolution, no network, no huge trees; any
    DOCTYPE is refused, the text is limited to 1 MB and elements to 32 levels. A syntax error is one
    diagnostic at its line and column, never a traceback.
  * Names are read as the platforms read them: element and attribute names in any case (D9), values
    through the grammar's types. The lxml tree is rewritten to canonical names and values, then checked
    against the dialect's XSD (schemas/inboundxml.xsd, twiml.xsd) for nesting and content. The walk
    checks the same things on the way; only when it met something it cannot vouch for (an error, a
    misplaced element, stray text, a missing required attribute) does the XSD run, to report it.
  * Every node knows its line and column: lxml gives no column (and its `sourceline` is where the
    start tag ends), so positions come from the source text, scanning forward in document order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from lxml import etree

from ...diagnostics import DiagnosticBag, Span, did_you_mean
from ...schema import SCHEMA_DIR
from .grammar import (
    ELEMENTS,
    EMPTY,
    GRAMMARS,
    MIXED,
    SPEECH,
    SSML_TAGS,
    TEXT_ONLY,
    TWIML_MARKERS,
    YTEL_MARKERS,
    InboundXMLGrammar,
    Spec,
)
from .options import Options, parse_pairs
from .types import AttrType, Invalid, Unsupported

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
PI_TARGET = "flowengine"

_XML_DECL = re.compile(r"^\s*<\?xml\b[^>]*\?>")
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)  # where to point the refusal


@dataclass(slots=True, eq=False)
class Node:
    """One checked element: canonical tag, converted attributes, stripped text, children, position."""

    spec_id: str
    tag: str
    attrs: dict[str, Any]
    text: str
    children: list["Node"]
    span: Span
    el: Any = field(repr=False)
    offset: int = field(default=0, repr=False)
    written: dict[str, str] = field(default_factory=dict, repr=False)  # canonical → attribute as written
    ssml: bool = False  # the text is SSML markup (a Say with SSML child elements)


@dataclass
class ParsedDocument:
    """The result of `parse`: the root node (None when the text is not a usable document)."""

    root: Node | None
    grammar: type[InboundXMLGrammar]
    options: Options
    bag: DiagnosticBag
    source: str
    filename: str


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           dtd_validation=False, remove_comments=False, recover=False)


@lru_cache(maxsize=None)
def schema(name: str) -> etree.XMLSchema:
    """The dialect's XSD from schemas/ (generated from grammar.py by xsd.py)."""
    with open(SCHEMA_DIR / f"{name}.xsd", "rb") as fh:
        return etree.XMLSchema(etree.fromstring(fh.read(), _parser()))


def parse(text: str, filename: str, options: Options, *, forced: bool = False) -> ParsedDocument:
    """Parse and check a document. `forced`: the dialect was chosen by name, so no detection."""
    bag = DiagnosticBag()
    top = Span(filename, 1, 1)
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        bag.error("E_TOO_LARGE", f"the document is larger than the {MAX_BYTES} byte limit", top)
        return ParsedDocument(None, InboundXMLGrammar, options, bag, text, filename)
    doctype = _prolog_doctype(text)
    if doctype is not None:  # refused before libxml2 reads any declaration (no entity is ever defined)
        bag.error("E_XML_DOCTYPE", "DOCTYPE declarations are not allowed (no DTDs or entities in InboundXML)",
                  _position(text, filename, doctype))
        return ParsedDocument(None, InboundXMLGrammar, options, bag, text, filename)
    # lxml refuses str input with an encoding declaration: blank it (and a BOM) out with spaces of the
    # same length, so every position still points at the author's text.
    body = " " + text[1:] if text.startswith("\ufeff") else text
    decl = _XML_DECL.match(body)
    if decl is not None:
        body = " " * decl.end() + body[decl.end():]
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (1, 1)
        bag.error("E_XML_SYNTAX", _syntax_message(exc), Span(filename, max(line, 1), max(col, 1)))
        return ParsedDocument(None, InboundXMLGrammar, options, bag, text, filename)
    except ValueError:  # lxml's refusal of an encoding declaration _XML_DECL did not match: an unclosed one
        bag.error("E_XML_SYNTAX", "the XML declaration is not closed: write <?xml version=\"1.0\" … ?>",
                  _position(text, filename, max(text.find("<?xml"), 0)))
        return ParsedDocument(None, InboundXMLGrammar, options, bag, text, filename)
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # a backstop: the prolog check decides
        match = _DOCTYPE.search(text)
        bag.error("E_XML_DOCTYPE", "DOCTYPE declarations are not allowed (no DTDs or entities in InboundXML)",
                  _position(text, filename, match.start() if match else 0))
        return ParsedDocument(None, InboundXMLGrammar, options, bag, text, filename)
    options, chosen = _pi_options(root, options, bag, text, filename)
    if not (forced or chosen) and options.dialect == "inboundxml" and _looks_like_twiml(text):
        options = replace(options, dialect="twiml")
    grammar = GRAMMARS[options.dialect]
    walker = _Walker(grammar, text, filename, bag)
    node = walker.root(root)
    if node is not None and (walker.doubtful or bag.has_errors):  # else the walk has checked all the XSD does
        walker.check_schema(root)
    return ParsedDocument(node, grammar, options, bag, text, filename)


_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def _prolog_doctype(text: str) -> int | None:
    """The offset of a DOCTYPE in the prolog (the only place XML allows one), else None."""
    pos = 1 if text.startswith("\ufeff") else 0
    while True:
        match = _PROLOG_ITEM.match(text, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
    return pos if text.startswith("<!DOCTYPE", pos) else None


def attr_span(text: str, filename: str, node: Node, name: str) -> Span:
    """Where attribute `name` (canonical, or as written) is written in the node's start tag."""
    written = node.written.get(name, name)
    end = text.find(">", node.offset)
    match = re.compile(r"\s" + re.escape(written) + r"\s*=", re.IGNORECASE).search(
        text, node.offset, end if end > 0 else len(text))
    if match is None:
        return node.span
    return _position(text, filename, match.start() + 1)


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    message = re.sub(r", line \d+, column \d+$", "", str(exc.msg or exc))
    if "Excessive depth" in message:
        return "the document is nested too deeply"
    if message.startswith("Entity '") and "not defined" in message:
        return message + " (entities other than &amp; &lt; &gt; &quot; &apos; are not allowed)"
    return message


def _position(text: str, filename: str, offset: int) -> Span:
    line = text.count("\n", 0, offset) + 1
    return Span(filename, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _pi_options(root: Any, options: Options, bag: DiagnosticBag, text: str,
                filename: str) -> tuple[Options, bool]:
    """Options from `<?flowengine name="value" …?>` instructions before the root element, and whether
    they chose the dialect."""
    chosen = False
    pis = []
    sibling = root.getprevious()
    while sibling is not None:
        if isinstance(sibling, etree._ProcessingInstruction) and sibling.target == PI_TARGET:
            pis.append(sibling)
        sibling = sibling.getprevious()
    for pi in reversed(pis):
        try:
            values = parse_pairs(pi.text or "")
            options = options.with_text(values)
            chosen = chosen or "dialect" in values
        except Invalid as exc:
            offset = text.find("<?" + PI_TARGET)
            bag.error("E_OPTION", str(exc), _position(text, filename, max(offset, 0)))
    return options, chosen


def _markers(table: frozenset[str]) -> tuple[tuple[str, int, re.Pattern], ...]:
    """(word, lead, exact regex) per marker; the regex matches `lead` characters before the word:
    `element:x` is a <x> tag, `verb:attr` an attribute name."""
    out = []
    for marker in sorted(table):
        kind, _, name = marker.partition(":")
        if kind == "element":
            out.append(("<" + name, 0, re.compile(r"<" + name + r"[\s/>]")))
        elif name == "type":  # Ytel's type="ssml" on Say
            out.append(("type", 1, re.compile(r"\stype\s*=\s*[\"']ssml")))
        else:
            out.append((name, 1, re.compile(r"\s" + name + r"\s*=")))
    return tuple(dict.fromkeys(out))  # once each (dial:trim and record:trim are one search)


_TWIML = _markers(TWIML_MARKERS)
_YTEL = _markers(YTEL_MARKERS)


def _uses(lower: str, markers: tuple[tuple[str, int, re.Pattern], ...]) -> bool:
    # the exact pattern is tried only where its word occurs (found by a fast substring search): a
    # search for a pattern that starts with \s would try every blank of the document
    for word, lead, pattern in markers:
        pos = lower.find(word, lead)
        while pos >= 0:
            if pattern.match(lower, pos - lead):
                return True
            pos = lower.find(word, pos + 1)
    return False


def _looks_like_twiml(text: str) -> bool:
    """A document using Twilio-only names and no Ytel-only names is TwiML (docs/inboundxml.md)."""
    lower = text.lower()
    return _uses(lower, _TWIML) and not _uses(lower, _YTEL)


class _Walker:
    """Walks the lxml tree once in document order: resolves names, converts values, records positions."""

    def __init__(self, grammar: type[InboundXMLGrammar], text: str, filename: str, bag: DiagnosticBag):
        self.grammar = grammar
        self.text = text
        self.filename = filename
        self.bag = bag
        self.by_tag = _tags(grammar)
        self.plans = _plans(grammar)
        self.nodes: dict[Any, Node] = {}
        self.refused: set[tuple[Any, str]] = set()  # (element, attribute) already reported and removed
        self.doubtful = False  # the walk met something only the XSD can judge (misplaced, stray content)
        # scanning state for positions
        self.pos = 0
        self.line = 1
        self.line_start = 0

    # -- positions -----------------------------------------------------------------------------------

    def locate(self, el: Any, tag: str) -> tuple[int, Span]:
        """The offset and span of the element's start tag (the next `<tag` in the text)."""
        text = self.text
        pos = text.find("<" + tag, self.pos)
        if pos < 0:
            return self.pos, Span(self.filename, el.sourceline or 1, 1)
        newlines = text.count("\n", self.pos, pos)
        if newlines:
            self.line += newlines
            self.line_start = text.rfind("\n", self.pos, pos) + 1
        self.pos = pos + 1
        return pos, Span(self.filename, self.line, pos - self.line_start + 1)

    def attr_span(self, node: Node, name: str) -> Span:
        return attr_span(self.text, self.filename, node, name)

    # -- the walk --------------------------------------------------------------------------------------

    def root(self, el: Any) -> Node | None:
        tag = _local(el.tag)
        if tag.lower() != self.grammar.ROOT.lower():
            _, span = self.locate(el, tag)
            self.bag.error("E_ROOT", f"the root element must be <{self.grammar.ROOT}>, not <{tag}>", span)
            return None
        return self.element(el, el.tag, tag, self.grammar.ROOT, 1)

    def resolve(self, tag: str, parent: _Plan) -> str | None:
        lower = tag.lower()
        return parent.children.get(lower) or self.by_tag.get(lower)

    def element(self, el: Any, tag: str, written: str, spec_id: str, depth: int) -> Node:
        """Check one element (`tag` as written, `written` without its namespace) and, in document
        order, what it holds."""
        plan = self.plans[spec_id]
        spec = plan.spec
        offset, span = self.locate(el, written)
        if tag != spec.tag:
            el.tag = spec.tag
        node = Node(spec_id, spec.tag, {}, "", [], span, el, offset)
        self.nodes[el] = node
        items = el.items()
        if items:
            self.attributes(node, plan, items)
        if not _fits_schema(spec, node):
            self.doubtful = True
        content = spec.content
        if content == SPEECH and len(el):
            self.ssml(node, el, depth)
            return node
        if content in (ELEMENTS, MIXED):
            self.children(node, plan, depth)
        if content in (TEXT_ONLY, SPEECH):
            node.text = _clean(el.text)
        elif content == MIXED:
            node.text = _clean("".join([el.text or "", *(c.tail or "" for c in el)]))
        elif content == EMPTY and len(el):
            for child in el:  # let the positions scan step over them, then the XSD reports them
                if isinstance(child.tag, str):
                    self.child(child, plan, depth + 1)
        return node

    def children(self, node: Node, plan: _Plan, depth: int) -> None:
        """The child elements of an element that holds elements, in document order."""
        allowed = plan.spec.children
        for child in node.el:
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions
            if depth >= MAX_DEPTH:
                self.bag.error("E_XML_DEPTH", f"elements are nested more than {MAX_DEPTH} deep",
                               self.locate(child, _local(child.tag))[1])
                break
            child_node = self.child(child, plan, depth + 1)
            if child_node is None:
                continue
            if child_node.spec_id in allowed:
                node.children.append(child_node)
            else:
                self.doubtful = True  # a misplaced one stays in the tree for the XSD to report

    def child(self, el: Any, parent: _Plan, depth: int) -> Node | None:
        tag = el.tag
        written = _local(tag)
        spec_id = self.resolve(written, parent)
        if spec_id is None:
            _, span = self.locate(el, written)
            reason = self.grammar.UNSUPPORTED_ELEMENTS.get(written.lower())
            if reason is not None:
                self.bag.error("E_UNSUPPORTED", reason, span)
            else:
                known = sorted({s.tag for s in self.grammar.ELEMENTS.values()})
                self.bag.error("E_UNKNOWN_VERB", f"unknown {self.grammar.name} element <{written}>"
                               f"{did_you_mean(written, known)}", span)
            el.getparent().remove(el)
            return None
        return self.element(el, tag, written, spec_id, depth)

    def attributes(self, node: Node, plan: _Plan, items: list[tuple[str, str]]) -> None:
        el = node.el
        spec = plan.spec
        for raw_name, raw_value in items:
            local = _local(raw_name)
            found = plan.attrs.get(local.lower())
            if found is None:
                node.written[local] = raw_name
                self.bag.warning("W_UNKNOWN_ATTR", f"<{spec.tag}> has no attribute {local!r}"
                                 f"{did_you_mean(local, list(spec.attrs))}; it is ignored",
                                 self.attr_span(node, local))
                del el.attrib[raw_name]
                continue
            canonical, kind = found
            node.written[canonical] = raw_name
            if canonical in node.attrs:
                self.bag.error("E_DUPLICATE_ATTR", f"<{spec.tag}> gives {canonical!r} twice", self.attr_span(node, canonical))
                del el.attrib[raw_name]
                continue
            try:
                value = kind.convert(raw_value)
            except Invalid as exc:
                if isinstance(kind, Unsupported):
                    code, message = "E_UNSUPPORTED", f"<{spec.tag} {canonical}> {exc}"
                else:
                    code, message = "E_ATTR_VALUE", f"<{spec.tag} {canonical}>: {exc}"
                self.bag.error(code, message, self.attr_span(node, canonical))
                self.refused.add((el, canonical))
                del el.attrib[raw_name]
                continue
            node.attrs[canonical] = value
            text = kind.canonical(value)
            if raw_name != canonical:
                del el.attrib[raw_name]
                el.set(canonical, text)
            elif raw_value != text:
                el.set(canonical, text)

    def ssml(self, node: Node, el: Any, depth: int) -> None:
        """A Say with child elements: SSML, kept as written (checked against the known SSML tags)."""
        levels = {el: depth}  # SSML counts toward the document's depth limit like any element
        for child in el.iter():
            if child is el or not isinstance(child.tag, str):
                continue
            written = _local(child.tag)
            prefix = child.prefix + ":" if child.prefix else ""
            offset, span = self.locate(child, prefix + written)
            level = levels[child.getparent()] + 1
            if level > MAX_DEPTH:
                self.bag.error("E_XML_DEPTH", f"elements are nested more than {MAX_DEPTH} deep", span)
                break
            levels[child] = level
            if (prefix + written).lower() not in SSML_TAGS:
                self.bag.error("E_SSML", f"<{prefix}{written}> is not an SSML element this engine speaks"
                               f"{did_you_mean(written.lower(), sorted(SSML_TAGS))}", span)
        inner = (el.text or "") + "".join(etree.tostring(child, encoding="unicode", with_tail=True) for child in el)
        node.text = " ".join(inner.split())
        node.ssml = True

    # -- schema ------------------------------------------------------------------------------------------

    def check_schema(self, root: Any) -> None:
        """Validate the canonical tree against the dialect's XSD; rephrase what it finds."""
        xsd = schema(self.grammar.name)
        if xsd.validate(root):
            return
        tree = root.getroottree()
        for error in xsd.error_log:
            found = tree.xpath(error.path) if error.path else []
            el = found[0] if found else None
            node = self.nodes.get(el) if el is not None else None
            span = node.span if node is not None else Span(self.filename, error.line or 1, 1)
            code, message = _rephrase(error, el, self.grammar)
            if code == "E_MISSING_ATTR" and (el, message.rsplit(" ", 1)[-1]) in self.refused:
                continue  # its value was already refused
            self.bag.error(code, message, span)


def _rephrase(error: Any, el: Any, grammar: type[InboundXMLGrammar]) -> tuple[str, str]:
    message = re.sub(r"^Element '[^']*'(, attribute '[^']*')?: ", "", error.message)
    tag = el.tag if el is not None else "?"
    kind = error.type_name
    if kind == "SCHEMAV_ELEMENT_CONTENT" and "not expected" in message and el is not None:
        parent = el.getparent()
        if parent is None:
            return "E_NESTING", f"<{tag}> is not allowed here"
        parent_spec = next((s for s in grammar.ELEMENTS.values() if s.tag == parent.tag), None)
        allowed = [grammar.ELEMENTS[c].tag for c in parent_spec.children] if parent_spec else []
        inside = (f"; <{parent.tag}> may contain {', '.join(f'<{a}>' for a in allowed)}" if allowed
                  else f"; <{parent.tag}> takes no child elements")
        return "E_NESTING", f"<{tag}> cannot be nested in <{parent.tag}>{inside}"
    if kind in ("SCHEMAV_CVC_COMPLEX_TYPE_2_1", "SCHEMAV_CVC_COMPLEX_TYPE_2_2"):
        return "E_CONTENT", f"<{tag}> takes no text or child elements"
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_3":
        stray = next((t.strip() for t in [el.text, *(c.tail for c in el)] if t and t.strip()), "") if el is not None else ""
        shown = f" ({stray[:30]!r})" if stray else ""
        return "E_CONTENT", f"<{tag}> holds elements only; text{shown} is not allowed here"
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_4" or "type definition is simple" in message:
        return "E_CONTENT", f"<{tag}> holds text only, no child elements"
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_4":
        match = re.search(r"attribute '([^']*)' is required", message)
        return "E_MISSING_ATTR", f"<{tag}> needs the attribute {match.group(1) if match else '?'}"
    return "E_SCHEMA", f"<{tag}>: {message.rstrip('.')}"


def _clean(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


_XSD_SPACE = " \t\n\r"  # XML Schema's whitespace (Python's str.strip() takes more)


def _fits_schema(spec: Spec, node: Node) -> bool:
    """Whether an element certainly fits its XSD type: required attributes, its own text and child
    nodes (its child elements are checked as they are walked). False leaves the verdict to the XSD."""
    if spec.required and not all(name in node.attrs for name in spec.required):
        return False
    el = node.el
    content = spec.content
    if content in (SPEECH, MIXED):
        return True
    if content == TEXT_ONLY:
        return not len(el)
    if content == ELEMENTS and spec.children:  # element-only content: whitespace between the elements
        return all(not text or not text.strip(_XSD_SPACE) for text in (el.text, *(c.tail for c in el)))
    return el.text is None and not len(el)  # empty content: not even whitespace


def _local(tag: str) -> str:
    """A tag or attribute name without its namespace."""
    return tag if "}" not in tag else tag.rpartition("}")[2]


@lru_cache(maxsize=None)
def _tags(grammar: type[InboundXMLGrammar]) -> dict[str, str]:
    """Lower-case tag → spec id (the first spec with that tag)."""
    out: dict[str, str] = {}
    for spec_id, spec in grammar.ELEMENTS.items():
        out.setdefault(spec.tag.lower(), spec_id)
    return out


@dataclass(frozen=True, slots=True)
class _Plan:
    """One element spec as the walk reads it, worked out once per grammar."""

    spec: Spec
    children: dict[str, str]  # lower-case tag → spec id, for the children the spec allows
    attrs: dict[str, tuple[str, AttrType]]  # lower-case name → (canonical name, type)


@lru_cache(maxsize=None)
def _plans(grammar: type[InboundXMLGrammar]) -> dict[str, _Plan]:
    """Spec id → its plan (names are looked up in any case, D9)."""
    return {spec_id: _Plan(spec, {grammar.ELEMENTS[c].tag.lower(): c for c in spec.children},
                           {name.lower(): (name, kind) for name, kind in spec.attrs.items()})
            for spec_id, spec in grammar.ELEMENTS.items()}
