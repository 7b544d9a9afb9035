"""Scheduled callbacks: a call placed at a given time, kept in the store so a restart loses none.

    runner = CallbackRunner(store, manager, resolve, clock, owner="daemon-a")
    record = await runner.create(CallbackRequest(...))    # scheduled; PATCH/DELETE while it waits
    task = spawn(runner.run())                            # claims due callbacks and places them

Rules kept here: a callback is placed by the daemon that claims it (store.claim_callbacks moves it to
`running` atomically), so with several daemons on one store each callback is dialled once. Callbacks
that fell due while no daemon ran are placed late, at the next start. One that was `running` when its
daemon stopped ends `failed` with result `interrupted` and is not dialled again (it may have rung).
The loop sleeps on the injected clock until the next callback is due (at most `poll_interval`, since
another daemon may add one) or until a local create/update wakes it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .calls import CallManager, CallSpec, ControlError
from .clock import WallClock, sleep_or_wake
from .flows import FlowRef
from .models import CallbackPatch, CallbackRequest
from .store import Conflict, Store

__all__ = ["CallbackRunner", "parse_time", "zone"]

log = logging.getLogger("flowengine.control")

TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ControlError(422, "invalid_timezone", f"unknown time zone {name!r} (use an IANA name such as "
                                                    "Europe/Paris or Asia/Kolkata)") from None


def parse_time(text: str, tz_name: str) -> float:
    """Unix seconds of `text`: ISO 8601 with an offset, or a local time in `tz_name`."""
    tz = zone(tz_name)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
        for fmt in TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if moment is None:
            raise ControlError(422, "invalid_time", f"cannot read time {text!r}: use 'YYYY-MM-DD hh:mm:ss' "
                                                    "or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class CallbackRunner:
    def __init__(self, store: Store, manager: CallManager, resolve: Callable[[str | None, str | None], FlowRef],
                 clock: WallClock, *, owner: str, poll_interval: float = 1.0):
        self.store = store
        self.manager = manager
        self.resolve = resolve  # (flow name, url) -> FlowRef, ControlError when unknown
        self.clock = clock
        self.owner = owner
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()

    # -- the API side ------------------------------------------------------------------------------------

    async def create(self, body: CallbackRequest, callback_id: str) -> dict[str, Any]:
        run_at = parse_time(body.at, body.timezone)
        now = self.clock.time()
        if run_at <= now:
            raise ControlError(422, "time_in_past", f"`at` ({iso(run_at)}) must be in the future (now {iso(now)})")
        self.resolve(body.flow, body.url)
        request = body.model_dump(by_alias=True, exclude={"at", "timezone", "flow"})
        await self.store.add_callback({"id": callback_id, "flow": body.flow or "", "request": request,
                                       "run_at": run_at, "timezone": body.timezone, "created_at": now})
        self._wake.set()
        return public(await self.store.get_callback(callback_id))

    async def update(self, callback_id: str, patch: CallbackPatch) -> dict[str, Any] | None:
        current = await self.store.get_callback(callback_id)
        if current is None:
            return None
        changes: dict[str, Any] = {}
        request = dict(current["request"])
        given = patch.model_dump(by_alias=True, exclude_unset=True)
        tz = given.pop("timezone", None) or current["timezone"]
        if "timezone" in patch.model_fields_set:
            changes["timezone"] = tz
        if "at" in given or "timezone" in patch.model_fields_set:
            text = given.pop("at", None)
            run_at = parse_time(text, tz) if text else current["run_at"]
            if run_at <= self.clock.time():
                raise ControlError(422, "time_in_past", f"`at` ({iso(run_at)}) must be in the future")
            changes["run_at"] = run_at
        if "flow" in given:
            self.resolve(given["flow"], None)
            changes["flow"] = given.pop("flow")
            request["url"] = None
        request.update(given)
        changes["request"] = request
        try:
            updated = await self.store.update_callback(callback_id, changes, self.clock.time())
        except Conflict as exc:
            raise ControlError(409, "not_scheduled", f"callback {callback_id} is {exc.status}: only a scheduled "
                                                     "callback can change") from None
        self._wake.set()
        return public(updated)

    async def cancel(self, callback_id: str) -> dict[str, Any] | None:
        try:
            cancelled = await self.store.update_callback(callback_id, {"status": "cancelled"}, self.clock.time())
        except Conflict as exc:
            raise ControlError(409, "not_scheduled", f"callback {callback_id} is {exc.status}: only a scheduled "
                                                     "callback can be cancelled") from None
        return public(cancelled)

    # -- the runner ----------------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            now = self.clock.time()
            for record in await self.store.claim_callbacks(self.owner, now):
                await self._start(record)
            due = await self.store.next_callback_at()
            delay = self.poll_interval if due is None else min(self.poll_interval, max(0.0, due - self.clock.time()))
            await sleep_or_wake(self.clock, delay, self._wake)

    async def _start(self, record: dict) -> None:
        request = record["request"]
        callback_id = record["id"]
        try:
            ref = self.resolve(record["flow"] or None, request.get("url"))
            spec = CallSpec(to=request["to"], from_=request.get("from"), variables=request.get("variables") or {},
                            timeout=request.get("timeout") or 30,
                            callbacks=tuple(u for u in [request.get("status_callback")] if u),
                            metadata={**(request.get("metadata") or {}), "callback_id": callback_id},
                            backend=request.get("backend"), method=request.get("method") or "POST",
                            fallback_url=request.get("fallback_url"))
            handle = await self.manager.place(ref, spec, source=f"callback:{callback_id}")
        except ControlError as exc:
            log.error("callback %s could not be placed: %s", callback_id, exc.message)
            await self.store.finish_callback(callback_id, "failed", exc.code, None, self.clock.time())
            return
        await self.store.set_callback_call(callback_id, handle.call_id)
        log.info("callback %s placed as call %s", callback_id, handle.call_id)
        task = asyncio.get_running_loop().create_task(self._finish(callback_id, handle))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _finish(self, callback_id: str, handle: Any) -> None:
        status = await handle.done
        await self.store.finish_callback(callback_id, "completed" if status == "completed" else "failed", status,
                                         handle.call_id, self.clock.time())

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks))


def public(record: dict | None) -> dict[str, Any] | None:
    """A callback as the API shows it."""
    if record is None:
        return None
    request = record["request"]
    return {"id": record["id"], "status": record["status"], "at": iso(record["run_at"]), "timezone": record["timezone"],
            "flow": record["flow"] or None, "url": request.get("url"), "to": request.get("to"),
            "from": request.get("from"), "variables": request.get("variables") or {},
            "timeout": request.get("timeout"), "metadata": request.get("metadata") or {},
            "call_id": record["call_id"], "result": record["result"], "daemon": record["owner"],
            "created_at": iso(record["created_at"]), "updated_at": iso(record["updated_at"])}
