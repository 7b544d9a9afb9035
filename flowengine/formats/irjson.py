"""The IR's own JSON form as an input format (`*.flow.json`), so the core works before any dialect."""

from __future__ import annotations

import re

from ..ir.codec import decode
from ..ir.model import Flow
from ..structured import load
from . import Format

_LOOKS_LIKE_IR = re.compile(r'^\s*\{[\s\S]*"(states|flowengine)"\s*:')


class IRJson(Format):
    name = "ir"
    suffixes = (".flow.json",)
    description = "flowengine IR as JSON"

    def sniff(self, text: str, filename: str) -> bool:
        return bool(_LOOKS_LIKE_IR.match(text[:4096])) and '"states"' in text

    def compile(self, text: str, filename: str) -> Flow:
        doc = load(text, filename, json_only=True)
        return decode(doc.data, doc)
