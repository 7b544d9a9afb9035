"""The interpreter: runs one call of a Flow on a Channel and writes its transcript.

Theory of operation:
  * A run is a stack of frames. A frame walks states of one flow with a *focus leg* (the leg its ops
    address). `dial.on_answer` and `call` push a frame (for a dial, focused on the answered leg);
    `document` in replace mode swaps the frame's flow for a freshly fetched one.
  * After each op the interpreter follows `state.edges[outcome]`; no edge ends the frame. When the main
    frame ends, the flow is over.
  * A leg hanging up aborts every frame focused on it and every frame above those (the frame chain);
    the frame below resumes after its dial. Losing the main leg ends the flow.
  * Run end, always in this order: legs still up are hung up (A, B, C…), the `hangup` handler runs once
    (without a leg), then each `record_start.on_ready` state in start order (built-in `recording`),
    then the `end` event. A refused start (no entry for the trigger, a start variable the flow does not
    declare or whose name breaks `start_pattern`) emits `error`, hangs up, and runs no handler.
  * Loop guard (`Flow.max_jumps`): more `goto` states than that without a channel operation in
    between is a fatal E_LOOP_LIMIT.
  * Budgets (steps, virtual/real time, document fetches) end the run with an `error` event and skip the
    handlers. Other runtime errors emit `error` and run the `error` handler when there is one.
  * Events are emitted when an operation's outcome is known: `t` is the time it ended.

Call outcomes come back from the channel as values; the exceptions defined here never leave this module.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Awaitable, Callable

from ..errors import ChannelError, FlowError, IRError
from ..expr import ExprError, Scope, resolve
from ..ir.model import Flow, Op, State
from .channel import (
    HANGUP,
    INTERRUPTED,
    OK,
    Channel,
    CollectRequest,
    ConferenceRequest,
    DialRequest,
    Prompt,
    QueueRequest,
    RecordRequest,
    Result,
    SpeechRequest,
)
from .clock import Clock, DeadlineReached, VirtualClock
from .http import HttpClient, HttpRequest, HttpResponse
from .ids import SequentialIds, leg_name, new_call_id
from .sms import NoSmsProvider, SmsSender

log = logging.getLogger("flowengine.call")

Loader = Callable[..., "Flow | Awaitable[Flow]"]
"""(body, content type, url, format) -> Flow; raises FlowError when the document is invalid. For a
`document` op with `inherit`, the loader is also given `parent=` (the flow the op belongs to) and
`origin=` (the id of the op's state)."""

RESERVED = frozenset({"call", "now", "sms"})
# Ops that talk to the channel: running one resets the loop guard's count of jumps.
_CHANNEL_OPS = frozenset({
    "answer", "ringing", "reject", "hangup", "say", "play", "silence", "say_digits", "send_dtmf", "collect",
    "speech", "record", "record_start", "record_stop", "dial", "bridge", "queue", "conference",
})
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
PROMPT_LOOP_CAP = 100  # `loop: 0` inside an input request repeats the prompt at most this often
ABORT = "\x00abort"  # the frame's chain lost a leg
SWITCH = "\x00switch"  # the frame now runs another document
DONE = "done"
ABORTED = "aborted"


@dataclass
class CallInfo:
    """What is known about the call before the flow starts (from the switch, the API or a scenario)."""

    trigger: str = "inbound-call"
    from_: str = "+15550000001"
    to: str = "+15550000002"
    from_name: str | None = None
    at: datetime = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)  # immutable: one shared default
    call_id: str = field(default_factory=new_call_id)
    variables: dict[str, Any] = field(default_factory=dict)
    sms_body: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # dialect/switch details (fallback_url, …)

    def builtins(self) -> dict[str, Any]:
        call = {
            "id": self.call_id, "trigger": self.trigger, "from": self.from_, "to": self.to,
            "from_name": self.from_name, "at": self.at.isoformat().replace("+00:00", "Z"), **self.extra,
        }
        out: dict[str, Any] = {"call": call}
        if self.trigger == "inbound-sms":
            out["sms"] = {"from": self.from_, "to": self.to, "body": self.sms_body or ""}
        return out


@dataclass(frozen=True)
class Limits:
    max_steps: int = 10_000
    max_time: float = 3600.0
    max_fetches: int = 50


_DEFAULT_LIMITS = Limits()  # frozen: one shared instance
_NO_SMS = NoSmsProvider()  # stateless


@dataclass
class RunResult:
    reason: str
    events: list[dict]
    steps: list[tuple[str, str, str]]  # (flow name, state id, outcome) per executed state
    variables: dict[str, Any]


@dataclass(slots=True)
class Leg:
    name: str
    party: str  # "caller" (leg A of an inbound call) or "callee"
    up: bool = True
    answered: bool = False


@dataclass(slots=True)
class Frame:
    flow: Flow
    state: str
    focus: str | None
    parent: str | None = None
    chain: tuple[str, ...] = ()  # focus legs of this frame and every frame below it


class _Fault(Exception):
    """A runtime error: reported as an `error` event, then the error handler runs."""

    def __init__(self, code: str, message: str, state: State | None = None):
        super().__init__(message)
        self.code, self.message, self.state = code, message, state


class _Budget(_Fault):
    """A budget ran out: reported, then the run stops without handlers."""


class _Interrupted(Exception):
    """A deadline (lifetime or time budget) cut the running operation short."""


