"""API-started calls: place them, follow them, control them while they run.

    manager = CallManager(daemon, catalog, notifier, store, clock, backends, daemon_id="a")
    handle = await manager.place(catalog.get("otp"), CallSpec(to="+15551230001", variables={"otp": "1987"}))
    await handle.done                                     # "completed", "busy", "no-answer", …

Theory of operation:
  * A call runs through the daemon like any other (`Daemon.run_call`: admission, metrics, records, one
    tracked task), on an `ApiCall`: the listener's IncomingCall wrapped so this module sees the run start
    (or be refused), its channel, and its end.
  * `ObservedChannel` wraps the switch's Channel: the first leg's dial result gives the call status
    (ringing → in-progress, or busy/no-answer/failed/canceled), and queued play/dtmf requests are carried
    out on leg A just before the flow's next primitive (Asterisk's AGI runs one command at a time, so
    audio cannot be mixed into a command already running; during a dial, bridge, queue or conference
    they are refused).
  * Hang-up asks the switch (AMI Hangup) and falls back to cancelling the run. Redirect sends the live
    channel back to this daemon under a token (backends.py); the old run is held where it stands,
    cancelled once the new connection arrives, and the new flow runs on it under the same call id.
  * Status callbacks go out at start, answer and end (callbacks.py); the call's row in the shared store
    lets every daemon list it (`GET /v1/calls`).
Rules kept here: every task is tracked (`Daemon.spawn` or `self.tasks`); CancelledError is never
swallowed; a switch that is down gives a ControlError for this request only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from ..daemon.registry import FlowEntry
from ..errors import ChannelError
from ..ir.model import Flow
from ..runtime.channel import HANGUP, OK, Prompt, Result
from ..runtime.ids import new_call_id
from .backends import Backend
from .callbacks import Notifier
from .clock import WallClock
from .flows import FlowCatalog, FlowRef
from .store import Store

__all__ = ["CallManager", "CallHandle", "CallSpec", "ControlError", "Injection"]

log = logging.getLogger("flowengine.control")

FIRST_LEG_STATUS = {"answered": "in-progress", "busy": "busy", "no-answer": "no-answer", "failed": "failed",
                    "canceled": "canceled"}
NO_INJECTION = frozenset({"dial", "bridge", "queue", "conference"})
"""Primitives during which leg A takes no injected audio or tones (it is connected elsewhere)."""
KEEP_FINISHED = 1000


class ControlError(Exception):
    """A request that cannot be carried out: HTTP `status`, a stable `code`, a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


@dataclass(frozen=True)
class CallSpec:
    to: str
    from_: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    timeout: int = 30
    callbacks: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    backend: str | None = None
    method: str = "POST"
    fallback_url: str | None = None


@dataclass(frozen=True)
class Injection:
    kind: str  # play | dtmf
    prompt: Prompt | None = None
    digits: str = ""


class CallHandle:
    """One API-started call across its runs (a redirect starts a second run under the same id)."""

    def __init__(self, call_id: str, ref: FlowRef, spec: CallSpec, backend: Backend, source: str, now: float):
        self.call_id = call_id
        self.flow = ref.name
        self.spec = spec
        self.backend = backend
        self.source = source
        self.created_at = now
        self.status = "queued"
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.hangup_by: str | None = None
        self.current: str | None = None  # the primitive running on the switch now
        self.pending: list[Injection] = []
        self.incoming: ApiCall | None = None
        self.task: asyncio.Task | None = None
        self.redirecting = False
        self.runs = 0
        loop = asyncio.get_running_loop()
        self.admitted: asyncio.Future[bool] = loop.create_future()
        self.done: asyncio.Future[str] = loop.create_future()

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def snapshot(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "flow": self.flow, "source": self.source, "backend": self.backend.name,
                "status": self.status, "to": self.spec.to, "from": self.spec.from_, "created_at": self.created_at,
                "answered_at": self.answered_at, "ended_at": self.ended_at, "hangup_by": self.hangup_by,
                "metadata": dict(self.spec.metadata), "direction": "outbound-api"}


