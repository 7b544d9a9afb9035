"""The fake channel: a deterministic world around one call, on a virtual clock.

Everything the outside world would decide comes from a `World` (built from a scenario): what the caller
presses and when, how dialled parties answer, queue and conference outcomes, HTTP answers and media
lengths. Time only moves when an operation takes time (timing model of the simulation spec §3):

    say         len(text) / 15 s per repetition (SSML tags not counted), to the millisecond
    play        the media's duration (World.media, default 3 s)
    silence     its length;  say_digits 0.5 s per digit;  send_dtmf 0.25 s per key, w = 0.5 s, W = 1 s
    input       keys at `at` s into the request (prompts included), else right after the prompts;
                no keys = the full timeout; keys short of a stop condition wait the inter-digit timeout
    record      talk time, then the silence timeout (or the finish key at once)
    dial        ring time `after` (answer 2 s, busy/failed 1 s, no-answer = the dial timeout)
    bridge      the answered party's `talk` (30 s);  queue `after` + `talk`;  conference `talk`
                (a dial with a hang-up key consumes the dialling leg's next input: its keys at `at`
                end the bridge early)
    http        0 s, or the request's timeout when the fixture says `timeout: true`

Leg A hangs up at `hangup_at` wherever the call is; any operation running then is cut short. The
interpreter's deadline (`VirtualClock.deadline_ms`) cuts operations the same way, as `interrupted`.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from ..runtime.channel import (
    HANGUP,
    INTERRUPTED,
    OK,
    BridgeResult,
    CollectRequest,
    CollectResult,
    ConferenceRequest,
    ConferenceResult,
    DialRequest,
    DialResult,
    Prompt,
    PromptOutcome,
    QueueRequest,
    QueueResult,
    RecordRequest,
    RecordResult,
    RecordStartResult,
    Result,
    SpeechRequest,
    SpeechResult,
)
from ..runtime.clock import VirtualClock
from ..runtime.http import HttpRequest, HttpResponse
from ..runtime.ids import SequentialIds
from ..runtime.sms import SmsResult

TTS_CHARS_PER_SECOND = 15
DEFAULT_MEDIA_SECONDS = 3.0
SAY_DIGIT_MS = 500
DTMF_KEY_MS = 250
_SSML_TAG = re.compile(r"<[^>]*>")


# -- the world ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerInput:
    """One caller action, consumed by one input request."""

    kind: str  # keys | timeout | hangup | record | speech
    keys: str = ""
    at: float | None = None
    talk: float = 0.0  # record: seconds of talking
    text: str = ""  # speech
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class DialOutcome:
    status: str  # answer | busy | no-answer | failed
    after: float | None = None
    talk: float = 30.0
    hangup: str = "callee"  # who ends the bridge: callee | caller
    inputs: tuple[CallerInput, ...] = ()
    machine: bool = False  # an answering machine answers (seen only when the dial detects machines)


@dataclass(frozen=True, slots=True)
class QueueOutcome:
    status: str  # answered | answered/agent_hangup | answered/caller_hangup | timeout | exit:<k> | no_agents
    after: float | None = None
    talk: float = 30.0


@dataclass(frozen=True, slots=True)
class ConferenceOutcome:
    talk: float = 30.0
    end: str = "conference"  # conference: it ends and the flow goes on | caller: the caller hangs up


@dataclass(frozen=True, slots=True)
class HttpFixture:
    status: int = 200
    body: str = ""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: bool = False


@dataclass
class World:
    """Everything outside the flow, for one simulated call."""

    caller: list[CallerInput] = field(default_factory=list)
    hangup_at: float | None = None
    dial: dict[str, DialOutcome] = field(default_factory=dict)
    queue: dict[str, QueueOutcome] = field(default_factory=dict)
    conference: dict[str, ConferenceOutcome] = field(default_factory=dict)
    http: dict[str, list[HttpFixture]] = field(default_factory=dict)
    media: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InputRequest:
    """What the flow is waiting for, shown to an interactive caller."""

    kind: str  # collect | speech | record | bridge (a dial's hang-up key)
    leg: str
    prompts: tuple[Prompt, ...] = ()
    max_digits: int | None = None
    timeout: float = 0.0
    finish_on_key: str = ""


class InputSource(Protocol):
    def next_input(self, request: InputRequest) -> CallerInput | None:
        """The caller's next action, or None when they have nothing more to do (they hang up)."""
        ...

    def add_leg(self, leg: str, inputs: tuple[CallerInput, ...]) -> None: ...


