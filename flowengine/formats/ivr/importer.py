"""What the three importers share: building a unified document that remembers its source lines.

An importer's `translate` fills an `Output` (the unified data, plus for each unified path the source
position it came from) and reports source problems in a DiagnosticBag. `Importer.convert` then loads
the result through the same `build` as a `*.ivr.yaml` file, so every later diagnostic (schema,
references, digit_len…) points into the source file, and importing then loading runs identically.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ...diagnostics import DiagnosticBag, did_you_mean
from ...ir.model import Flow
from ...structured import Document
from .. import Format
from . import build
from .menu import Menu

_SLUG = re.compile(r"[^a-z0-9_]+")
ORDER = ("kind", "version", "name", "description", "timezone", "entry", "answer", "sleep_ms", "lifetime_s",
         "on_lifetime", "defaults", "voicemail", "sounds", "intervals", "vars", "report_vars", "contexts")


class Output:
    """The unified document being built, and where each part of it came from."""

    def __init__(self, filename: str, text: str):
        self.filename, self.text = filename, text
        self.data: dict[str, Any] = {"kind": "ivr", "version": 1}
        self.positions: dict[tuple, tuple[int, int]] = {}

    def at(self, path: tuple, position: tuple[int, int] | None) -> None:
        """Unified `path` (and what lies under it) comes from `position` (line, col) of the source."""
        if position is not None:
            self.positions[tuple(path)] = position

    def document(self) -> Document:
        return Document(self.filename, self.text, self.data, dict(self.positions), dict(self.positions))


class Importer(Format):
    """Base of the importers: subclasses set `name`, `suffixes` and implement `translate`."""

    def translate(self, text: str, filename: str, out: Output, bag: DiagnosticBag, **options: Any) -> None:
        raise NotImplementedError

    def convert(self, text: str, filename: str, **options: Any) -> tuple[Menu, Flow]:
        """The unified menu of a source file and its compiled flow (FlowError with diagnostics)."""
        bag = DiagnosticBag()
        out = Output(filename, text)
        self.translate(text, filename, out, bag, **options)
        bag.raise_if_errors()
        out.data = {k: out.data[k] for k in ORDER if k in out.data} | out.data
        menu = Menu(out.data, out.document(), self.name)
        flow = build(menu, bag.items)
        return menu, flow

    def compile(self, text: str, filename: str) -> Flow:
        return self.convert(text, filename)[1]


class Names:
    """Unique unified names (contexts, sounds, intervals) for source names or ids."""

    def __init__(self, prefix: str = "x"):
        self.used: set[str] = set()
        self.prefix = prefix

    def make(self, wanted: Any, fallback: str) -> str:
        slug = _SLUG.sub("_", str(wanted or "").strip().lower()).strip("_")[:60] or fallback
        if not slug[0].isalpha():
            slug = f"{self.prefix}_{slug}"[:60]
        name, n = slug, 2
        while name in self.used:
            name, n = f"{slug}_{n}", n + 1
        self.used.add(name)
        return name


def unknown_fields(bag: DiagnosticBag, doc: Document, data: dict, known: Iterable[str], path: tuple, what: str) -> None:
    """An error, with a suggestion, for each field of `data` that is not in `known`."""
    known = list(known)
    for key in data:
        if key not in known:
            bag.error("E_IMPORT_FIELD", f"unknown {what} field {key!r}{did_you_mean(str(key), known)}",
                      doc.span(path + (key,), key=True))
