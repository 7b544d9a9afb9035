"""Helpers for the IVR tests: compile a menu from YAML text, run it, look at its events briefly."""

from __future__ import annotations

import textwrap

import pytest

from flowengine.errors import FlowError
from flowengine.formats.ivr import build, load_menu
from flowengine.testing.runner import simulate

HEAD = "kind: ivr\nversion: 1\n"


def menu(text: str, filename: str = "t.ivr.yaml"):
    """The compiled flow of an IVR document. `kind: ivr` and `version: 1` are added as lines 1-2 when
    missing, so the document's first line is line 3 in diagnostics."""
    text = textwrap.dedent(text).lstrip("\n")
    if "kind:" not in text:
        text = HEAD + text
    return build(load_menu(text, filename))


def run(text: str, scenario: dict | None = None):
    return simulate(menu(text), scenario or {})


def problems(text: str, filename: str = "t.ivr.yaml") -> list:
    """The diagnostics that make a document invalid (fails the test when it compiles)."""
    with pytest.raises(FlowError) as info:
        menu(text, filename)
    return info.value.diagnostics


def rendered(text: str) -> list[str]:
    return [d.render() for d in problems(text)]


def _main(e: dict) -> str:
    op = e["op"]
    if op == "say":
        return e["text"] + (" (interrupted)" if e.get("interrupted") else "")
    if op == "play":
        return e["url"] + (" (interrupted)" if e.get("interrupted") else "")
    if op == "collect":
        return f"{e['digits']!r} {e['reason']}"
    if op == "dial":
        return f"{','.join(e['targets'])} {e['status']}"
    if op == "queue":
        return f"{e['name']} {e['status']}"
    if op == "set":
        return f"{e['name']}={e['value']}"
    if op == "hangup":
        return f"{e['by']}" + (f" {e['cause']}" if "cause" in e else "")
    if op == "silence":
        return f"{e['seconds']:g}"
    if op in ("say_digits", "send_dtmf"):
        return e["digits"]
    if op == "http":
        return f"{e['method']} {e['url']} {e['status']}"
    if op == "log":
        return e["message"]
    if op == "end":
        return e["reason"]
    return ""


def brief(t) -> list[str]:
    """One short line per event: `say Welcome`, `collect '1' max_digits`, `dial +1555 answered`…"""
    return [f"{e['op']} {_main(e)}".rstrip() for e in t.events]


def ev(t, op: str) -> list[dict]:
    return [e for e in t.events if e["op"] == op]


def at(t, op: str) -> list[float]:
    return [e["t"] for e in t.events if e["op"] == op]