class ApiCall:
    """The listener's IncomingCall for one run of an API-started call (see the module docstring)."""

    def __init__(self, inner: Any, handle: CallHandle, manager: "CallManager", extra: dict[str, Any]):
        self.inner = inner
        self.handle = handle
        self.manager = manager
        self.extra = extra
        self.backend = inner.backend
        self.attributes = inner.attributes

    def call_info(self, *, call_id: str, at: Any, trigger: str, variables: dict[str, Any]):
        info = self.inner.call_info(call_id=call_id, at=at, trigger=trigger, variables=variables)
        info.to, info.from_ = self.handle.spec.to, self.handle.spec.from_ or "anonymous"
        info.extra.update(self.extra)
        self.manager._admitted(self.handle, self)
        return info

    def channel(self, route: Any, clock: Any) -> "ObservedChannel":
        return ObservedChannel(self.inner.channel(route, clock), self.handle, self.manager)

    async def refuse(self, cause: int) -> None:
        self.manager._refused(self.handle, cause)
        await self.inner.refuse(cause)

    async def close(self) -> None:
        await self.inner.close()
        self.manager._run_ended(self.handle, self)

    @property
    def failure(self) -> str | None:
        return self.inner.failure


class ObservedChannel:
    """A Channel that reports the first leg's fate and carries out queued play/dtmf requests."""

    def __init__(self, inner: Any, handle: CallHandle, manager: "CallManager"):
        self.inner = inner
        self.handle = handle
        self.manager = manager

    async def _do(self, name: str, leg: str | None, operation: Callable[[], Any]) -> Any:
        if self.handle.pending and leg == "A" and name not in NO_INJECTION:
            await self._inject()
        self.handle.current = name
        try:
            result = await operation()
        finally:
            self.handle.current = None
        if self.handle.redirecting:
            await self.manager._held(self.handle)
        if result.outcome == HANGUP and (result.hangup_leg or leg) == "A" and self.handle.hangup_by is None:
            self.handle.hangup_by = "caller"
        return result

    async def _inject(self) -> None:
        while self.handle.pending:
            injection = self.handle.pending.pop(0)
            self.handle.current = f"api-{injection.kind}"
            if injection.kind == "play":
                result = await self.inner.play("A", injection.prompt)
            else:
                result = await self.inner.send_dtmf("A", injection.digits)
            if result.outcome != OK:
                self.handle.pending.clear()
                return

    async def answer(self, leg: str) -> Result:
        return await self._do("answer", leg, lambda: self.inner.answer(leg))

    async def ringing(self, leg: str) -> Result:
        return await self._do("ringing", leg, lambda: self.inner.ringing(leg))

    async def reject(self, leg: str, reason: str) -> Result:
        return await self._do("reject", None, lambda: self.inner.reject(leg, reason))

    async def hangup(self, leg: str, cause: Any = None) -> Result:
        if leg == "A" and self.handle.hangup_by is None:
            self.handle.hangup_by = "flow"
        return await self.inner.hangup(leg, cause)

    async def play(self, leg: str, prompt: Prompt) -> Result:
        return await self._do("play", leg, lambda: self.inner.play(leg, prompt))

    async def send_dtmf(self, leg: str, digits: str) -> Result:
        return await self._do("send_dtmf", leg, lambda: self.inner.send_dtmf(leg, digits))

    async def collect(self, leg: str, request: Any) -> Any:
        return await self._do("collect", leg, lambda: self.inner.collect(leg, request))

    async def speech(self, leg: str, request: Any) -> Any:
        return await self._do("speech", leg, lambda: self.inner.speech(leg, request))

    async def record(self, leg: str, request: Any) -> Any:
        return await self._do("record", leg, lambda: self.inner.record(leg, request))

    async def record_start(self, leg: str, legs: str, **options: Any) -> Any:
        return await self._do("record_start", leg, lambda: self.inner.record_start(leg, legs, **options))

    async def record_stop(self, leg: str) -> Result:
        return await self._do("record_stop", leg, lambda: self.inner.record_stop(leg))

    async def dial(self, leg: str | None, new_leg: str, request: Any) -> Any:
        if leg is None:
            self.manager._ringing(self.handle)
        result = await self._do("dial", leg, lambda: self.inner.dial(leg, new_leg, request))
        if leg is None:
            self.manager._first_leg(self.handle, result.status if result.outcome == OK else "canceled")
        return result

    async def bridge(self, leg: str, peer: str, time_limit: float | None = None) -> Any:
        return await self._do("bridge", leg, lambda: self.inner.bridge(leg, peer, time_limit))

    async def queue(self, leg: str, request: Any) -> Any:
        return await self._do("queue", leg, lambda: self.inner.queue(leg, request))

    async def conference(self, leg: str, request: Any) -> Any:
        return await self._do("conference", leg, lambda: self.inner.conference(leg, request))


