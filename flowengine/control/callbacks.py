"""Status callbacks: what an API-started call reports (started, answered, completed), signed.

The body carries the fields of Ytel's `call_completion` webhook (seed 001, research inboundxml.md
§4.10), with our call id as `callSid` and `event` saying which moment it is:

    {"event": "call.completed", "callSid": "…", "apiVersion": "v1", "callType": "call",
     "direction": "outbound-api", "callerNumber": "+1…", "calledNumber": "+1…", "status": "completed",
     "createdTime": "Nov 10, 2022, 12:07:43 AM", "startTime": …, "endTime": …, "duration": 8,
     "hangupBy": "caller", "fromCountry": "US", "fromCountryCode": 1, "toCountry": …, "billCountry": …,
     "serverIp": "", "metadata": {…}}

Rules kept here: every request carries `X-Flowengine-Signature: t=<unix time>,v1=<hex>`, the
HMAC-SHA256 of `<t>.<body>` with the configured secret (a receiver checks it and the age of t);
delivery goes through the daemon's HTTP client (timeouts, SSRF guard), is retried with backoff on no
answer or a 5xx, runs in tracked tasks, and never delays the call. The secret is never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone
from typing import Any

from ..runtime.http import HttpClient, HttpRequest
from .clock import WallClock

__all__ = ["Notifier", "sign", "verify", "payload", "time_text", "SIGNATURE_HEADER"]

log = logging.getLogger("flowengine.control")

SIGNATURE_HEADER = "X-Flowengine-Signature"
API_VERSION = "v1"


def sign(secret: str, body: bytes, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(secret: str, body: bytes, header: str, now: float, tolerance: float = 300.0) -> bool:
    """What a receiver does: the signature matches and was made within `tolerance` seconds."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, body, at).split("v1=", 1)[1]
    return abs(now - at) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def time_text(epoch: float | None) -> str:
    """The seed's date format ("Nov 10, 2022, 12:07:43 AM", UTC); "" when unknown."""
    if epoch is None:
        return ""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {moment:%p}"


def _country(number: str | None) -> tuple[str, int | None]:
    if not number or not number.startswith("+"):
        return "", None
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "", None
    region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(parsed.country_code)
    return ("" if region == "ZZ" else region), parsed.country_code


def payload(event: str, call: dict[str, Any]) -> dict[str, Any]:
    """The callback body for `event` from a call's snapshot (CallHandle.snapshot())."""
    from_country, from_code = _country(call.get("from"))
    to_country, to_code = _country(call.get("to"))
    body: dict[str, Any] = {
        "event": event, "callSid": call["call_id"], "apiVersion": API_VERSION, "billCountry": to_country,
        "callType": "call", "calledNumber": call.get("to") or "", "callerNumber": call.get("from") or "",
        "createdTime": time_text(call.get("created_at")), "direction": call.get("direction", "outbound-api"),
        "fromCountry": from_country, "fromCountryCode": from_code, "serverIp": call.get("server_ip", ""),
        "startTime": time_text(call.get("answered_at") or call.get("created_at")), "status": call["status"],
        "toCountry": to_country, "toCountryCode": to_code, "flow": call.get("flow"),
        "metadata": dict(call.get("metadata") or {}),
    }
    if event == "call.completed":
        answered, ended = call.get("answered_at"), call.get("ended_at")
        body.update(duration=round(ended - answered) if answered and ended else 0, endTime=time_text(ended),
                    hangupBy=call.get("hangup_by") or "")
    return body


class Notifier:
    """Sends signed status callbacks in the background (see the module docstring)."""

    def __init__(self, http: HttpClient, secret: str, clock: WallClock, *, attempts: int = 3,
                 backoff: float = 1.0, timeout: float = 10.0):
        self.http = http
        self._secret = secret
        self.clock = clock
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.tasks: set[asyncio.Task] = set()

    @property
    def enabled(self) -> bool:
        return bool(self._secret)

    def send(self, urls: list[str], event: str, call: dict[str, Any]) -> None:
        if not urls or not self._secret:
            return
        body = json.dumps(payload(event, call), separators=(",", ":")).encode()
        for url in urls:
            task = asyncio.get_running_loop().create_task(self._deliver(url, event, body), name=f"callback-{event}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, url: str, event: str, body: bytes) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            headers = {"Content-Type": "application/json", "X-Flowengine-Event": event,
                       SIGNATURE_HEADER: sign(self._secret, body, int(self.clock.time()))}
            response = await self.http.send(HttpRequest("POST", url, None, body.decode(), headers, self.timeout))
            if 200 <= response.status < 500 and response.status != 429:
                if not response.ok:
                    log.warning("status callback %s to %s refused: HTTP %d", event, url, response.status)
                return
            log.warning("status callback %s to %s failed (attempt %d/%d): %s", event, url, attempt, self.attempts,
                        response.error or f"HTTP {response.status}")
            if attempt < self.attempts:
                await self.clock.sleep(delay)
                delay *= 2

    async def close(self, timeout: float = 5.0) -> None:
        """Let callbacks in flight finish (up to `timeout`), then cancel the rest."""
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
