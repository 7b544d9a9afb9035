"""IVR menus (`kind: ivr`, `*.ivr.yaml`): the unified menu format and its importers.

    kind: ivr
    version: 1
    entry: main
    contexts:
      main:
        options:
          start: [{play: {tts: "Press 1 for sales"}}]
          "1":   [{transfer: {to: ["+15551112222"]}}]

Loading is strict (spec 2.10): YAML 1.2 through flowengine/structured.py (duplicate keys are errors),
an unquoted numeric key is an error that says to quote it, then `schemas/ivr.schema.json`, then the
checks of check.py, then compiler.py. The importers (pbx.py, ytel.py, freeswitch.py) build the same
document from their sources, with positions pointing into those sources, and go through `build`: a
menu imported then loaded runs exactly like its source.
"""

from __future__ import annotations

import re
from typing import Any

from ...diagnostics import Diagnostic, DiagnosticBag
from ...ir.model import Flow
from ...schema import validate
from ...structured import Document, load
from .. import Format
from .compiler import analyse, compile_menu, settings_of
from .check import check_menu
from .menu import OPTION_KEY, SPECIAL, Menu, all_steps
from .text import USER_VAR

__all__ = ["IvrFormat", "Menu", "build", "load_menu", "check_keys"]

_KIND = re.compile(r"^kind:\s*['\"]?ivr['\"]?\s*(#.*)?$", re.M)
CONTEXT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
OPTION = re.compile(rf"^({OPTION_KEY.pattern[1:-1]}|{'|'.join(SPECIAL)})$")


class IvrFormat(Format):
    name = "ivr"
    suffixes = (".ivr.yaml", ".ivr.yml")
    description = "unified IVR menus (contexts, options, steps)"

    def sniff(self, text: str, filename: str) -> bool:
        return bool(_KIND.search(text[:4096]))

    def compile(self, text: str, filename: str) -> Flow:
        return build(load_menu(text, filename))

    def compile_document(self, body: str, url: str, content_type: str = "", parent: Flow | None = None,
                         origin: str | None = None) -> Flow:
        """A webhook's JSON answer (spec 2.5), compiled against the running IVR flow."""
        from .webhook import compile_answer

        return compile_answer(body, url, parent, origin)


def load_menu(text: str, filename: str, dialect: str = "ivr") -> Menu:
    """Parse YAML 1.2 (or JSON) into a Menu; FlowError for syntax errors."""
    doc = load(text, filename)
    return Menu(doc.data, doc, dialect)


def check_keys(data: Any, doc: Document, bag: DiagnosticBag, path: tuple = ()) -> Any:
    """Mapping keys must be strings: YAML reads `1:` as a number and `010:` as 10 (spec 2.10). Each
    such key is reported with a hint to quote it, and kept as text so checking can go on."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            kpath = path + (key,)
            if not isinstance(key, str):
                written = _written(doc, kpath) or str(key)
                where = "option key" if len(path) >= 3 and path[-1] == "options" and path[-3] == "contexts" else "key"
                bag.error("E_IVR_KEY", f"{where} {written} must be a quoted string: write \"{written}\"",
                          doc.span(kpath, key=True),
                          hint=f"unquoted, YAML reads it as the {type(key).__name__} {json_repr(key)}")
                text_key = written
                if kpath in doc.key_positions:
                    doc.key_positions[path + (text_key,)] = doc.key_positions[kpath]
                    doc.positions[path + (text_key,)] = doc.positions.get(kpath, doc.key_positions[kpath])
                key = text_key
            out[key] = check_keys(value, doc, bag, kpath)
        return out
    if isinstance(data, list):
        return [check_keys(item, doc, bag, path + (i,)) for i, item in enumerate(data)]
    return data


def json_repr(value: Any) -> str:
    return "true" if value is True else "false" if value is False else "null" if value is None else str(value)


def _written(doc: Document, path: tuple) -> str | None:
    """The key as the author wrote it (e.g. `010`), read back from the source text."""
    position = doc.key_positions.get(path)
    if position is None:
        return None
    line, col = position
    lines = doc.text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    token = re.match(r"[^:\s]+", lines[line - 1][col - 1:])
    return token.group(0) if token else None


def _check_names(data: dict, doc: Document, bag: DiagnosticBag) -> None:
    """Names used as mapping keys (contexts, option keys, variables), reported at the key with a
    clearer message than the schema's, then left out so the schema does not report them again."""

    def bad(mapping: Any, path: tuple, pattern: re.Pattern, code: str, what: str) -> None:
        if not isinstance(mapping, dict):
            return
        for key in [k for k in mapping if not pattern.match(k)]:
            bag.error(code, f"{what} {key!r}", doc.span(path + (key,), key=True))
            del mapping[key]

    bad(data.get("contexts"), ("contexts",), CONTEXT_NAME, "E_IVR_NAME",
        "a context name is a lower-case letter then letters, digits or _, not")
    bad(data.get("vars"), ("vars",), USER_VAR, "E_IVR_VAR", "a variable name is lower case letters, digits and _, not")
    for name, ctx in (data.get("contexts") or {}).items():
        if isinstance(ctx, dict):
            bad(ctx.get("options"), ("contexts", name, "options"), OPTION, "E_IVR_OPTION",
                "an option key is digits (0-9 * #, quoted) or start, timeout, invalid, exhausted, not")
    for step, path in all_steps(data):
        if isinstance(step.get("set_var"), dict) and step["set_var"]:
            bad(step["set_var"], path + ("set_var",), USER_VAR, "E_IVR_VAR",
                "a variable name is lower case letters, digits and _, not")
            step["set_var"] = step["set_var"] or {"_": ""}  # reported: keep the schema from adding "empty"


def build(menu: Menu, diagnostics: list[Diagnostic] | None = None) -> Flow:
    """Check and compile a menu; FlowError with every problem found (warnings go to `flow.meta`)."""
    bag = DiagnosticBag()
    bag.items.extend(diagnostics or [])
    doc = menu.doc
    if not isinstance(menu.data, dict):
        bag.error("E_IVR_SHAPE", "an IVR document is a mapping with kind: ivr, version: 1, entry and contexts",
                  doc.span(()))
        bag.raise_if_errors()
    if menu.data.get("kind") == "outbound":
        bag.error("E_IVR_KIND", "kind: outbound (originated calls) is not supported yet; this format loads kind: ivr",
                  doc.span(("kind",)))
        bag.raise_if_errors()
    menu.data = check_keys(menu.data, doc, bag)
    _check_names(menu.data, doc, bag)
    for diag in validate("ivr.schema.json", menu.data, doc, "E_IVR_SCHEMA"):
        bag.add(diag)
    bag.raise_if_errors()
    contexts = settings_of(menu, analyse(menu))["contexts"]
    check_menu(menu, bag, contexts)
    bag.raise_if_errors()
    menu.warnings = [d for d in bag.items if not d.is_error]
    flow = compile_menu(menu, bag)
    bag.raise_if_errors()
    assert flow is not None
    return flow