class CallManager:
    """See the module docstring."""

    def __init__(self, daemon: Any, catalog: FlowCatalog, notifier: Notifier, store: Store, clock: WallClock,
                 backends: list[Backend], *, daemon_id: str, callback_urls: tuple[str, ...] = (),
                 redirect_timeout: float = 10.0, ids: Callable[[], str] = new_call_id):
        self.daemon = daemon
        self.catalog = catalog
        self.notifier = notifier
        self.store = store
        self.clock = clock
        self.backends = backends
        self.daemon_id = daemon_id
        self.callback_urls = callback_urls
        self.redirect_timeout = redirect_timeout
        self.new_id = ids
        self.handles: dict[str, CallHandle] = {}
        self.finished: OrderedDict[str, CallHandle] = OrderedDict()
        self.tasks: set[asyncio.Task] = set()

    # -- placing calls ---------------------------------------------------------------------------------

    def backend(self, name: str | None) -> Backend:
        for backend in self.backends:
            if name is None or backend.name == name:
                return backend
        known = ", ".join(b.name for b in self.backends) or "none configured"
        raise ControlError(422 if name else 503, "no_backend",
                           f"no switch can place calls{f' named {name!r}' if name else ''} (available: {known})")

    async def place(self, ref: FlowRef, spec: CallSpec, *, source: str = "api") -> CallHandle:
        """Start the call (ControlError when it cannot start now); returns once the daemon admitted it."""
        _check_variables(ref.flow, spec.variables)  # a bad request is 4xx whatever the switch's state
        if self.daemon.draining:
            raise ControlError(503, "draining", "the daemon is shutting down", {"Retry-After": "5"})
        backend = self.backend(spec.backend)
        reason = backend.unavailable()
        if reason:
            raise ControlError(503, "switch_unavailable", reason, {"Retry-After": "5"})
        entry = self.catalog.for_api(ref)
        handle = CallHandle(self.new_id(), ref, spec, backend, source, self.clock.time())
        inner = backend.listener.api_call(to=spec.to, from_=spec.from_ or "")
        self._run(handle, ApiCall(inner, handle, self, self._extra(spec)), ref, entry, "api", spec.variables)
        if not await handle.admitted:
            raise ControlError(503, "over_capacity", "the daemon is at its call limit; try again shortly",
                               {"Retry-After": "1"})
        return handle

    def _extra(self, spec: CallSpec) -> dict[str, Any]:
        extra: dict[str, Any] = {"timeout": spec.timeout, "caller_id": spec.from_, "metadata": dict(spec.metadata),
                                 "method": spec.method}
        if spec.fallback_url:
            extra["fallback_url"] = spec.fallback_url
        return extra

    def _run(self, handle: CallHandle, call: ApiCall, ref: FlowRef, entry: FlowEntry, trigger: str,
             variables: dict[str, Any]) -> None:
        self.handles[handle.call_id] = handle
        handle.incoming = call
        handle.runs += 1
        handle.task = self.daemon.spawn(
            self.daemon.run_call(call, trigger=trigger, route=ref.route(entry.key), entry=entry,
                                 variables=variables, call_id=handle.call_id), name=f"call-{handle.call_id}")

    # -- what the runs report ----------------------------------------------------------------------------

    def _admitted(self, handle: CallHandle, call: ApiCall) -> None:
        if handle.admitted.done():  # a later run (redirect)
            return
        handle.admitted.set_result(True)
        self._notify(handle, "call.started")
        self._publish(handle)

    def _refused(self, handle: CallHandle, cause: int) -> None:
        """The daemon would not run the call (over its limits, or draining): nothing was dialled."""
        handle.status, handle.ended_at = "failed", self.clock.time()
        self.handles.pop(handle.call_id, None)
        if not handle.admitted.done():
            handle.admitted.set_result(False)
        if not handle.done.done():
            handle.done.set_result(handle.status)

    def _ringing(self, handle: CallHandle) -> None:
        if handle.status == "queued":
            handle.status = "ringing"

    def _first_leg(self, handle: CallHandle, status: str) -> None:
        handle.status = FIRST_LEG_STATUS.get(status, "failed")
        if status == "answered":
            handle.answered_at = self.clock.time()
            self._notify(handle, "call.answered")
            self._publish(handle)

    def _run_ended(self, handle: CallHandle, call: ApiCall) -> None:
        if handle.redirecting or handle.incoming is not call:
            return  # the call goes on in another run
        handle.ended_at = self.clock.time()
        if handle.answered:
            handle.status = "completed"
        elif handle.status in ("queued", "ringing", "in-progress"):
            handle.status = "canceled" if handle.hangup_by == "api" else "failed"
        self.handles.pop(handle.call_id, None)
        self.finished[handle.call_id] = handle
        while len(self.finished) > KEEP_FINISHED:
            self.finished.popitem(last=False)
        if not handle.admitted.done():
            handle.admitted.set_result(True)
        if not handle.done.done():
            handle.done.set_result(handle.status)
        self._notify(handle, "call.completed")
        self._background(self.store.drop_live(handle.call_id))
        log.info("API call %s %s (%s)", handle.call_id, handle.status, handle.flow)

    async def _held(self, handle: CallHandle) -> None:
        """Keep a run that a redirect interrupted where it is until the redirect cancels it."""
        await asyncio.Event().wait()

    def _notify(self, handle: CallHandle, event: str) -> None:
        urls = list(self.callback_urls) + list(handle.spec.callbacks)
        self.notifier.send(urls, event, handle.snapshot())

    def _publish(self, handle: CallHandle) -> None:
        info = {k: v for k, v in handle.snapshot().items() if k != "call_id"}
        expires = self.clock.time() + self.daemon.limits.max_time + 60
        self._background(self.store.put_live(handle.call_id, self.daemon_id, info, expires))

    def _background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("control store update failed: %s", task.exception())

    # -- looking at calls --------------------------------------------------------------------------------

    def find(self, call_id: str) -> CallHandle | None:
        return self.handles.get(call_id) or self.finished.get(call_id)

    def describe(self, handle: CallHandle) -> dict[str, Any]:
        out = handle.snapshot()
        out["daemon"] = self.daemon_id
        out["channel"] = handle.backend.channel_name(handle.incoming.inner) if handle.incoming else None
        out["busy_with"] = handle.current
        live = self.daemon.live.get(handle.call_id)
        interpreter = getattr(live, "interpreter", None) if live is not None else None
        out["state"], out["legs"] = _position(interpreter) if interpreter is not None else (None, [])
        return out

    def describe_inbound(self, call_id: str) -> dict[str, Any] | None:
        """A live call this API did not start (an inbound call), as far as the daemon knows it."""
        live = self.daemon.live.get(call_id)
        if live is None or call_id in self.handles:
            return None
        info = live.info
        interpreter = getattr(live, "interpreter", None)
        state, legs = _position(interpreter) if interpreter is not None else (None, [])
        return {"call_id": call_id, "flow": live.flow, "source": "inbound", "backend": live.backend,
                "status": "in-progress", "to": info.to if info else None, "from": info.from_ if info else None,
                "created_at": live.started_at.timestamp(), "daemon": self.daemon_id,
                "channel": info.extra.get("channel") if info else None, "direction": "inbound",
                "state": state, "legs": legs}

    async def list_calls(self) -> list[dict[str, Any]]:
        calls = [self.describe(h) for h in self.handles.values()]
        calls += [c for c in (self.describe_inbound(i) for i in list(self.daemon.live)) if c is not None]
        local = {c["call_id"] for c in calls}
        others = [c for c in await self.store.live_calls(self.clock.time())
                  if c["daemon"] != self.daemon_id and c["call_id"] not in local]
        return calls + others

    async def elsewhere(self, call_id: str) -> dict[str, Any] | None:
        """The shared store's row of a call that another daemon runs."""
        for call in await self.store.live_calls(self.clock.time()):
            if call["call_id"] == call_id and call["daemon"] != self.daemon_id:
                return call
        return None

    async def require(self, call_id: str) -> CallHandle:
        handle = self.handles.get(call_id)
        if handle is not None:
            return handle
        if call_id in self.finished:
            raise ControlError(409, "call_ended", f"call {call_id} has ended ({self.finished[call_id].status})")
        other = await self.elsewhere(call_id)
        if other is not None:
            raise ControlError(409, "call_elsewhere", f"call {call_id} runs on daemon {other['daemon']!r}: "
                                                      "send the request to that daemon")
        if call_id in self.daemon.live:
            raise ControlError(409, "not_api_call", "only calls started through this API can be controlled "
                                                    "(this one came in from the switch)")
        raise ControlError(404, "no_such_call", f"no live call {call_id}")

    # -- control -------------------------------------------------------------------------------------------

    async def hangup(self, call_id: str) -> dict[str, Any]:
        live = self.daemon.live.get(call_id)
        if call_id not in self.handles and live is not None:
            live.task.cancel(msg="hung up through the API")  # an inbound call: end its run
            return {"call_id": call_id, "status": "hanging-up"}
        handle = await self.require(call_id)
        handle.hangup_by = handle.hangup_by or "api"
        done = False
        if handle.answered and handle.incoming is not None:
            try:
                done = await handle.backend.hangup(handle.incoming.inner)
            except ChannelError as exc:
                log.warning("hang-up of %s at the switch failed (%s): ending its run", call_id, exc)
        if not done and handle.task is not None:
            handle.task.cancel(msg="hung up through the API")
        return {"call_id": call_id, "status": "hanging-up"}

    def inject(self, handle: CallHandle, injection: Injection) -> int:
        if not handle.answered:
            raise ControlError(409, "not_answered", "the call has not been answered yet")
        if handle.current in NO_INJECTION:
            raise ControlError(409, "leg_busy", f"leg A is in a {handle.current}: audio and tones cannot reach "
                                                "it until that ends")
        handle.pending.append(injection)
        return len(handle.pending)

    async def redirect(self, handle: CallHandle, ref: FlowRef, variables: dict[str, Any]) -> None:
        if not handle.backend.redirects:
            raise ControlError(501, "unsupported", f"redirecting a live call is not supported on {handle.backend.name}")
        if handle.redirecting:
            raise ControlError(409, "redirecting", "the call is already being redirected")
        if not handle.answered or handle.incoming is None:
            raise ControlError(409, "not_answered", "only an answered call can be redirected")
        if not ref.answers_calls:
            raise ControlError(422, "flow_not_answering", f"flow {ref.name!r} has no entry for an answered call")
        _check_variables(ref.flow, variables)
        token, waiter = handle.backend.expect()
        handle.redirecting = True
        try:
            await handle.backend.redirect(handle.incoming.inner, token)
        except ChannelError as exc:
            handle.redirecting = False
            handle.backend.forget(token)
            raise ControlError(409, "redirect_failed", str(exc)) from None
        self._background(self._hand_over(handle, token, waiter, ref, variables))

    async def _hand_over(self, handle: CallHandle, token: str, waiter: asyncio.Future, ref: FlowRef,
                         variables: dict[str, Any]) -> None:
        old = handle.task
        try:
            connection, environment = await asyncio.wait_for(asyncio.shield(waiter), self.redirect_timeout)
        except asyncio.TimeoutError:
            log.error("redirected call %s never came back from the switch", handle.call_id)
            handle.redirecting = False
            if old is not None and not old.done():
                old.cancel(msg="redirect failed")
            elif handle.incoming is not None:
                self._run_ended(handle, handle.incoming)  # the run ended while it was held
            return
        finally:
            handle.backend.forget(token)
        if old is not None:
            old.cancel(msg="redirected")
            await asyncio.gather(old, return_exceptions=True)
        handle.redirecting = False
        handle.flow = ref.name
        call = ApiCall(handle.backend.resume(connection, environment), handle, self, self._extra(handle.spec))
        self._run(handle, call, ref, ref.entry, "inbound-call", variables)
        log.info("call %s redirected to %s", handle.call_id, ref.name)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks))


