"""ACTIONS10: CALLR "Actions" YAML scripts (branches, `name@vN` actions, `${{ }}` JavaScript) → the IR.

    flow = formats.get("actions10").compile(text, "forwarding.actions.yaml")

The grammar is the research digest's section 4 (docs/actions10.md says what the code does and every
decision taken where CALLR's sources are silent). Modules: `container` (reading the script), `params`
(parameter types), `catalogue` (the action table and its plugin entry point), `actions` (the built-in
actions), `compiler` (structure, control flow, the Flow), `jsonschema` (the editor schema).
"""

from __future__ import annotations

import re
from pathlib import PurePath

from ...ir.model import Flow
from .. import Format
from .catalogue import ACTIONS, ENTRY_POINT_GROUP, Action, register_action
from .compiler import Step, compile_document
from .container import load_script
from .params import Param

__all__ = ["Actions10", "compile_script", "Action", "ACTIONS", "ENTRY_POINT_GROUP", "Param", "Step",
           "register_action"]

_BARE = re.compile(r"(?m)^branches\s*:")
_CONTAINER = re.compile(r'"script"\s*:')
_YAML_FORMAT = re.compile(r'"format"\s*:\s*"yaml"', re.IGNORECASE)


def flow_name(filename: str) -> str:
    name = PurePath(filename.split("#", 1)[0]).name
    for suffix in (".actions10.yaml", ".actions.yaml", ".actions10.json", ".actions.json", ".yaml", ".yml", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "script"
    return name or "script"


def compile_script(text: str, filename: str = "<script>") -> Flow:
    """Compile an ACTIONS10 script (bare YAML or CALLR's {format, script} container) to a Flow."""
    return compile_document(load_script(text, filename), flow_name(filename))


class Actions10(Format):
    name = "actions10"
    suffixes = (".actions.yaml", ".actions10.yaml", ".actions.json", ".actions10.json")
    description = "CALLR Actions YAML (ACTIONS10) with ${{ }} JavaScript expressions"

    def sniff(self, text: str, filename: str) -> bool:
        head = text[:65536]
        return bool(_BARE.search(head)) or (bool(_CONTAINER.search(head)) and bool(_YAML_FORMAT.search(head)))

    def compile(self, text: str, filename: str) -> Flow:
        return compile_script(text, filename)
