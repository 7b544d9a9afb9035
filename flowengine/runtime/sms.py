"""Sending SMS from a flow: a one-method interface; providers are configured by the daemon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SmsResult:
    ok: bool
    sid: str = ""
    status: str = "sent"  # sent | failed


class SmsSender(Protocol):
    async def send(self, to: list[str], from_: str | None, body: str, *, media: tuple[str, ...] = ()) -> SmsResult:
        """Send one message; `media` (picture message URLs) is passed only when the flow gives some."""
        ...


class NoSmsProvider:
    """The default when nothing is configured: every message fails, visibly."""

    async def send(self, to: list[str], from_: str | None, body: str, *, media: tuple[str, ...] = ()) -> SmsResult:
        return SmsResult(False, "", "failed")
