"""Identifiers: leg letters and record/message ids. Injected so simulations are repeatable."""

from __future__ import annotations

import string
import uuid


def leg_name(index: int) -> str:
    """The letters of the index-th leg created (from 0): A, B, …, Z, AA, AB, … (bijective base 26)."""
    letters = string.ascii_uppercase
    if index < 26:
        return letters[index]
    return leg_name(index // 26 - 1) + letters[index % 26]


class SequentialIds:
    """Deterministic ids for simulation: rec_001, sms_001, …"""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}_{n:03d}"


class RandomIds:
    """Unique ids for live calls."""

    def next(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex}"


def new_call_id() -> str:
    return str(uuid.uuid4())
