"""Write a unified IVR document as YAML that loads back to the same data (what `flowengine import` emits).

Rules kept here (spec 2.10): option keys and every string YAML could read as something else (digits,
`on`/`off`/`yes`/`no`, `true`, `null`, numbers) are written quoted; short mappings of scalars are
written inline (`play: {tts: "Hello"}`), the rest as blocks, in the document's own key order.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

_AMBIGUOUS = re.compile(r"^(|~|null|true|false|yes|no|on|off|y|n|[-+]?[0-9][0-9_.:eExXoObB+-]*|[-+]?\.?(inf|nan))$",
                        re.IGNORECASE)
_INLINE_MAX = 100


def _quote(value: str) -> Any:
    needs = _AMBIGUOUS.match(value) or value[:1] in "*&!|>%@`#'\"{[,?-:" or value != value.strip() or "\n" in value
    return DoubleQuotedScalarString(value) if needs else value


def _node(value: Any, key_quote: bool = False) -> Any:
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            out[DoubleQuotedScalarString(key) if key_quote or _AMBIGUOUS.match(key) else _quote(key)] = \
                _node(item, key_quote=(key == "options"))
        if value and all(not isinstance(v, (dict, list)) for v in value.values()) and len(repr(value)) <= _INLINE_MAX:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_node(item) for item in value)
        if value and all(not isinstance(v, (dict, list)) for v in value) and len(repr(value)) <= _INLINE_MAX:
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str):
        return _quote(value)
    return value


def dump_menu(data: dict) -> str:
    """The YAML text of a unified IVR document."""
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(_node(data), stream)
    return stream.getvalue()