class ScriptedInputs:
    """Inputs per leg, consumed in order (leg A from the scenario's `caller`, others from `dial`)."""

    def __init__(self, caller: list[CallerInput]):
        self.queues: dict[str, deque[CallerInput]] = {"A": deque(caller)}

    def add_leg(self, leg: str, inputs: tuple[CallerInput, ...]) -> None:
        if leg not in self.queues or not self.queues[leg]:
            self.queues[leg] = deque(inputs)

    def next_input(self, request: InputRequest) -> CallerInput | None:
        queue = self.queues.get(request.leg)
        return queue.popleft() if queue else None


def lookup(table: dict[str, Any], key: str, default: Any) -> Any:
    if key in table:
        return table[key]
    return table.get("*", default)


# -- durations --------------------------------------------------------------------------------------


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class FakeChannel:
    """A Channel whose world is a `World` and whose time is a `VirtualClock`."""

    def __init__(self, world: World, clock: VirtualClock, *, inputs: InputSource | None = None,
                 ids: SequentialIds | None = None):
        self.world = world
        self.clock = clock
        self.inputs = inputs or ScriptedInputs(world.caller)
        self.ids = ids or SequentialIds()
        self.hangup_at_ms = None if world.hangup_at is None else _ms(world.hangup_at)
        self.dialled: dict[str, DialOutcome] = {}
        self.hangup_keys: dict[str, str] = {}  # dialled leg → the key its dialling leg may end the bridge with
        self.down: set[str] = set()

    # -- time ----------------------------------------------------------------------------------------

    def duration_ms(self, prompt: Prompt) -> int:
        if prompt.kind == "say":
            text = _SSML_TAG.sub("", prompt.text) if prompt.ssml else prompt.text
            return round(len(text) * 1000 / TTS_CHARS_PER_SECOND)
        if prompt.kind == "play":
            return _ms(self.world.media.get(prompt.text, DEFAULT_MEDIA_SECONDS))
        if prompt.kind == "silence":
            return _ms(prompt.seconds)
        return SAY_DIGIT_MS * len(prompt.text)

    def _cut(self, end_ms: int) -> tuple[int, str | None]:
        """When an operation meant to end at `end_ms` really ends, and why it was cut (if it was)."""
        cut_at, why = end_ms, None
        deadline = self.clock.deadline_ms
        if deadline is not None and deadline < cut_at:
            cut_at, why = max(deadline, self.clock.ms), INTERRUPTED
        if self.hangup_at_ms is not None and "A" not in self.down and self.hangup_at_ms < end_ms \
                and self.hangup_at_ms <= cut_at:
            cut_at, why = max(self.hangup_at_ms, self.clock.ms), HANGUP
        return cut_at, why

    def _finish(self, end_ms: int, result: Result) -> Result:
        cut_at, why = self._cut(end_ms)
        self.clock.ms = max(cut_at, self.clock.ms)
        if why == HANGUP:
            self.down.add("A")
            result.outcome, result.hangup_leg = HANGUP, "A"
        elif why == INTERRUPTED:
            result.outcome = INTERRUPTED
        return result

    def _hangup_now(self, leg: str, result: Result) -> Result:
        self.down.add(leg)
        result.outcome, result.hangup_leg = HANGUP, leg
        return result

    # -- call control ---------------------------------------------------------------------------------

    async def answer(self, leg: str) -> Result:
        return self._finish(self.clock.ms, Result())

    async def ringing(self, leg: str) -> Result:
        return self._finish(self.clock.ms, Result())

    async def reject(self, leg: str, reason: str) -> Result:
        self.down.add(leg)
        return Result()

    async def hangup(self, leg: str, cause: str | int | None = None) -> Result:
        self.down.add(leg)
        return Result()

    # -- media ----------------------------------------------------------------------------------------

    async def play(self, leg: str, prompt: Prompt) -> Result:
        return self._finish(self.clock.ms + self.duration_ms(prompt), Result())

    async def send_dtmf(self, leg: str, digits: str) -> Result:
        ms = sum(500 if k == "w" else 1000 if k == "W" else DTMF_KEY_MS for k in digits)
        return self._finish(self.clock.ms + ms, Result())

    # -- input ----------------------------------------------------------------------------------------

    def _prompt_plan(self, prompts: tuple[Prompt, ...], start: int, barge_at: int | None):
        """Play prompts from `start`; a key at `barge_at` stops the one playing. Returns the outcomes
        and when listening starts."""
        t = start
        outcomes = []
        for index, prompt in enumerate(prompts):
            end = t + self.duration_ms(prompt)
            if barge_at is not None and barge_at < end:
                outcomes.append(PromptOutcome(index, barge_at / 1000, interrupted=True))
                return outcomes, barge_at
            outcomes.append(PromptOutcome(index, end / 1000))
            t = end
        return outcomes, t

    @staticmethod
    def _truncate(outcomes: list[PromptOutcome], cut_ms: int) -> list[PromptOutcome]:
        kept = []
        for outcome in outcomes:
            end_ms = round(outcome.ended_at * 1000)
            if end_ms <= cut_ms:
                kept.append(outcome)
            else:
                kept.append(PromptOutcome(outcome.index, cut_ms / 1000, interrupted=True))
                break
        return kept

    def _key_time(self, start: int, entry: CallerInput, prompts: tuple[Prompt, ...], prompts_ms: int,
                  barge_in: bool) -> tuple[int | None, bool]:
        """When the entry's keys are pressed (None: never), and whether they barge into the prompts.

        Keys pressed during a prompt that does not allow barge-in (its own `barge_in`, else the
        request's) are discarded."""
        if not entry.keys:
            return None, False
        if entry.at is None:
            return start + prompts_ms, False
        at = start + _ms(entry.at)
        if at < start + prompts_ms:
            end = start
            for prompt in prompts:
                end += self.duration_ms(prompt)
                if at < end:
                    allowed = barge_in if prompt.barge_in is None else prompt.barge_in
                    return (at, True) if allowed else (None, False)
        return at, False

    async def collect(self, leg: str, request: CollectRequest) -> CollectResult:
        entry = self.inputs.next_input(InputRequest("collect", leg, request.prompts, request.max_digits,
                                                    request.timeout, request.finish_on_key))
        start = self.clock.ms
        if entry is None or entry.kind == "hangup":
            return self._hangup_now(leg, CollectResult(reason="hangup"))
        prompts_ms = sum(self.duration_ms(p) for p in request.prompts)
        key_at, barges = self._key_time(start, entry, request.prompts, prompts_ms, request.barge_in)
        outcomes, listen = self._prompt_plan(request.prompts, start, key_at if barges else None)
        digits, reason, end = "", "timeout", listen + _ms(request.timeout)
        if key_at is not None and key_at - listen <= _ms(request.timeout):
            digits, stop = take_keys(entry.keys, request.finish_on_key, request.max_digits,
                                     request.choices if request.early_match else None)
            reason, end = (stop, key_at) if stop else ("timeout", key_at + _ms(request.inter_digit_timeout))
        cut_at, why = self._cut(end)
        result = CollectResult(digits=digits, reason=reason, prompts=outcomes)
        if why is not None:
            result.prompts = self._truncate(outcomes, cut_at)
            result.digits = digits if key_at is not None and key_at <= cut_at else ""
            result.reason = "hangup" if why == HANGUP else "interrupted"
        return self._finish(end, result)

    async def speech(self, leg: str, request: SpeechRequest) -> SpeechResult:
        entry = self.inputs.next_input(InputRequest("speech", leg, request.prompts, request.max_digits,
                                                    request.timeout, request.finish_on_key))
        start = self.clock.ms
        if entry is None or entry.kind == "hangup":
            return self._hangup_now(leg, SpeechResult(reason="hangup"))
        prompts_ms = sum(self.duration_ms(p) for p in request.prompts)
        result = SpeechResult()
        if entry.kind == "speech":
            at = start + prompts_ms if entry.at is None else start + _ms(entry.at)
            barges = at < start + prompts_ms
            result.prompts, listen = self._prompt_plan(request.prompts, start, at if barges else None)
            if at - listen <= _ms(request.timeout):
                end = max(at, listen) + round(len(entry.text) * 1000 / TTS_CHARS_PER_SECOND)
                result.text, result.confidence, result.reason = entry.text, entry.confidence, "speech"
            else:
                end = listen + _ms(request.timeout)
        elif entry.kind == "keys" and request.dtmf:
            key_at, barges = self._key_time(start, entry, request.prompts, prompts_ms, True)
            result.prompts, listen = self._prompt_plan(request.prompts, start, key_at if barges else None)
            end = listen + _ms(request.timeout)
            if key_at is not None and key_at - listen <= _ms(request.timeout):
                digits, stop = take_keys(entry.keys, request.finish_on_key, request.max_digits, None)
                result.digits, result.reason = digits, "dtmf"
                end = key_at if stop else key_at + _ms(request.timeout)
        else:
            result.prompts, listen = self._prompt_plan(request.prompts, start, None)
            end = listen + _ms(request.timeout)
        cut_at, why = self._cut(end)
        if why is not None:
            result.prompts = self._truncate(result.prompts, cut_at)
            result.text, result.digits, result.confidence = "", "", None
            result.reason = "hangup" if why == HANGUP else "interrupted"
        return self._finish(end, result)

    async def record(self, leg: str, request: RecordRequest) -> RecordResult:
        entry = self.inputs.next_input(InputRequest("record", leg, (), None, request.silence_timeout,
                                                    request.finish_on_key))
        start = self.clock.ms
        if entry is None or entry.kind == "hangup":
            return self._hangup_now(leg, RecordResult(reason="hangup"))
        talk = _ms(entry.talk) if entry.kind == "record" else 0
        max_ms = _ms(request.max_length)
        finish_keys = set(request.finish_on_key)
        key_ms = None
        if entry.keys and any(k in finish_keys for k in entry.keys):
            key_ms = _ms(entry.at) if entry.at is not None else talk
        if key_ms is not None and key_ms < max_ms:
            duration, reason, end = min(talk, key_ms), "finish_key", start + key_ms
        elif talk >= max_ms:
            duration, reason, end = max_ms, "max_length", start + max_ms
        else:
            duration, reason, end = talk, "silence", start + talk + _ms(request.silence_timeout)
        cut_at, why = self._cut(end)
        if why is not None:
            duration = min(duration, cut_at - start)
            reason = "hangup" if why == HANGUP else "interrupted"
        url = f"https://rec.example/{self.ids.next('rec')}.{request.format or 'wav'}" if duration > 0 else ""
        result = RecordResult(url=url, duration=duration / 1000, reason=reason,
                              digits=entry.keys if reason == "finish_key" else "")
        if request.transcribe and duration > 0:
            result.transcription = entry.text  # what the scenario says the caller said ("" = nothing usable)
        return self._finish(end, result)

    async def record_start(self, leg: str, legs: str, *, format: str | None = None,
                           trim_silence: bool = False) -> RecordStartResult:
        url = f"https://rec.example/{self.ids.next('rec')}.{format or 'wav'}"
        return self._finish(self.clock.ms, RecordStartResult(url=url))

    async def record_stop(self, leg: str) -> Result:
        return self._finish(self.clock.ms, Result())

    # -- other parties --------------------------------------------------------------------------------

    async def dial(self, leg: str | None, new_leg: str, request: DialRequest) -> DialResult:
        start = self.clock.ms
        timeout = _ms(request.timeout)
        candidates = []
        for order, target in enumerate(request.targets):
            outcome = lookup(self.world.dial, target, DialOutcome("no-answer"))
            candidates.append((outcome, target, order))
        answering = [
            (_ms(o.after if o.after is not None else 2.0), order, o, target)
            for o, target, order in candidates if o.status == "answer"
        ]
        answering = [a for a in answering if a[0] < timeout]
        result = DialResult()
        if answering:
            ring, _, outcome, target = min(answering)
            result.status, result.answered_by, end = "answered", target, start + ring
            self.dialled[new_leg] = outcome
            self.inputs.add_leg(new_leg, outcome.inputs)
            if request.detect_machine:
                result.machine = outcome.machine
            if request.hangup_key:
                self.hangup_keys[new_leg] = request.hangup_key
        elif any(o.status in ("no-answer", "answer") for o, _, _ in candidates):
            result.status, end = "no-answer", start + timeout
        else:
            rings = [_ms(o.after if o.after is not None else 1.0) for o, _, _ in candidates]
            statuses = {o.status for o, _, _ in candidates}
            result.status = "busy" if statuses == {"busy"} else "failed"
            end = start + min(max(rings), timeout)
        cut_at, why = self._cut(end)
        if why is not None:
            result.status, result.answered_by = "canceled", None
            self.dialled.pop(new_leg, None)
        return self._finish(end, result)

    def _scripted_party(self, leg: str, peer: str) -> tuple[str, str]:
        """(the leg whose dial entry scripts a bridge, the other one): the dialled leg of the pair, the
        later-dialled one when both were. A bridge is one connection, so it lasts the same however the flow
        names its two legs, as on a switch (where a dialled leg is bridged to the leg that dialled it)."""
        if leg in self.dialled and (peer not in self.dialled or (len(leg), leg) > (len(peer), peer)):
            return leg, peer
        return peer, leg

    async def bridge(self, leg: str, peer: str, time_limit: float | None = None) -> BridgeResult:
        party, other = self._scripted_party(leg, peer)
        outcome = self.dialled.get(party) or DialOutcome("answer")
        talk = _ms(outcome.talk)
        ender = party if outcome.hangup == "callee" else other
        start = self.clock.ms
        result = BridgeResult()
        key = self.hangup_keys.get(peer)
        key_at = None
        if key is not None:
            # the dialling leg may press the hang-up key: its next input entry says whether and when
            entry = self.inputs.next_input(InputRequest("bridge", leg, (), None, 0.0, key))
            if entry is not None and entry.kind == "hangup":
                return self._hangup_now(leg, BridgeResult(ended_by=leg))
            if entry is not None and key in entry.keys:
                key_at = start + (_ms(entry.at) if entry.at is not None else 0)
        if time_limit is not None and _ms(time_limit) < talk:
            end, result.ended_by = start + _ms(time_limit), None
        else:
            end, result.ended_by = start + talk, ender
        if key_at is not None and key_at < end:
            end, result.ended_by, result.key = key_at, None, key
        cut_at, why = self._cut(end)
        result.duration = (cut_at - start) / 1000
        if why == HANGUP:
            result.ended_by = "A"
        self._finish(end, result)
        if result.outcome == OK and result.ended_by is not None:
            self._hangup_now(result.ended_by, result)
        return result

    async def queue(self, leg: str, request: QueueRequest) -> QueueResult:
        outcome = lookup(self.world.queue, request.name, QueueOutcome("no_agents"))
        status = outcome.status
        if outcome.after is not None:
            wait = _ms(outcome.after)
        elif status == "timeout":
            wait = _ms(request.max_wait if request.max_wait is not None else 60.0)
        else:
            wait = 0
        talk = _ms(outcome.talk) if status.startswith("answered") else 0
        start = self.clock.ms
        if request.wait_deadline is not None and _ms(request.wait_deadline) < start + wait:
            # still waiting when the call's lifetime ends: the caller leaves the queue unanswered
            result = QueueResult(status="timeout")
            self._finish(max(_ms(request.wait_deadline), start), result)
            if result.outcome == OK:
                result.outcome = INTERRUPTED
            return result
        result = QueueResult(status=status, duration=talk / 1000)
        self._finish(start + wait + talk, result)
        if result.outcome == OK and status == "answered/caller_hangup":
            self._hangup_now("A", result)
        elif result.outcome != OK:
            result.duration = max(0.0, (self.clock.ms - start - wait) / 1000)
        return result

    async def conference(self, leg: str, request: ConferenceRequest) -> ConferenceResult:
        outcome = lookup(self.world.conference, request.room, ConferenceOutcome())
        start = self.clock.ms
        result = ConferenceResult()
        if not request.wait:  # joined; the leg stays in the room while the flow goes on
            return self._finish(start, result)
        self._finish(start + _ms(outcome.talk), result)
        result.duration = (self.clock.ms - start) / 1000
        if result.outcome == OK and outcome.end == "caller":
            self._hangup_now(leg, result)
        return result


