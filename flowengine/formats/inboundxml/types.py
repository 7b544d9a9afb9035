"""Attribute value types of InboundXML/TwiML: convert the author's text, as the platforms read it.

Rules kept here:
  * Every type converts a raw attribute string to a Python value or raises `Invalid` with a message
    that says what was expected. Booleans, methods and enumerations are read in any case (D9, D12).
  * `canonical(value)` is the one spelling written back into the tree before XSD validation, and
    `xsd()` is the XSD simple type for it, so the generated schema (xsd.py) cannot drift from the
    converters the compiler uses. A value `convert` accepts, written with `canonical`, always satisfies
    `xsd()`: the parser relies on that when it skips the XSD for a document it has checked itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ...diagnostics import did_you_mean


_SPACE = re.compile(r"\s")
_INTEGER = re.compile(r"[+-]?[0-9]+")


class Invalid(ValueError):
    """An attribute value the dialect does not accept (the message says what it expects)."""


class AttrType:
    """A value type: `convert` reads the text, `canonical` writes it back, `xsd` describes it."""

    def convert(self, raw: str) -> Any:
        raise NotImplementedError

    def canonical(self, value: Any) -> str:
        return str(value)

    def xsd(self) -> str:
        """An XSD type reference (`bool`, `xs:string`) or an inline `<xs:simpleType>`."""
        return "xs:string"


class Bool(AttrType):
    """true/false/1/0 in any case (the Zang XSD lists True, TRUE, 1, …)."""

    def convert(self, raw: str) -> bool:
        text = raw.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise Invalid(f"expected true or false, got {raw!r}")

    def canonical(self, value: Any) -> str:
        return "true" if value else "false"

    def xsd(self) -> str:
        return "bool"


class Method(AttrType):
    """GET or POST in any case (the seed has method='Post')."""

    def convert(self, raw: str) -> str:
        text = raw.strip().upper()
        if text in ("GET", "POST"):
            return text
        raise Invalid(f"expected GET or POST, got {raw!r}")

    def xsd(self) -> str:
        return "method"


@dataclass(frozen=True)
class Int(AttrType):
    lo: int
    hi: int
    unit: str = ""

    def convert(self, raw: str) -> int:
        text = raw.strip()
        if not _INTEGER.fullmatch(text):
            raise Invalid(f"expected a whole number{self._range()}, got {raw!r}")
        value = int(text)
        if not self.lo <= value <= self.hi:
            raise Invalid(f"{value} is out of range{self._range()}")
        return value

    def _range(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f" ({self.lo}..{self.hi}{unit})"

    def xsd(self) -> str:
        return (f'<xs:simpleType><xs:restriction base="xs:integer"><xs:minInclusive value="{self.lo}"/>'
                f'<xs:maxInclusive value="{self.hi}"/></xs:restriction></xs:simpleType>')


@dataclass(frozen=True)
class Enum(AttrType):
    """One of `values`, in any case; the canonical spelling is the one listed."""

    values: tuple[str, ...]

    @cached_property
    def _by_lower(self) -> dict[str, str]:
        """Lower-case spelling → the listed one (the first listed, when two differ only in case)."""
        out: dict[str, str] = {}
        for value in self.values:
            out.setdefault(value.lower(), value)
        return out

    def convert(self, raw: str) -> str:
        text = raw.strip().lower()
        value = self._by_lower.get(text)
        if value is not None:
            return value
        if len(self.values) > 8:
            raise Invalid(f"{raw!r} is not one of the {len(self.values)} known values"
                          f"{did_you_mean(text, self.values)}")
        listed = ", ".join(repr(v) for v in self.values)
        raise Invalid(f"expected one of {listed}, got {raw!r}{did_you_mean(text, self.values)}")

    def xsd(self) -> str:
        joiner = "\n        " if len(self.values) > 8 else ""
        items = joiner + joiner.join(f'<xs:enumeration value="{v}"/>' for v in self.values)
        return f'<xs:simpleType><xs:restriction base="xs:string">{items}</xs:restriction></xs:simpleType>'


@dataclass(frozen=True)
class Pattern(AttrType):
    """Text that fully matches a regular expression (also written into the XSD)."""

    regex: str
    expected: str
    strip: bool = True

    @cached_property
    def _compiled(self) -> re.Pattern:
        return re.compile(self.regex)

    def convert(self, raw: str) -> str:
        text = raw.strip() if self.strip else raw
        if not self._compiled.fullmatch(text):
            raise Invalid(f"expected {self.expected}, got {raw!r}")
        return text

    def xsd(self) -> str:
        # XSD patterns are implicitly anchored and know no \s shorthand differences we rely on.
        return (f'<xs:simpleType><xs:restriction base="xs:string"><xs:pattern value="{_xml_attr(self.regex)}"/>'
                f'</xs:restriction></xs:simpleType>')


class Text(AttrType):
    """Free text (names, hints)."""

    def convert(self, raw: str) -> str:
        return raw.strip()


class Url(AttrType):
    """A URL: absolute http(s), or relative to the document's URL (resolved by the compiler)."""

    def convert(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            raise Invalid("expected a URL, got an empty value")
        if _SPACE.search(text):
            raise Invalid(f"a URL cannot contain spaces: {raw!r}")
        return text

    def xsd(self) -> str:
        return "url"


@dataclass(frozen=True)
class Keys(AttrType):
    """DTMF keys (0-9 * #), e.g. finishOnKey. `empty` also allows "" (no key); `disable` a -1."""

    max_len: int = 12
    empty: bool = True
    disable: bool = False

    @cached_property
    def _compiled(self) -> re.Pattern:
        return re.compile(r"[0-9*#]{1,%d}" % self.max_len)

    def convert(self, raw: str) -> str:
        text = raw.strip()
        if self.disable and text == "-1":
            return ""
        if (text or not self.empty) and not self._compiled.fullmatch(text):
            keys = "a key" if self.max_len == 1 else "keys"
            raise Invalid(f"expected {keys} from 0-9, * and #{' (or empty)' if self.empty else ''}, got {raw!r}")
        return text

    def xsd(self) -> str:
        alternatives = ["[0-9*#]{%s}" % ("1" if self.max_len == 1 else f"1,{self.max_len}")]
        if self.empty:
            alternatives.append("")
        if self.disable:
            alternatives.append("-1")
        return (f'<xs:simpleType><xs:restriction base="xs:string"><xs:pattern value="{"|".join(alternatives)}"/>'
                f'</xs:restriction></xs:simpleType>')


class Unsupported(AttrType):
    """A real attribute of the dialect that flowengine cannot run: any use is an E_UNSUPPORTED error."""

    def __init__(self, why: str):
        self.why = why

    def convert(self, raw: str) -> Any:
        raise Invalid(self.why)


def _xml_attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


# -- the shared instances --------------------------------------------------------------------------

BOOL = Bool()
METHOD = Method()
URL = Url()
TEXT = Text()
KEY = Keys(max_len=1, empty=False)
FINISH_KEYS = Keys()
DTMF_SEND = Pattern(r"[0-9*#A-Da-dwW]{1,64}", "DTMF keys and w/W pauses (e.g. ww1234#)")
LANGUAGE = Pattern(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}", "a language tag such as en, en-gb or en-US")
PHONE_ID = Pattern(r"\+?[0-9]{2,20}|anonymous", "a phone number such as +15551230000")
FORMAT = Enum(("mp3", "wav"))
DIRECTION = Enum(("in", "out", "both", "inlow", ""))
IF_MACHINE = Enum(("continue", "hangup", "redirect"))
REASON = Enum(("rejected", "busy"))
