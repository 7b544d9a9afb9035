"""InboundXML (Ytel's TwiML-like call-control XML) and Twilio TwiML documents, compiled to the IR.

    flow = formats.get("inboundxml").compile(text, "menu.xml")       # a file: a whole call
    flow = formats.get("inboundxml").bootstrap("https://x/voice.xml")  # a URL: fetched when the call starts
    formats.get("inboundxml, action_on_empty_result=true")            # dialect flags (options.py)

Modules: parse.py (safe XML, names in any case, XSD check), grammar.py (the dialects as tables),
types.py (attribute values), compile.py (verbs → states), params.py (request parameters),
options.py (dialect flags), xsd.py (schemas/*.xsd from the tables). docs/inboundxml.md says what
the code does where the sources disagree.
"""

from __future__ import annotations

import hashlib
import re

from ...diagnostics import Diagnostic
from ...errors import FlowError
from ...ir.model import Flow
from .. import Format, is_url
from .compile import bootstrap_flow, compile_parsed
from .options import Options
from .parse import parse
from .types import Invalid

__all__ = ["InboundXML", "TwiML", "Options"]

DOCUMENT_CACHE_SIZE = 256
_DOCUMENTS: dict[tuple, Flow] = {}

_SNIFF = re.compile(r"^\ufeff?\s*(<\?[^>]*\?>\s*|<!--.*?-->\s*)*<\s*response[\s>/]", re.IGNORECASE | re.DOTALL)


class InboundXML(Format):
    """Ytel InboundXML. A document that uses only Twilio's names is compiled as TwiML."""

    name = "inboundxml"
    suffixes = (".xml", ".inboundxml")
    description = "Ytel InboundXML (and TwiML) call-control documents"

    def __init__(self, options: Options | None = None, forced: bool = False):
        self.options = options or Options(dialect=self.name)
        self.forced = forced or self.name != "inboundxml"

    def sniff(self, text: str, filename: str) -> bool:
        return _SNIFF.match(text[:4096]) is not None

    def configure(self, values: dict[str, str]) -> "InboundXML":
        """This format with options (`inboundxml, pause_unit=ms`); FlowError on an unknown one."""
        try:
            options = self.options.with_text(values)
        except Invalid as exc:
            raise FlowError([Diagnostic("E_FORMAT", str(exc))]) from None
        cls = TwiML if options.dialect == "twiml" else InboundXML
        return cls(options, forced=self.forced or "dialect" in values)

    def compile(self, text: str, filename: str) -> Flow:
        """A document that runs a whole call (a file, or a URL given as the file name)."""
        url = filename if is_url(filename) else None
        return compile_parsed(parse(text, filename, self.options, forced=self.forced), url, call_level=True)

    def compile_document(self, body: str, url: str, content_type: str = "", parent: Flow | None = None,
                         origin: str | None = None) -> Flow:
        """A document fetched during a call. The content type is not trusted: the body is parsed.

        Compiled documents are cached by (options, URL, body digest): live calls fetch the same
        action documents again and again, and a Flow is immutable, so every call may share one."""
        digest = hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        key = (self.options, self.forced, url, digest)
        flow = _DOCUMENTS.get(key)
        if flow is None:
            flow = compile_parsed(parse(body, url, self.options, forced=self.forced), url, call_level=False)
            if len(_DOCUMENTS) >= DOCUMENT_CACHE_SIZE:
                _DOCUMENTS.pop(next(iter(_DOCUMENTS)))  # the oldest entry
            _DOCUMENTS[key] = flow
        return flow

    def bootstrap(self, url: str) -> Flow:
        return bootstrap_flow(url, self.options)


class TwiML(InboundXML):
    """Twilio TwiML voice documents (Twilio's verbs and defaults)."""

    name = "twiml"
    suffixes = (".twiml", ".twiml.xml")
    description = "Twilio TwiML voice documents"