def take_keys(keys: str, finish_on_key: str, max_digits: int | None,
              choices: tuple[str, ...] | None) -> tuple[str, str | None]:
    """Apply keys pressed together: the digits kept and the stop reason (None: still listening)."""
    digits = ""
    for key in keys:
        if finish_on_key and key in finish_on_key:
            return digits, "finish_key"
        digits += key
        if max_digits is not None and len(digits) >= max_digits:
            return digits, "max_digits"
        if choices and digits in choices and not any(c != digits and c.startswith(digits) for c in choices):
            return digits, "match"
    return digits, None


# -- HTTP and SMS in the fake world ------------------------------------------------------------------


class FakeHttp:
    """Answers HTTP requests from the world's fixtures (spec §2: full URL first, then without query)."""

    def __init__(self, world: World, clock: VirtualClock):
        self.world = world
        self.clock = clock
        self.used: dict[str, int] = {}

    def full_url(self, request: HttpRequest) -> str:
        if request.params and request.params_in_query:
            sep = "&" if "?" in request.url else "?"
            return request.url + sep + urlencode(request.params)
        return request.url

    def fixture(self, request: HttpRequest) -> HttpFixture | None:
        full = self.full_url(request)
        base = full.split("?", 1)[0]
        for key in (f"{request.method} {full}", full, f"{request.method} {base}", base, "*"):
            fixtures = self.world.http.get(key)
            if fixtures:
                index = self.used.get(key, 0)
                self.used[key] = index + 1
                return fixtures[min(index, len(fixtures) - 1)]
        return None

    async def send(self, request: HttpRequest) -> HttpResponse:
        fixture = self.fixture(request)
        if fixture is None:
            return HttpResponse(404, "", {"content-type": "text/plain"})
        if fixture.timeout:
            self.clock.advance_ms(_ms(request.timeout))
            return HttpResponse(0, error="timeout")
        headers = dict(fixture.headers)
        if fixture.content_type:
            headers["content-type"] = fixture.content_type
        return HttpResponse(fixture.status, fixture.body, headers)


class FakeSms:
    """Every message is sent; ids are sequential."""

    def __init__(self, ids: SequentialIds):
        self.ids = ids

    async def send(self, to: list[str], from_: str | None, body: str, *, media: tuple[str, ...] = ()) -> SmsResult:
        return SmsResult(True, self.ids.next("sms"), "sent")


def json_fixture(value: Any, status: int = 200) -> HttpFixture:
    return HttpFixture(status, json.dumps(value, separators=(",", ":")), "application/json")