def _check_variables(flow: Flow, variables: dict[str, Any]) -> None:
    """The flow's own start rules, as a 422 instead of an error event after the call is placed."""
    for name in variables:
        if flow.start_pattern is not None and re.fullmatch(flow.start_pattern, name) is None:
            raise ControlError(422, "invalid_variable", f"variable {name!r} is not a valid name for flow "
                                                        f"{flow.name!r} (it must match {flow.start_pattern})")
        if flow.declared is not None and name not in flow.declared:
            raise ControlError(422, "undeclared_variable", f"flow {flow.name!r} does not declare variable {name!r} "
                                                           f"(declared: {', '.join(flow.declared) or 'none'})")


def _position(interpreter: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """(the state running now, the legs) of a running interpreter. The state is the target of the last
    finished step's edge (or the last step itself when that left the main flow)."""
    state = None
    if interpreter.trace:
        flow_name, last, outcome = interpreter.trace[-1]
        flow = interpreter.flow
        target = flow.states[last].edges.get(outcome) if flow_name == flow.name and last in flow.states else None
        state = target or last
    else:
        state = interpreter.flow.entry_for(interpreter.call.trigger)
    legs = []
    for name, leg in interpreter.legs.items():
        times = interpreter.leg_times.get(name, {})
        legs.append({"leg": name, "party": leg.party, "up": leg.up, "answered": leg.answered,
                     "started_at": times.get("started_at"), "answered_at": times.get("answered_at"),
                     "ended_at": times.get("ended_at")})
    return state, legs
