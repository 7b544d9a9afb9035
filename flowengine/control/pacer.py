"""Campaigns: a contact list called at a pace, inside a time window, with retries, skipping a DND list.

    pacer = CampaignPacer(store, manager, resolve, clock, owner="daemon-a")
    campaign = await pacer.create(CampaignRequest(...), "cmp_1")
    task = spawn(pacer.run())

Theory of operation: `calls_per_minute` = N means one call every 60/N seconds (a steady cadence, never
a burst). The slot and the contacts live in the store (store.claim_contact), so any number of daemons
share one campaign's pace and never call a contact twice. Each call's final status decides the contact:
a status in `retry.on` with attempts left puts it back in line `retry.delay` seconds later; anything
else is final. DND numbers are final (`dnd`) when the campaign is created and never dialled. Outside
the window nothing is dialled; past `end_at` the campaign ends `expired`. A switch that cannot take a
call now (down, at capacity) puts the contact back without counting an attempt.
Numbers are compared for DND by their digits and leading '+' only (spaces, dashes and dots ignored).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from .calls import CallManager, CallSpec, ControlError
from .clock import WallClock, sleep_or_wake
from .flows import FlowRef
from .models import CampaignRequest
from .scheduler import iso, parse_time, zone
from .store import Claim, Store

__all__ = ["CampaignPacer", "Window", "render", "normalise"]

log = logging.getLogger("flowengine.control")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RETRY_STATUSES = {"busy": "busy", "no-answer": "no-answer", "failed": "failed"}
REQUEUE_DELAY = 30.0
"""Seconds before a contact the switch could not take is tried again (no attempt counted)."""


def normalise(number: str) -> str:
    return re.sub(r"[\s().-]", "", number)


def render(value: Any, fields: dict[str, str]) -> Any:
    """`{name}` in strings replaced by the contact's field (unknown names stay as they are)."""
    if isinstance(value, str):
        return re.sub(r"\{([A-Za-z0-9_]+)\}", lambda m: str(fields.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: render(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, fields) for v in value]
    return value


@dataclass(frozen=True)
class Window:
    """When dialling is allowed (see models.Window)."""

    timezone: str
    start_at: float | None
    end_at: float | None
    days: frozenset[int]
    start_minute: int
    end_minute: int

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Window":
        tz = spec.get("timezone") or "UTC"
        hours_from, hours_to = spec.get("from", "00:00"), spec.get("to", "24:00")
        start = parse_time(spec["start_at"], tz) if spec.get("start_at") else None
        end = parse_time(spec["end_at"], tz) if spec.get("end_at") else None
        if start is not None and end is not None and end <= start:
            raise ControlError(422, "invalid_window", "the window's end_at must be after its start_at")
        first, last = _minute(hours_from), _minute(hours_to)
        if last <= first:
            raise ControlError(422, "invalid_window", f"the window's daily hours are empty ({hours_from}-{hours_to})")
        return cls(tz, start, end, frozenset(DAYS.index(d) for d in spec.get("days") or DAYS), first, last)

    def is_open(self, t: float) -> bool:
        if (self.start_at is not None and t < self.start_at) or (self.end_at is not None and t >= self.end_at):
            return False
        local = datetime.fromtimestamp(t, zone(self.timezone))
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start_minute <= minute < self.end_minute

    def next_open(self, t: float) -> float | None:
        """The first moment at or after `t` when the window is open; None when it never is again."""
        if self.end_at is not None and t >= self.end_at:
            return None
        t = max(t, self.start_at or t)
        if self.is_open(t):
            return t
        tz = zone(self.timezone)
        local = datetime.fromtimestamp(t, tz)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            opening = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=self.start_minute)
            at = opening.timestamp()
            if at >= t and day.weekday() in self.days:
                return at if self.end_at is None or at < self.end_at else None
        return None


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class CampaignPacer:
    def __init__(self, store: Store, manager: CallManager, resolve: Callable[[str | None, str | None], FlowRef],
                 clock: WallClock, *, owner: str, poll_interval: float = 1.0, max_contacts: int = 100_000):
        self.store = store
        self.manager = manager
        self.resolve = resolve
        self.clock = clock
        self.owner = owner
        self.poll_interval = poll_interval
        self.max_contacts = max_contacts
        self._wake = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.started: list[tuple[str, float]] = []  # (campaign id, clock time) of every call placed, newest last

    # -- the API side ------------------------------------------------------------------------------------

    async def create(self, body: CampaignRequest, campaign_id: str) -> dict[str, Any]:
        if len(body.contacts) > self.max_contacts:
            raise ControlError(422, "too_many_contacts", f"at most {self.max_contacts} contacts per campaign")
        self.resolve(body.flow, None)
        spec = body.model_dump(by_alias=True, exclude={"contacts", "dnd", "name"})
        Window.from_spec(spec["window"])
        dnd = {normalise(n) for n in body.dnd}
        contacts = [(c.number, c.fields, normalise(c.number) in dnd) for c in body.contacts]
        now = self.clock.time()
        await self.store.add_campaign({"id": campaign_id, "name": body.name, "spec": spec, "status": "running",
                                       "created_at": now}, contacts)
        self._wake.set()
        return await self.describe(campaign_id)

    async def describe(self, campaign_id: str) -> dict[str, Any] | None:
        campaign = await self.store.get_campaign(campaign_id)
        if campaign is None:
            return None
        counts = await self.store.progress(campaign_id)
        total = sum(v for k, v in counts.items() if not k.startswith("result:"))
        results = {k[7:]: v for k, v in counts.items() if k.startswith("result:")}
        spec = campaign["spec"]
        window = Window.from_spec(spec["window"])
        now = self.clock.time()
        return {
            "id": campaign_id, "name": campaign["name"], "status": campaign["status"], "flow": spec["flow"],
            "calls_per_minute": spec["calls_per_minute"], "window": spec["window"], "retry": spec["retry"],
            "window_open": window.is_open(now),
            "next_call_at": iso(max(campaign["next_slot"], window.next_open(now) or now))
            if campaign["status"] == "running" else None,
            "progress": {"total": total, "pending": counts.get("pending", 0), "retrying": counts.get("retry", 0),
                         "dialing": counts.get("dialing", 0), "done": counts.get("done", 0),
                         "dnd": counts.get("dnd", 0), "results": results},
            "created_at": iso(campaign["created_at"]), "updated_at": iso(campaign["updated_at"]),
        }

    async def set_status(self, campaign_id: str, action: str) -> dict[str, Any] | None:
        moves = {"pause": ("paused", ("running",)), "resume": ("running", ("paused",)),
                 "stop": ("stopped", ("running", "paused"))}
        status, allowed = moves[action]
        if await self.store.set_campaign_status(campaign_id, status, allowed, self.clock.time()) is None:
            return None
        self._wake.set()
        return await self.describe(campaign_id)

    # -- the pacer -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            now = self.clock.time()
            wake_at = now + self.poll_interval
            for campaign in await self.store.list_campaigns(("running",)):
                at = await self._tend(campaign, now)
                if at is not None:
                    wake_at = min(wake_at, at)
            await sleep_or_wake(self.clock, max(0.0, wake_at - self.clock.time()), self._wake)

    async def _tend(self, campaign: dict, now: float) -> float | None:
        """Place the calls now due for one campaign; returns when to look at it again."""
        spec = campaign["spec"]
        window = Window.from_spec(spec["window"])
        if not window.is_open(now):
            opening = window.next_open(now)
            if opening is None:
                await self.store.set_campaign_status(campaign["id"], "expired", ("running",), now)
                log.info("campaign %s expired: its window has closed for good", campaign["id"])
            return opening
        interval = 60.0 / spec["calls_per_minute"]
        while True:
            claim: Claim = await self.store.claim_contact(campaign["id"], self.owner, now, interval)
            if claim.kind != "call":
                return claim.at if claim.kind == "wait" else None
            await self._call(campaign, claim.contact, now)

    async def _call(self, campaign: dict, contact: dict, now: float) -> None:
        spec = campaign["spec"]
        fields = {**contact["fields"], "number": contact["number"]}
        call = CallSpec(to=contact["number"], from_=spec.get("from"), variables=render(spec["variables"], fields),
                        timeout=spec["timeout"], callbacks=tuple(u for u in [spec.get("status_callback")] if u),
                        metadata={**spec["metadata"], "campaign_id": campaign["id"], "contact": str(contact["seq"])},
                        backend=spec.get("backend"))
        try:
            handle = await self.manager.place(self.resolve(spec["flow"], None), call,
                                              source=f"campaign:{campaign['id']}")
        except ControlError as exc:
            log.warning("campaign %s: contact %d not placed (%s); again in %g s", campaign["id"], contact["seq"],
                        exc.message, REQUEUE_DELAY)
            await self.store.release_contact(campaign["id"], contact["seq"], now + REQUEUE_DELAY)
            return
        self.started.append((campaign["id"], now))
        await self.store.set_contact_call(campaign["id"], contact["seq"], handle.call_id)
        task = asyncio.get_running_loop().create_task(self._finish(campaign, contact, handle))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _finish(self, campaign: dict, contact: dict, handle: Any) -> None:
        status = await handle.done
        retry = campaign["spec"]["retry"]
        again = None
        if status in RETRY_STATUSES and RETRY_STATUSES[status] in retry["on"] and contact["attempts"] <= retry["max"]:
            again = self.clock.time() + retry["delay"]
        await self.store.finish_contact(campaign["id"], contact["seq"], status, again)
        self._wake.set()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks))
