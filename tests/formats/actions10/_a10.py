"""Helpers for the ACTIONS10 tests: compile a script from text, run it, look at events."""

from __future__ import annotations

import textwrap

import pytest

from flowengine.errors import FlowError
from flowengine.formats.actions10 import compile_script
from flowengine.testing.runner import simulate

CALLER = {"from": "+33639980042", "to": "+33199001234", "at": "2025-03-31T09:15:00Z"}


def script(text: str):
    return compile_script(textwrap.dedent(text), "t.actions.yaml")


def run(text: str, scenario: dict | None = None):
    scenario = dict(scenario or {})
    scenario["call"] = {**CALLER, **scenario.get("call", {})}
    return simulate(script(text), scenario)


def ops(t) -> list[str]:
    return [e["op"] for e in t.events]


def ev(t, op: str) -> list[dict]:
    return [e for e in t.events if e["op"] == op]


def brief(t, *drop: str) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("t", *drop)} for e in t.events]


def problems(text: str):
    with pytest.raises(FlowError) as info:
        script(text)
    return info.value.diagnostics


def one_problem(text: str):
    found = problems(text)
    assert len(found) == 1, "\n".join(d.render() for d in found)
    return found[0]