class Interpreter:
    """Runs one call. `await Interpreter(flow, channel, ...).run()` returns the RunResult."""

    def __init__(
        self,
        flow: Flow,
        channel: Channel,
        *,
        call: CallInfo | None = None,
        clock: Clock | None = None,
        http: HttpClient | None = None,
        sms: SmsSender | None = None,
        loader: Loader | None = None,
        limits: Limits | None = None,
        ids: Any = None,
        on_event: Callable[[dict], None] | None = None,
    ):
        self.flow = flow
        self.channel = channel
        self.call = call or CallInfo()
        self.clock = clock or VirtualClock(self.call.at)
        self.http = http
        self.sms = sms or _NO_SMS
        self.loader = loader
        self.limits = limits or _DEFAULT_LIMITS
        self.ids = ids or SequentialIds()
        self.on_event = on_event
        self.events: list[dict] = []
        self.trace: list[tuple[str, str, str]] = []
        self.vars: dict[str, Any] = _plain(flow.variables) if flow.variables else {}
        self.vars.update(self.call.variables)
        # per leg: started_at / answered_at / ended_at (seconds), ended_by, cause; the `legs` built-in
        self.leg_times: dict[str, dict[str, Any]] = {}
        self.scope = Scope(self.vars, _builtins_factory(self.call, flow, self.leg_times), now=self.clock.wall,
                           declared=flow.declared or ())
        self.legs: dict[str, Leg] = {}
        self._steps = 0
        self._fetches = 0
        self._reason: str | None = None
        self._lifetime_at: float | None = None
        self._lifetime_fired = False
        self._skip_handlers = False  # a budget ran out or the start was refused: no handler runs
        self._handler_running: set[str] = set()
        self._recording_url: str | None = None
        self._jumps = 0
        self._ready: list[tuple[Flow, str, dict[str, Any]]] = []  # record_start.on_ready, in start order
        # On the virtual clock the fake channel enforces deadlines itself: await channel calls directly.
        self._needs_guard = self.clock.needs_guard
        self._stop_at = self.limits.max_time
        self._auto_answer = flow.answer == "auto"  # media ops answer their leg first

    # -- events --------------------------------------------------------------------------------------

    def emit(self, leg: str | None, op: str, fields: dict | None = None, t: float | None = None) -> None:
        """Append an event to the transcript. `t`: its stamp (whole milliseconds) when it is not now."""
        stamp = self.clock.stamp() if t is None else t
        event = {"t": stamp, "leg": leg or "A", "op": op, **fields} if fields else {"t": stamp, "leg": leg or "A", "op": op}
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    # Events that change a leg also keep its times (the `legs` built-in), noted just before the event is
    # emitted at the same stamp, by the few places that emit them: no per-event check in `emit`.

    def _emit_answered(self, leg: str) -> None:
        """An `answer` event; the leg's times keep the first answer."""
        t = self.clock.stamp()
        self._times(leg).setdefault("answered_at", t)
        self.emit(leg, "answer", None, t)

    def _emit_ended(self, leg: str, op: str, fields: dict, by: str, cause: Any) -> None:
        """A `hangup` or `reject` event; the leg's times keep the first end."""
        t = self.clock.stamp()
        times = self._times(leg)
        if "ended_at" not in times:
            times["ended_at"], times["ended_by"], times["cause"] = t, by, cause
        self.emit(leg, op, fields, t)

    def _times(self, leg: str) -> dict[str, Any]:
        times = self.leg_times.get(leg)
        if times is None:
            times = self.leg_times[leg] = {"started_at": 0.0}
        return times

    def _error_event(self, code: str, message: str, state: State | None) -> None:
        fields = {"code": code, "message": message}
        if state is not None and state.span is not None:
            fields["source"] = str(state.span)
        self.emit(None, "error", fields)
        log.warning("%s %s: %s", self.call.call_id, code, message)

    # -- the run -------------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        self._set_deadline()
        try:
            await self._start()
        except _Budget as exc:
            self._skip_handlers = True
            self._error_event(exc.code, exc.message, exc.state)
            self._reason = "error"
        await self._finish()
        return RunResult(self._reason or "flow_end", self.events, self.trace, self.vars)

    async def _start(self) -> None:
        trigger = self.call.trigger
        if trigger == "inbound-call":
            self._new_leg("caller")
        entry = self.flow.entry_for(trigger)
        refusal = self._start_refusal() if self.call.variables else None
        if refusal is None and entry is None:
            refusal = ("E_NO_ENTRY_FOR_TRIGGER", f"the flow has no entry for trigger {trigger!r}")
        if refusal is not None:
            self._error_event(*refusal, None)
            self._reason = "error"
            self._skip_handlers = True
            return
        if self.flow.answer == "start" and "A" in self.legs:
            await self._answer_leg(self.legs["A"])
        focus = "A" if "A" in self.legs else None
        await self._run_main(Frame(self.flow, entry, focus, None, (focus,) if focus else ()))

    def _start_refusal(self) -> tuple[str, str] | None:
        """Why the flow refuses this run's start variables (None: it accepts them)."""
        pattern = self.flow.start_pattern
        declared = self.flow.declared
        for name in self.call.variables:
            if pattern is not None and re.fullmatch(pattern, name) is None:
                return "E_START_VAR_NAME", f"start variable {name!r} is not a valid name (it must match {pattern})"
            if declared is not None and name not in declared:
                return "E_START_UNDECLARED", f"start variable {name!r} is not declared by the flow"
        return None

    async def _run_main(self, frame: Frame, handler: str | None = None) -> None:
        """Run a main-level frame; deal with lifetime, faults and the error handler."""
        if handler:
            self._handler_running.add(handler)
        try:
            status = await self._run_frame(frame)
            if self._reason is None:
                self._reason = "flow_end" if status == DONE else "caller_hangup"
        except _Interrupted:
            if self.clock.now() >= self.limits.max_time - 1e-9:
                raise _Budget("E_MAX_TIME", f"the call ran longer than {self.limits.max_time:g} s") from None
            await self._on_lifetime()
        except _Budget:
            raise
        except (_Fault, ChannelError) as exc:
            if isinstance(exc, ChannelError):  # a channel refused (unsupported there) or failed an operation
                exc = _Fault("E_CHANNEL", str(exc))
            self._error_event(exc.code, exc.message, exc.state)
            main = self._main_leg()
            if "error" in self.flow.handlers and "error" not in self._handler_running and main:
                await self._run_main(Frame(self.flow, self.flow.handlers["error"], main, None, (main,)), "error")
            elif self._reason is None:
                self._reason = "error"

    async def _on_lifetime(self) -> None:
        self._lifetime_fired = True
        self._set_deadline()
        self.emit(self._main_leg(), "lifetime_expired", {"seconds": self.flow.lifetime})
        main = self._main_leg()
        if "lifetime" in self.flow.handlers and main:
            await self._run_main(Frame(self.flow, self.flow.handlers["lifetime"], main, None, (main,)), "lifetime")
        elif self._reason is None:
            self._reason = "lifetime"

    async def _finish(self) -> None:
        for leg in self.legs.values():
            if leg.up:
                await self.channel.hangup(leg.name, None)
                leg.up = False
                self._emit_ended(leg.name, "hangup", {"by": "flow"}, "flow", None)
        handler = self.flow.handlers.get("hangup")
        if handler and not self._skip_handlers:
            self._handler_running.add("hangup")
            await self._run_after_end(Frame(self.flow, handler, None))
        for flow, state_id, recording in self._ready:
            if self._skip_handlers:
                break
            times = self.leg_times.get(recording.pop("leg"), {})
            stop = recording.pop("stopped_at", None) or times.get("ended_at") or self.clock.now()
            recording["duration"] = round(max(stop - recording["started_at"], 0.0), 3)
            self.scope.builtins["recording"] = recording
            try:
                await self._run_after_end(Frame(flow, state_id, None))
            finally:
                self.scope.builtins.pop("recording", None)
        self.emit(None, "end", {"reason": self._reason or "flow_end"})

    async def _run_after_end(self, frame: Frame) -> None:
        """Run a focusless frame after the legs are gone (hangup handler, recording-ready states)."""
        try:
            await self._run_frame(frame)
        except _Budget as exc:
            self._skip_handlers = True
            self._error_event(exc.code, exc.message, exc.state)
        except _Fault as exc:
            self._error_event(exc.code, exc.message, exc.state)
        except _Interrupted:
            self._error_event("E_MAX_TIME", f"the call ran longer than {self.limits.max_time:g} s", None)

    async def _run_frame(self, frame: Frame) -> str:
        states = frame.flow.states
        trace = self.trace
        now = self.clock.now
        max_steps = self.limits.max_steps
        max_jumps = self.flow.max_jumps
        while True:
            state = states[frame.state]
            self._steps += 1  # the budget checks of _count_step, inlined on this hot path
            if self._steps > max_steps or now() >= self._stop_at:
                self._steps -= 1
                self._count_step(state)
            op = state.op
            if max_jumps is not None:
                self._guard_jumps(op, state)
            if op._dynamic:
                op = self._resolve(op, state)
            handler, awaits = _HANDLERS[op.kind]
            outcome = await handler(self, frame, op, state) if awaits else handler(self, frame, op, state)
            trace.append((frame.flow.name, state.id, outcome))
            if outcome is ABORT:
                return ABORTED
            if outcome is SWITCH:
                states = frame.flow.states
                continue
            target = state.edges.get(outcome)
            if target is None:
                return DONE
            frame.state = target

    def _guard_jumps(self, op: Op, state: State) -> None:
        if op.kind == "goto":
            self._jumps += 1
            if self._jumps > self.flow.max_jumps:
                raise _Fault("E_LOOP_LIMIT", f"more than {self.flow.max_jumps} jumps without a call operation "
                                             "(an endless loop?)", state)
        elif op.kind in _CHANNEL_OPS:
            self._jumps = 0

    def _count_step(self, state: State | None) -> None:
        self._steps += 1
        if self._steps > self.limits.max_steps:
            raise _Budget("E_MAX_STEPS", f"more than {self.limits.max_steps} steps (a loop without input?)", state)
        if self.clock.now() >= self._stop_at:
            if self.clock.now() >= self.limits.max_time:
                raise _Budget("E_MAX_TIME", f"the call ran longer than {self.limits.max_time:g} s", state)
            raise _Interrupted()

    def _resolve(self, op: Op, state: State) -> Op:
        try:
            values = {name: resolve(getattr(op, name), self.scope) for name in op._dynamic}
            return replace(op, **values)
        except IRError as exc:
            raise _Fault("E_PARAM_TYPE", f"{op.kind}: {exc.message}", state) from None
        except ExprError as exc:
            raise _Fault(exc.code if exc.code != "E_EXPR" else "E_EXPR_RUNTIME", exc.message, state) from None

    # -- legs and deadlines ----------------------------------------------------------------------------

    def _new_leg(self, party: str) -> Leg:
        leg = Leg(leg_name(len(self.legs)), party, party == "caller")  # legs are never removed
        self.legs[leg.name] = leg
        self.leg_times[leg.name] = {"started_at": self.clock.stamp()}
        return leg

    def _main_leg(self) -> str | None:
        leg = self.legs.get("A")
        return "A" if leg is not None and leg.up else None

    def _set_deadline(self) -> None:
        deadline = self.limits.max_time
        if self._lifetime_at is not None and not self._lifetime_fired:
            deadline = min(deadline, self._lifetime_at)
        self._stop_at = deadline
        self.clock.set_deadline(deadline)

    def _end_lifetime(self) -> None:
        """The lifetime no longer applies (a dial or queue with `ends_lifetime` was answered)."""
        self._lifetime_fired = True
        self._set_deadline()

    def _io(self, operation: Awaitable[Any]) -> Awaitable[Any]:
        """A channel operation under the current deadline. On the virtual clock the fake channel enforces
        deadlines itself, so the operation is awaited as it is (no extra coroutine per operation)."""
        return self._guarded(operation) if self._needs_guard else operation

    async def _guarded(self, operation: Awaitable[Any]) -> Any:
        try:
            return await self.clock.guard(operation)
        except DeadlineReached:
            raise _Interrupted() from None

    def _leg_for(self, frame: Frame, op: Op, state: State) -> Leg | None:
        name = op.leg or frame.focus
        leg = self.legs.get(name)
        if leg is None or not leg.up:
            self._error_event("E_NO_CALL", f"{op.kind}: no live call leg {name or ''}".rstrip(), state)
            return None
        return leg

    async def _answer_leg(self, leg: Leg) -> Result:
        result = await self._io(self.channel.answer(leg.name))
        if result.outcome == OK:
            leg.answered = True
            self._emit_answered(leg.name)
            if leg.name == "A" and self.flow.lifetime is not None and self._lifetime_at is None:
                self._lifetime_at = self.clock.now() + self.flow.lifetime
                self._set_deadline()
        return result

    def _ready_leg(self, frame: Frame, op: Op) -> Leg | None:
        """The leg for a media op when it is up and needs no answering first (None: ask `_media_leg`).
        The common case, checked without creating a coroutine."""
        leg = self.legs.get(op.leg or frame.focus)
        if leg is not None and leg.up and (leg.answered or not self._auto_answer):
            return leg
        return None

    async def _media_leg(self, frame: Frame, op: Op, state: State) -> Leg | None:
        """The leg for a media op, answered first when the flow answers lazily."""
        leg = self.legs.get(op.leg or frame.focus)
        if leg is None or not leg.up:
            return self._leg_for(frame, op, state)
        if not leg.answered and self._auto_answer:
            result = await self._answer_leg(leg)
            if result.outcome != OK:
                self._conclude(frame, result, leg.name)
                return None
        return leg

    def _gone(self, name: str) -> None:
        leg = self.legs.get(name)
        if leg is not None and leg.up:
            leg.up = False
            self._emit_ended(name, "hangup", {"by": leg.party}, leg.party, None)
            if name == "A" and self._reason is None:
                self._reason = "caller_hangup"

    def _conclude(self, frame: Frame, result: Result, leg: str, ok: str = "ok") -> str:
        """The outcome after a channel result: `ok`, or ABORT when the frame's chain lost a leg."""
        if result.outcome == OK:
            return ok
        if result.outcome == HANGUP:
            self._gone(result.hangup_leg or leg)
            return ABORT if self._chain_broken(frame) else ok
        if result.outcome == INTERRUPTED:
            raise _Interrupted()
        raise _Fault("E_CHANNEL", f"channel returned unknown outcome {result.outcome!r}")

    def _chain_broken(self, frame: Frame) -> bool:
        legs = self.legs
        for name in frame.chain:
            if not legs[name].up:
                return True
        return False

    def _bind(self, op: Op, value: dict) -> None:
        if op.result:
            self.vars[op.result] = value

    # -- op handlers: each returns an outcome, ABORT or SWITCH ------------------------------------------

    async def _op_answer(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._leg_for(frame, op, state)
        if leg is None or leg.answered:
            return "ok"
        return self._conclude(frame, await self._answer_leg(leg), leg.name)

    async def _op_ringing(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._leg_for(frame, op, state)
        if leg is None:
            return "ok"
        result = await self._io(self.channel.ringing(leg.name))
        if result.outcome == OK:
            self.emit(leg.name, "ringing")
        return self._conclude(frame, result, leg.name)

    async def _op_reject(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._leg_for(frame, op, state)
        if leg is None:
            return ABORT
        if leg.answered:
            cause = "busy" if op.reason == "busy" else "rejected"
            await self.channel.hangup(leg.name, cause)
            return self._hung_up(frame, leg, cause)
        await self.channel.reject(leg.name, op.reason)
        leg.up = False
        self._emit_ended(leg.name, "reject", {"reason": op.reason}, "flow", op.reason)
        if leg.name == "A" and self._reason is None:
            self._reason = "rejected"
        return ABORT

    async def _op_hangup(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._leg_for(frame, op, state)
        if leg is None:
            return "ok"
        await self.channel.hangup(leg.name, op.cause)
        return self._hung_up(frame, leg, op.cause)

    def _hung_up(self, frame: Frame, leg: Leg, cause: Any) -> str:
        """Once the flow has hung `leg` up: its `hangup` event; ABORT when the leg was in the frame's chain."""
        leg.up = False
        self._emit_ended(leg.name, "hangup", {"by": "flow"} if cause is None else {"by": "flow", "cause": cause},
                         "flow", cause)
        if leg.name == "A" and self._reason is None:
            self._reason = "hangup"
        return ABORT if leg.name in frame.chain else "ok"

    async def _op_media(self, frame: Frame, op: Op, state: State) -> str:
        if not op.enabled:
            return "ok"
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "ok"
        prompt, fields, loop = _memo(state, op, "media", _media_plan)
        name, kind = leg.name, prompt.kind
        repetition = 0
        while loop == 0 or repetition < loop:
            if repetition:
                self._count_step(state)
            repetition += 1
            result = await self._io(self.channel.play(name, prompt))
            if result.outcome != OK:
                self.emit(name, kind, {**fields, "interrupted": True})
                return self._conclude(frame, result, name)
            self.emit(name, kind, fields)
        return "ok"

    async def _op_send_dtmf(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "ok"
        return await self._send_dtmf(frame, leg.name, op.digits)

    async def _send_dtmf(self, frame: Frame, leg: str, digits: str) -> str:
        result = await self._io(self.channel.send_dtmf(leg, digits))
        self.emit(leg, "send_dtmf", {"digits": digits})
        return self._conclude(frame, result, leg)

    def _prompts(self, ops: tuple[Op, ...], state: State) -> tuple[tuple[Prompt, ...], tuple[dict, ...]]:
        """An input request's prompts, each repetition on its own, and the event fields of each."""
        prompts: list[Prompt] = []
        fields: list[dict] = []
        for prompt_op in ops:
            if prompt_op._dynamic:
                prompt_op = self._resolve(prompt_op, state)
            if not prompt_op.enabled:
                continue
            prompt = _prompt(prompt_op)
            loop = getattr(prompt_op, "loop", 1)
            if loop == 0:
                loop = 1 if _zero_length(prompt) else PROMPT_LOOP_CAP
            prompts.extend([prompt] * loop)
            fields.extend([_prompt_fields(prompt)] * loop)
        return tuple(prompts), tuple(fields)

    def _emit_prompts(self, leg: str, prompts: tuple[Prompt, ...], fields: tuple[dict, ...], outcomes: list) -> None:
        for outcome in outcomes:
            index = outcome.index
            self.emit(leg, prompts[index].kind,
                      {**fields[index], "interrupted": True} if outcome.interrupted else fields[index],
                      t=round(outcome.ended_at, 3))

    def _collect_plan(self, op: Op, state: State) -> tuple[CollectRequest, dict, tuple[dict, ...]]:
        """(the channel request, the `collect` event's fixed fields, each prompt's event fields)."""
        prompts, prompt_fields = self._prompts(op.prompts, state)
        request = CollectRequest(
            prompts=prompts, max_digits=op.max_digits, min_digits=op.min_digits,
            timeout=op.timeout,
            inter_digit_timeout=op.timeout if op.inter_digit_timeout is None else op.inter_digit_timeout,
            finish_on_key=op.finish_on_key or "", barge_in=op.barge_in, choices=op.choices,
            early_match=op.early_match,
        )
        fields = {"max_digits": op.max_digits, "timeout": op.timeout}
        if op.finish_on_key:
            fields["finish_on_key"] = op.finish_on_key
        return request, fields, prompt_fields

    async def _op_collect(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "timeout"
        plan = state.cache.get("collect") if op is state.op else None
        if plan is None:
            plan = self._collect_plan(op, state)
            if op is state.op and not any(p._dynamic for p in op.prompts):
                state.cache["collect"] = plan
        request, fields, prompt_fields = plan
        name = leg.name
        result = await self._io(self.channel.collect(name, request))
        self._emit_prompts(name, request.prompts, prompt_fields, result.prompts)
        digits, reason = result.digits, result.reason
        self.emit(name, "collect", {**fields, "digits": digits, "reason": reason})
        self._bind(op, {"digits": digits, "reason": reason})
        if op.choices is not None:
            outcome = f"match:{digits}" if digits in op.choices else ("timeout" if not digits else "invalid")
        else:
            outcome = "timeout" if not digits else ("invalid" if len(digits) < op.min_digits else "ok")
        return self._conclude(frame, result, name, outcome)

    async def _op_speech(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "timeout"
        prompts, prompt_fields = self._prompts(op.prompts, state)
        request = SpeechRequest(prompts=prompts, hints=tuple(op.hints), language=op.language, timeout=op.timeout,
                                dtmf=op.dtmf, max_digits=op.max_digits, finish_on_key=op.finish_on_key or "",
                                grammar=op.grammar, beep=op.beep)
        result = await self._io(self.channel.speech(leg.name, request))
        self._emit_prompts(leg.name, prompts, prompt_fields, result.prompts)
        fields: dict[str, Any] = {}
        if op.hints:
            fields["hints"] = list(op.hints)
        fields["text"] = result.text
        if result.confidence is not None:
            fields["confidence"] = result.confidence
        if result.digits:
            fields["digits"] = result.digits
        fields["reason"] = result.reason
        self.emit(leg.name, "speech", fields)
        self._bind(op, {"text": result.text, "confidence": result.confidence, "digits": result.digits,
                        "reason": result.reason})
        outcome = "ok" if (result.text or result.digits) else "timeout"
        return self._conclude(frame, result, leg.name, outcome)

    async def _op_record(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "timeout"
        request = RecordRequest(max_length=op.max_length, finish_on_key=op.finish_on_key or "", beep=op.beep,
                                silence_timeout=op.silence_timeout, format=op.format, trim_silence=op.trim_silence,
                                transcribe=op.transcribe)
        result = await self._io(self.channel.record(leg.name, request))
        fields: dict[str, Any] = {"max_length": op.max_length}
        if op.finish_on_key:
            fields["finish_on_key"] = op.finish_on_key
        if op.beep:
            fields["beep"] = True
        fields.update(duration=result.duration, url=result.url, reason=result.reason)
        if result.transcription is not None:
            fields["transcription"] = result.transcription
        self.emit(leg.name, "record", fields)
        self._bind(op, {"url": result.url, "duration": result.duration, "reason": result.reason,
                        "digits": result.digits, "transcription": result.transcription})
        return self._conclude(frame, result, leg.name, "ok" if result.duration > 0 else "timeout")

    async def _op_record_start(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "ok"
        if op.format or op.trim_silence:
            start = self.channel.record_start(leg.name, op.legs, format=op.format, trim_silence=op.trim_silence)
        else:
            start = self.channel.record_start(leg.name, op.legs)
        result = await self._io(start)
        self._recording_url = result.url
        self.emit(leg.name, "record_start", {"url": result.url, "transcription": op.transcribe} if op.transcribe
                  else {"url": result.url})
        self._bind(op, {"url": result.url})
        if op.on_ready is not None:
            self._ready.append((frame.flow, op.on_ready, {"url": result.url, "started_at": self.clock.now(),
                                                          "transcribe": op.transcribe, "leg": leg.name}))
        return self._conclude(frame, result, leg.name)

    async def _op_record_stop(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._leg_for(frame, op, state)
        if leg is None:
            return "ok"
        result = await self._io(self.channel.record_stop(leg.name))
        for _, _, recording in self._ready:
            if recording.get("leg") == leg.name and "stopped_at" not in recording:
                recording["stopped_at"] = self.clock.now()
        self.emit(leg.name, "record_stop", {"url": self._recording_url} if self._recording_url else None)
        return self._conclude(frame, result, leg.name)

    async def _op_dial(self, frame: Frame, op: Op, state: State) -> str:
        focus = op.leg or frame.focus
        if focus is not None and (focus not in self.legs or not self.legs[focus].up):
            self._error_event("E_NO_CALL", f"dial: no live call leg {focus}", state)
            return ABORT if self._chain_broken(frame) else "failed"
        new = self._new_leg("callee")  # not up until answered
        request, fields = _memo(state, op, "dial", _dial_plan)
        result = await self._io(self.channel.dial(focus, new.name, request))
        status = result.status
        fields = {**fields, "status": status}
        if result.answered_by:
            fields["answered_by"] = result.answered_by
        if op.detect_machine and status == "answered":
            fields["machine"] = bool(result.machine)
        fields["new_leg"] = new.name
        t = self.clock.stamp()
        if status == "answered":
            self.leg_times[new.name]["answered_at"] = t
        self.emit(focus or new.name, "dial", fields, t)
        outcome: dict[str, Any] | None = None  # the result variable, built only when the op names one
        if op.result:
            outcome = self.vars[op.result] = {"status": status, "leg": new.name, "answered_by": result.answered_by,
                                              "duration": 0, "machine": result.machine}
        if result.outcome != OK or status != "answered":
            return self._conclude(frame, result, focus or new.name, status)
        new.up = new.answered = True
        if op.ends_lifetime:
            self._end_lifetime()
        if op.send_digits and await self._send_dtmf(frame, new.name, op.send_digits) is ABORT:
            return ABORT
        if op.on_answer is not None and new.up:
            sub = Frame(frame.flow, op.on_answer, new.name, focus, frame.chain + (new.name,))
            await self._run_frame(sub)
            if self._chain_broken(frame):
                return ABORT
        if focus is None:
            frame.focus = new.name
            frame.chain = frame.chain + (new.name,)
            return "answered"
        if op.bridge and new.up:
            outcome_or_abort, duration = await self._bridge(frame, focus, new.name, op.time_limit, op.heartbeat)
            if outcome is not None:
                outcome["duration"] = duration
            if outcome_or_abort is ABORT:
                return ABORT
        return "answered"

    async def _bridge(self, frame: Frame, leg: str, peer: str, time_limit: float | None,
                      heartbeat: dict | None = None) -> tuple[str, float]:
        legs = self.legs
        if self._auto_answer and not (legs[leg].answered and legs[peer].answered):
            for name in (peer, leg) if legs[peer].party == "caller" else (leg, peer):
                if not legs[name].answered:
                    result = await self._answer_leg(legs[name])
                    if result.outcome != OK:
                        return self._conclude(frame, result, name), 0.0
        operation = self.channel.bridge(leg, peer, time_limit)
        if heartbeat:
            request = HttpRequest(heartbeat.get("method", "POST"), heartbeat["url"],
                                  _str_params(heartbeat.get("params")), None, {}, 10.0)

            async def tick() -> None:
                await self._send_http(request, leg)

            operation = self.clock.every(float(heartbeat.get("interval", 60)), operation, tick)
        result = await self._io(operation)
        ended_by = result.ended_by or (leg if result.key else peer)
        bridge_fields = {"with": peer, "duration": round(result.duration, 3), "ended_by": ended_by}
        if result.key:
            bridge_fields["key"] = result.key
        self.emit(leg, "bridge", bridge_fields)
        if result.outcome == OK and result.ended_by is None and self.legs[peer].up:
            await self.channel.hangup(peer, None)
            return self._hung_up(frame, self.legs[peer], None), result.duration
        return self._conclude(frame, result, ended_by), result.duration

    async def _op_bridge(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._leg_for(frame, op, state)
        peer = op.peer or frame.parent
        if leg is None:
            return ABORT if self._chain_broken(frame) else "ok"
        if peer is None or peer not in self.legs or not self.legs[peer].up:
            raise _Fault("E_NO_PARENT", "bridge: no live leg to bridge with", state)
        outcome, duration = await self._bridge(frame, leg.name, peer, op.time_limit)
        self._bind(op, {"duration": duration})
        return outcome

    async def _op_queue(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "no_agents"
        wait_deadline = None
        if op.ends_lifetime and self._lifetime_at is not None and not self._lifetime_fired:
            # the lifetime covers the wait only: the channel enforces it, the clock keeps the budget
            wait_deadline = self._lifetime_at
            self._stop_at = self.limits.max_time
            self.clock.set_deadline(self.limits.max_time)
        request = QueueRequest(op.name, op.max_wait, op.exit_key, wait_deadline)
        result = await self._io(self.channel.queue(leg.name, request))
        self.emit(leg.name, "queue", {"name": op.name, "status": result.status})
        status = result.status
        if wait_deadline is not None:
            if result.outcome == OK and status.startswith("answered"):
                self._end_lifetime()
            else:
                self._set_deadline()
        outcome = _QUEUE_OUTCOMES.get(status, "exit" if status.startswith("exit:") else "no_agents")
        self._bind(op, {"status": status, "duration": result.duration,
                        "exit_key": status[5:] if status.startswith("exit:") else None})
        return self._conclude(frame, result, leg.name, outcome)

    async def _op_conference(self, frame: Frame, op: Op, state: State) -> str:
        leg = self._ready_leg(frame, op) or await self._media_leg(frame, op, state)
        if leg is None:
            return ABORT if self._chain_broken(frame) else "ok"
        request = ConferenceRequest(op.room, op.muted, op.beep, op.start_on_enter, op.end_on_exit,
                                    op.max_participants, op.deaf, op.wait)
        result = await self._io(self.channel.conference(leg.name, request))
        self.emit(leg.name, "conference", {"room": op.room, "duration": round(result.duration, 3)} if op.wait
                  else {"room": op.room})
        self._bind(op, {"duration": result.duration})
        return self._conclude(frame, result, leg.name)

    async def _send_http(self, request: HttpRequest, leg: str | None) -> HttpResponse:
        if self.http is None:
            response = HttpResponse(0, error="no HTTP client configured")
        else:
            response = await self.http.send(request)
        fields: dict[str, Any] = {"method": request.method, "url": request.url}
        if request.params:
            fields["params"] = request.params
        if request.body is not None:
            fields["body"] = request.body
        fields["status"] = response.status
        self.emit(leg, "http", fields)
        return response

    async def _op_http(self, frame: Frame, op: Op, state: State) -> str:
        headers = dict(op.headers or {})
        body = op.body
        if op.json_body is not None:
            body = _json_text(op.json_body)
            headers.setdefault("Content-Type", "application/json")
        request = HttpRequest(op.method, op.url, _str_params(op.params), body, headers, op.timeout)
        response = await self._send_http(request, frame.focus)
        self._bind(op, {
            "ok": response.ok, "status": response.status, "body": response.body, "json": response.json(),
            "headers": response.headers, "error": response.error, "status_text": _status_text(response.status),
        })
        return "ok" if response.ok else "error"

    async def _op_document(self, frame: Frame, op: Op, state: State) -> str:
        if op.fallback:  # InboundXML's fallbackUrl: one more try elsewhere, with the same parameters
            outcome = await self._op_document(frame, replace(op, fallback=None), state)
            if outcome != "error":
                return outcome
            return await self._op_document(frame, replace(op, url=op.fallback, method="POST", fallback=None), state)
        self._fetches += 1
        if self._fetches > self.limits.max_fetches:
            raise _Budget("E_MAX_FETCHES", f"more than {self.limits.max_fetches} document fetches", state)
        body, headers = None, {}
        if op.json_body is not None:
            body, headers = _json_text(op.json_body), {"Content-Type": "application/json"}
        request = HttpRequest(op.method, op.url, _str_params(op.params), body, headers, op.timeout)
        response = await self._send_http(request, frame.focus)
        self._bind(op, {"ok": response.ok, "status": response.status, "error": response.error})
        if not response.ok:
            detail = f"status {response.status}" if response.status else (response.error or "no answer")
            self._error_event("E_FETCH", f"fetching {op.url} failed: {detail}", state)
            return "error"
        if self.loader is None:
            raise _Fault("E_NO_LOADER", "document: no document loader configured", state)
        try:
            if op.inherit:
                loaded = self.loader(response.body, response.content_type, op.url, op.format, parent=frame.flow,
                                     origin=state.id)
            else:
                loaded = self.loader(response.body, response.content_type, op.url, op.format)
            flow = await loaded if inspect.isawaitable(loaded) else loaded
        except FlowError as exc:
            first = exc.diagnostics[0] if exc.diagnostics else None
            detail = f"{first.code}: {first.message}" if first else str(exc)
            self._error_event("E_DOCUMENT", f"{op.url}: {detail}", state)
            return "error"
        entry = flow.entry_for(self.call.trigger)
        if entry is None:
            self._error_event("E_DOCUMENT", f"{op.url}: the document has no entry", state)
            return "error"
        if op.mode == "replace":
            frame.flow, frame.state = flow, entry
            return SWITCH
        status = await self._run_frame(Frame(flow, entry, frame.focus, frame.parent, frame.chain))
        return ABORT if status == ABORTED and self._chain_broken(frame) else "ok"

    async def _op_sms(self, frame: Frame, op: Op, state: State) -> str:
        to = [op.to] if isinstance(op.to, str) else list(op.to)
        if op.media:
            result = await self.sms.send(to, op.from_, op.body, media=tuple(op.media))
        else:
            result = await self.sms.send(to, op.from_, op.body)
        fields: dict[str, Any] = {"to": op.to if isinstance(op.to, str) else list(op.to)}
        if op.from_:
            fields["from"] = op.from_
        fields["body"] = op.body
        if op.media:
            fields["media"] = list(op.media)
        self.emit(frame.focus, "sms", fields)
        self._bind(op, {"ok": result.ok, "sid": result.sid, "status": result.status})
        return "ok" if result.ok else "error"

    def _op_set(self, frame: Frame, op: Op, state: State) -> str:
        return self._assign(frame, state, ((op.name, op.value),), op.silent)

    def _op_assign(self, frame: Frame, op: Op, state: State) -> str:
        return self._assign(frame, state, op.values.items(), op.silent)

    def _assign(self, frame: Frame, state: State, items: Any, silent: bool) -> str:
        """Store user variables (a `set` event each unless silent); built-ins are read-only."""
        for name, value in items:
            if name in RESERVED:
                raise _Fault("E_RESERVED_ASSIGN", f"{name!r} is read-only", state)
            value = _plain(value)
            self.vars[name] = value
            if not silent:
                self.emit(frame.focus, "set", {"name": name, "value": value})
        return "ok"

    def _op_log(self, frame: Frame, op: Op, state: State) -> str:
        message = op.message if isinstance(op.message, str) else json.dumps(_plain(op.message))
        self.emit(frame.focus, "log", {"message": message})
        level = _LOG_LEVELS[op.level]
        if log.isEnabledFor(level):  # most runs log nothing at this level: skip the logging machinery
            log.log(level, "%s %s", self.call.call_id, message)
        return "ok"

    def _op_branch(self, frame: Frame, op: Op, state: State) -> str:
        try:
            for case in op.cases:
                if case.when.evaluate(self.scope):
                    return f"match:{case.key}"
        except ExprError as exc:
            raise _Fault(exc.code if exc.code != "E_EXPR" else "E_EXPR_RUNTIME", exc.message, state) from None
        return "ok"

    def _op_goto(self, frame: Frame, op: Op, state: State) -> str:
        return "ok"

    async def _op_call(self, frame: Frame, op: Op, state: State) -> str:
        focus = op.leg or frame.focus
        chain = frame.chain + ((focus,) if focus and focus not in frame.chain else ())
        await self._run_frame(Frame(frame.flow, op.entry, focus, frame.parent, chain))
        return ABORT if self._chain_broken(frame) else "ok"

    def _op_fail(self, frame: Frame, op: Op, state: State) -> str:
        raise _Fault(op.code, str(op.message), state)


_HANDLER_FUNCTIONS: dict[str, Callable[..., str | Awaitable[str]]] = {
    "answer": Interpreter._op_answer,
    "ringing": Interpreter._op_ringing,
    "reject": Interpreter._op_reject,
    "hangup": Interpreter._op_hangup,
    "say": Interpreter._op_media,
    "play": Interpreter._op_media,
    "silence": Interpreter._op_media,
    "say_digits": Interpreter._op_media,
    "send_dtmf": Interpreter._op_send_dtmf,
    "collect": Interpreter._op_collect,
    "speech": Interpreter._op_speech,
    "record": Interpreter._op_record,
    "record_start": Interpreter._op_record_start,
    "record_stop": Interpreter._op_record_stop,
    "dial": Interpreter._op_dial,
    "bridge": Interpreter._op_bridge,
    "queue": Interpreter._op_queue,
    "conference": Interpreter._op_conference,
    "http": Interpreter._op_http,
    "document": Interpreter._op_document,
    "sms": Interpreter._op_sms,
    "set": Interpreter._op_set,
    "assign": Interpreter._op_assign,
    "log": Interpreter._op_log,
    "branch": Interpreter._op_branch,
    "goto": Interpreter._op_goto,
    "call": Interpreter._op_call,
    "fail": Interpreter._op_fail,
}
# kind -> (handler, whether to await it): ops without I/O are plain functions, no coroutine per step
_HANDLERS = {kind: (handler, inspect.iscoroutinefunction(handler)) for kind, handler in _HANDLER_FUNCTIONS.items()}

_QUEUE_OUTCOMES = {
    "answered": "answered",
    "answered/agent_hangup": "agent_hangup",
    "answered/caller_hangup": "answered",
    "timeout": "timeout",
    "no_agents": "no_agents",
}


def _builtins_factory(call: CallInfo, flow: Flow, leg_times: dict) -> Callable[[], dict[str, Any]]:
    """The run's read-only built-ins, built on first use. A closure over what they need, not over the
    interpreter, so a finished call holds no reference cycle and is freed without the cycle collector."""
    def build() -> dict[str, Any]:
        return {**call.builtins(), "flow": {"name": flow.name, "dialect": flow.dialect}, "legs": leg_times}

    return build


def _prompt(op: Op) -> Prompt:
    kind = op.kind
    if kind == "say":
        return Prompt("say", op.text, voice=op.voice, language=op.language, ssml=op.ssml, engine=op.engine,
                      barge_in=op.barge_in)
    if kind == "play":
        return Prompt("play", op.url, barge_in=op.barge_in)
    if kind == "silence":
        return Prompt("silence", seconds=float(op.seconds), barge_in=op.barge_in)
    return Prompt("say_digits", op.digits, method=op.method, barge_in=op.barge_in)


def _zero_length(prompt: Prompt) -> bool:
    return (prompt.kind == "silence" and prompt.seconds <= 0) or (prompt.kind != "silence" and not prompt.text)


def _memo(state: State, op: Op, key: str, build: Callable[[Op, State], Any]) -> Any:
    """`build(op, state)`, memoised on the state when the op is the state's own (no expressions)."""
    if op is not state.op:
        return build(op, state)
    value = state.cache.get(key)
    if value is None:
        value = state.cache[key] = build(op, state)
    return value


def _dial_plan(op: Op, state: State) -> tuple[DialRequest, dict[str, Any]]:
    targets = tuple(op.targets)
    fields: dict[str, Any] = {"targets": list(targets)}
    if op.caller_id:
        fields["caller_id"] = op.caller_id
    if op.caller_name:
        fields["caller_name"] = op.caller_name
    fields["timeout"] = op.timeout
    if op.ringback:
        fields["ringback"] = op.ringback
    request = DialRequest(targets=targets, timeout=op.timeout, caller_id=op.caller_id, caller_name=op.caller_name,
                          time_limit=op.time_limit, send_digits=op.send_digits, bridge=op.bridge,
                          on_answer=op.on_answer is not None, ringback=op.ringback, hangup_key=op.hangup_key,
                          detect_machine=op.detect_machine)
    return request, fields


def _media_plan(op: Op, state: State) -> tuple[Prompt, dict[str, Any], int]:
    """(the prompt, its event fields, how often to play it: 0 = until interrupted)."""
    prompt = _prompt(op)
    loop = getattr(op, "loop", 1)
    if loop == 0 and _zero_length(prompt):
        loop = 1
    return prompt, _prompt_fields(prompt), loop


@functools.lru_cache(maxsize=4096)
def _prompt_fields(prompt: Prompt) -> dict[str, Any]:
    """The event fields of one played prompt (shared: callers copy before changing them)."""
    kind = prompt.kind
    if kind == "say":
        fields: dict[str, Any] = {"text": prompt.text}
        if prompt.voice:
            fields["voice"] = prompt.voice
        if prompt.language:
            fields["language"] = prompt.language
        if prompt.ssml:
            fields["ssml"] = True
        if prompt.engine:
            fields["engine"] = prompt.engine
    elif kind == "play":
        fields = {"url": prompt.text}
    elif kind == "silence":
        fields = {"seconds": prompt.seconds}
    else:
        fields = {"digits": prompt.text}
        if prompt.method:
            fields["method"] = prompt.method
    return fields


def _status_text(status: int) -> str:
    """The standard reason phrase of an HTTP status ("" for 0 or an unknown code)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _plain(value: Any) -> Any:
    """Plain JSON (dicts and lists) from IR values (FrozenDicts and tuples)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _json_text(value: Any) -> str:
    """A JSON request body, compact, as sent over HTTP."""
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


def _str_params(params: Any) -> dict[str, str] | None:
    """Form/query fields as text, the way they travel over HTTP."""
    if not params:
        return None
    from ..expr.basic import to_text

    return {str(k): to_text(v) for k, v in params.items()}
