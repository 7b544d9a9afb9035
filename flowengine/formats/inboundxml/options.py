"""Per-flow options of the InboundXML/TwiML compiler: the digest's dialect flags (§4.12).

Options come from the format name, sqlglot style (`--dialect "inboundxml, action_on_empty_result=true"`),
or from a processing instruction at the top of a document (`<?flowengine action_on_empty_result="true"?>`).
Documents fetched during the call inherit the options of the document that requested them, because
each `document` op carries the format name with its options (`Options.format_name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from ...diagnostics import did_you_mean
from .types import BOOL, Enum, Invalid, Text, Url

_PAIR = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')\s*""")


@dataclass(frozen=True)
class Options:
    """The dialect flags. Each default is the digest's recommended engine default."""

    dialect: str = "inboundxml"
    """inboundxml (Ytel) or twiml (Twilio); a PI may switch a document to twiml."""
    action_on_empty_result: bool = False
    """D1: a Gather with no input requests its action with empty Digits (TwiML's actionOnEmptyResult)
    instead of falling through to the next verb."""
    record_background: bool = False
    """D4: Record runs in the background unless it says background="false" (Ytel's documented default)."""
    pause_unit: str = "s"
    """D7: unit of Pause length, s (TelAPI, TwiML) or ms (Ytel's page)."""
    account_sid: str = ""
    """AccountSid sent with every request (a call variable AccountSid overrides it)."""
    base_url: str = ""
    """Base for relative URLs in a document that has no URL of its own (a local file)."""
    whisper: bool = False
    """Set on the documents a <Number url> runs on the called party before the bridge (and those they
    lead to): RCML does not allow <Dial> there."""

    def format_name(self) -> str:
        """The format name that reproduces these options (carried by `document` ops)."""
        changed = [f"{f.name}={_text(getattr(self, f.name))}" for f in fields(self)
                   if f.name != "dialect" and getattr(self, f.name) != f.default]
        return ", ".join([self.dialect, *changed])

    def with_text(self, values: dict[str, str]) -> "Options":
        """These options updated from text values; raises Invalid naming the bad one."""
        changes: dict[str, Any] = {}
        for key, raw in values.items():
            name = key.strip().replace("-", "_")
            converter = _CONVERTERS.get(name)
            if converter is None:
                raise Invalid(f"unknown option {key!r}{did_you_mean(name, _CONVERTERS)} "
                              f"(options: {', '.join(_CONVERTERS)})")
            try:
                changes[name] = converter.convert(raw)
            except Invalid as exc:
                raise Invalid(f"option {name}: {exc}") from None
        return replace(self, **changes)


_CONVERTERS = {
    "dialect": Enum(("inboundxml", "twiml")),
    "action_on_empty_result": BOOL,
    "record_background": BOOL,
    "pause_unit": Enum(("s", "ms")),
    "account_sid": Text(),
    "base_url": Url(),
    "whisper": BOOL,
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_pairs(text: str) -> dict[str, str]:
    """`a="1" b='x'` → {"a": "1", "b": "x"}; raises Invalid on anything else."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _PAIR.match(text, pos)
        if match is None:
            if text[pos:].strip():
                raise Invalid(f'expected name="value" pairs, got {text[pos:].strip()[:40]!r}')
            break
        out[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
        pos = match.end()
    return out
