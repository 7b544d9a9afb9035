"""Shared test helpers: build IR flows tersely and simulate them."""

from __future__ import annotations

from typing import Any

from flowengine.ir import decode
from flowengine.ir.model import Flow
from flowengine.testing.runner import simulate


def make_flow(states: dict[str, Any], entry: Any = None, **top: Any) -> Flow:
    """A Flow from a dict of states (IR JSON form); entry defaults to the first state."""
    data = {"entry": entry or next(iter(states)), "states": states, **top}
    return decode(data)


def run(states: dict[str, Any], scenario: dict | None = None, entry: Any = None, **top: Any):
    return simulate(make_flow(states, entry, **top), scenario or {})


def ops(transcript) -> list[str]:
    return [e["op"] for e in transcript.events]


def strip(events: list[dict], *drop: str) -> list[dict]:
    """Events without the given keys (e.g. "t") for compact comparisons."""
    return [{k: v for k, v in e.items() if k not in drop} for e in events]

