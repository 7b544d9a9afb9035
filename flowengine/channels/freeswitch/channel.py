"""The FreeSWITCH channel: every Channel primitive as `sendmsg execute` of dptools apps on one outbound
Event Socket (`socket host:8084 async full`).

    channel = FreeSwitchChannel(connection, data, clock=RealClock(), options=FreeSwitchOptions())
    await Interpreter(flow, channel, call=..., clock=channel.clock).run()

How primitives map (docs/freeswitch.md has the whole table and the reasons):
  answer answer · ringing ring_ready · reject respond 486/603 (SIP) then hangup USER_BUSY/CALL_REJECTED
  hangup hangup <cause> · say speak <engine>|<voice>|<text> (or a file from the daemon's TTS provider)
  play playback (files, tone_stream://, http(s) through http_cache://) · silence sleep (playback of
  silence_stream:// inside an input request, so a key stops it) · say_digits say <lang> number iterated
  collect prompts as playbacks with playback_terminators, then play_and_get_digits as the listener
  record record · record_start/stop record_session / stop_record_session · send_dtmf send_dtmf
  dial bridge (the legs are bridged inside FreeSWITCH; `bridge` reports it); with on_answer, the bridge's
  group confirmation hands the answered leg to its own outbound socket first (legs.py) · conference conference
  queue, speech: refused (no queue or recogniser app is assumed on the switch)

Rules kept here:
  * Async mode: `sendmsg` only queues, its `+OK` says nothing about the app. An app is over when the
    CHANNEL_EXECUTE_COMPLETE whose Application-UUID is our Event-UUID arrives (ids are injected).
  * Keys: FreeSWITCH fires DTMF when a key is dequeued, so a DTMF event between an app's CHANNEL_EXECUTE
    and its EXECUTE_COMPLETE was read by that app. Keys read by a prompt that must be heard in full are
    dropped; every other key is kept, in order, for the next input request: keys pressed while no app
    ran are lost to the switch (shared/wire/…dtmf-while-idle), so this buffer is the type-ahead.
  * Each input request is announced with the channel variable `flowengine_input` (`collect-3/2`: the
    third request, listening after 2 prompts), set with a pipelined `uuid_setvar`: operators see what
    the flow waits for, and the fake FreeSWITCH knows where each scripted caller action begins.
  * Call outcomes are values: CHANNEL_HANGUP, a lost connection or garbage from the switch make the
    running primitive return outcome "hangup" for leg A. A refused command (`-ERR`) or a failed app
    (FILE NOT FOUND) raises ChannelError: the interpreter reports E_CHANNEL and the call ends.
  * Leg A (the socket's channel) and held legs (a dial's on_answer: legs.py, channels/held.py) take
    commands, each on its own socket; a leg the bridge app connected at once stays inside FreeSWITCH.
    Which leg a primitive runs on, and bridge-after-dial, are channels/switch.py's (shared with Asterisk).
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Protocol

from ...diagnostics import WARNING, Diagnostic
from ...errors import ChannelError
from ...ir.model import Flow
from ...runtime.channel import (
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
from ...runtime.clock import Clock
from ...runtime.ids import RandomIds
from ..fake import take_keys
from ..held import MAIN, on_leg
from ..switch import DialledLeg, SwitchChannel
from .esl import ChannelData, Command, CommandReply, EslEvent, sendmsg, sendmsg_hangup
from .legs import EslHolds, LegSessions
from .outbound import EslConnection, Gone

__all__ = ["FreeSwitchChannel", "FreeSwitchOptions", "Originator", "Originated", "TtsProvider",
           "hangup_cause", "capability_warnings", "dial_string", "DISPOSITIONS", "Q850"]

log = logging.getLogger("flowengine.freeswitch")

KEYS = "0123456789*#"
MAX_DIGITS = 128  # play_and_get_digits' limit
FAILED_RESPONSES = ("FILE NOT FOUND", "PLAYBACK ERROR", "-ERR")

Q850: dict[int, str] = {
    0: "NONE", 1: "UNALLOCATED_NUMBER", 2: "NO_ROUTE_TRANSIT_NET", 3: "NO_ROUTE_DESTINATION",
    6: "CHANNEL_UNACCEPTABLE", 7: "CALL_AWARDED_DELIVERED", 16: "NORMAL_CLEARING", 17: "USER_BUSY",
    18: "NO_USER_RESPONSE", 19: "NO_ANSWER", 20: "SUBSCRIBER_ABSENT", 21: "CALL_REJECTED", 22: "NUMBER_CHANGED",
    23: "REDIRECTION_TO_NEW_DESTINATION", 25: "EXCHANGE_ROUTING_ERROR", 27: "DESTINATION_OUT_OF_ORDER",
    28: "INVALID_NUMBER_FORMAT", 29: "FACILITY_REJECTED", 30: "RESPONSE_TO_STATUS_ENQUIRY",
    31: "NORMAL_UNSPECIFIED", 34: "NORMAL_CIRCUIT_CONGESTION", 38: "NETWORK_OUT_OF_ORDER",
    41: "NORMAL_TEMPORARY_FAILURE", 42: "SWITCH_CONGESTION", 43: "ACCESS_INFO_DISCARDED",
    44: "REQUESTED_CHAN_UNAVAIL", 45: "PRE_EMPTED", 50: "FACILITY_NOT_SUBSCRIBED", 52: "OUTGOING_CALL_BARRED",
    54: "INCOMING_CALL_BARRED", 57: "BEARERCAPABILITY_NOTAUTH", 58: "BEARERCAPABILITY_NOTAVAIL",
    63: "SERVICE_UNAVAILABLE", 65: "BEARERCAPABILITY_NOTIMPL", 66: "CHAN_NOT_IMPLEMENTED",
    69: "FACILITY_NOT_IMPLEMENTED", 79: "SERVICE_NOT_IMPLEMENTED", 81: "INVALID_CALL_REFERENCE",
    88: "INCOMPATIBLE_DESTINATION", 95: "INVALID_MSG_UNSPECIFIED", 96: "MANDATORY_IE_MISSING",
    97: "MESSAGE_TYPE_NONEXIST", 98: "WRONG_MESSAGE", 99: "IE_NONEXIST", 100: "INVALID_IE_CONTENTS",
    101: "WRONG_CALL_STATE", 102: "RECOVERY_ON_TIMER_EXPIRE", 103: "MANDATORY_IE_LENGTH_ERROR",
    111: "PROTOCOL_ERROR", 127: "INTERWORKING",
}
"""Q.850 cause codes to FreeSWITCH's cause names (switch_types.h, switch_cause_t)."""

CAUSE_ALIASES = {
    "normal": "NORMAL_CLEARING", "busy": "USER_BUSY", "rejected": "CALL_REJECTED", "no-answer": "NO_ANSWER",
    "congestion": "NORMAL_CIRCUIT_CONGESTION", "failed": "NORMAL_TEMPORARY_FAILURE", "unallocated": "UNALLOCATED_NUMBER",
}
"""The cause names flows use (the same words the Asterisk channel accepts)."""

EXTRA_CAUSES = frozenset({"SUCCESS", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT", "MANAGER_REQUEST", "MEDIA_TIMEOUT",
                          "USER_NOT_REGISTERED", "PROGRESS_TIMEOUT", "NO_PICKUP", "LOSE_RACE", "SYSTEM_SHUTDOWN",
                          "GATEWAY_DOWN", "INVALID_GATEWAY", "BLIND_TRANSFER", "ATTENDED_TRANSFER", "DECLINE"})
"""FreeSWITCH causes outside Q.850 (switch_types.h) that a flow may name."""

DISPOSITIONS = {
    "SUCCESS": "answered", "USER_BUSY": "busy", "NO_ANSWER": "no-answer", "NO_USER_RESPONSE": "no-answer",
    "PROGRESS_TIMEOUT": "no-answer", "ALLOTTED_TIMEOUT": "no-answer", "ORIGINATOR_CANCEL": "canceled",
    "LOSE_RACE": "canceled", "BUSY": "busy", "NOANSWER": "no-answer", "CANCEL": "canceled",
}
"""originate_disposition (and BACKGROUND_JOB `-ERR <cause>`) to dial outcomes; any other cause is failed."""


def hangup_cause(cause: str | int | None) -> str:
    """A flow's hang-up cause (Q.850 code, alias, or FreeSWITCH name) as a FreeSWITCH cause name."""
    if cause is None:
        return "NORMAL_CLEARING"
    if isinstance(cause, int) or (isinstance(cause, str) and cause.isdigit()):
        return Q850.get(int(cause), "NORMAL_CLEARING")
    text = str(cause).strip()
    if text.lower() in CAUSE_ALIASES:
        return CAUSE_ALIASES[text.lower()]
    name = text.upper().replace("-", "_")
    if name in EXTRA_CAUSES or name in Q850.values():
        return name
    raise ChannelError(f"unknown hang-up cause {cause!r} for FreeSWITCH (use a Q.850 code or a name such as "
                       "normal, busy, rejected, NORMAL_CLEARING)")


class TtsProvider(Protocol):
    """Renders speech to a file the switch can play; returns its path without the extension (the
    daemon's providers are shared with the Asterisk channel)."""

    async def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None,
                         ssml: bool = False, engine: str | None = None) -> str: ...


@dataclass(frozen=True)
class FreeSwitchOptions:
    """How the channel maps flows onto this FreeSWITCH (the daemon fills it from `[freeswitch]`)."""

    dial_template: str = "sofia/gateway/default/{target}"
    """A dial target as a bridge dial string; targets that already name an endpoint (`sofia/…`, `user/…`,
    `loopback/…`, `{vars}…`) are used as they are."""
    tts: str = "speak"
    """speak: FreeSWITCH's own TTS (`speak` with speak_engine/speak_voice); provider: the daemon's [tts]
    renders a file that FreeSWITCH plays (it must see the same path)."""
    speak_engine: str = "flite"
    speak_voice: str = "kal"
    tts_suffix: str = ".wav"
    say_language: str = "en"
    http_prefix: str = "http_cache://"
    """Prefix for http(s) media (mod_http_cache); "" plays the URL as it is (mod_httapi)."""
    recordings_dir: str = "/var/lib/freeswitch/recordings/flowengine"
    recording_format: str = "wav"
    recording_url: str = "file://{path}"
    """The URL a flow sees for a recording; `{path}` is the file FreeSWITCH wrote, `{name}` its name."""
    silence_threshold: int = 200
    """Energy under which `record` counts a second as silence."""
    conference_profile: str = "default"


class Originator(Protocol):
    """Places the first call of an API-started flow (inbound ESL `bgapi originate … &socket(…)`) and hands
    back the outbound connection the answered call opened."""

    async def originate(self, request: DialRequest) -> "Originated": ...


@dataclass
class Originated:
    status: str  # answered | busy | no-answer | failed | canceled
    connection: EslConnection | None = None
    data: ChannelData | None = None
    answered_by: str | None = None


@dataclass
class _App:
    """One app we sent: whether keys it reads are dropped, whether it started, and its completion."""

    name: str
    drop_keys: bool
    done: asyncio.Future
    started: bool = False


class FreeSwitchChannel(EslHolds, SwitchChannel):
    """A Channel on one FreeSWITCH call, driven over an outbound Event Socket (see the module docstring). A
    held leg's sub-channel is one too, on that leg's socket (`answered_leg`)."""

    NOT_ON_LEG = ("{what} on leg {leg} is not supported on FreeSWITCH: the bridge app connected that leg inside "
                  "FreeSWITCH (give the dial on_answer states to run commands on it)")
    NESTED_HOLD = ("a dial with on_answer from leg {leg} is not supported on FreeSWITCH while leg {leg}'s own "
                   "states run (it is inside the bridge's confirmation)")
    BRIDGE_AFTER_DIAL = "bridge is only supported right after dial on FreeSWITCH (the bridge app bridges)"
    NO_ORIGINATOR = "this FreeSWITCH channel cannot place calls: configure [freeswitch.inbound]"

    def __init__(self, connection: EslConnection | None, data: ChannelData | None, *, clock: Clock,
                 options: FreeSwitchOptions | None = None, tts: TtsProvider | None = None,
                 originator: Originator | None = None, ids: RandomIds | None = None,
                 legs: LegSessions | None = None):
        self.clock = clock
        self.options = options or FreeSwitchOptions()
        self.tts = tts
        self.originator = originator
        self.legs = legs
        self.ids = ids or RandomIds()
        self.answered_leg = False  # this socket is a dialled leg's (recording directions swap)
        self._init_legs()
        # -- the call's connection (None until an API-started flow's first dial is answered)
        self.connection: EslConnection | None = None
        self.uuid = ""
        self.channel_name = ""
        # -- per-call state
        self.down = False  # leg A is gone
        self.hangup_cause: str | None = None  # as FreeSWITCH reported it (CHANNEL_HANGUP)
        self.failure: str | None = None  # why the connection ended, when not a plain hang-up
        self._apps: dict[str, _App] = {}
        self._running: _App | None = None
        self._last_started_at: float | None = None  # switch time of the last CHANNEL_EXECUTE of ours
        self._keys: list[str] = []
        self._variables: dict[str, str] = {}  # channel variables as we last set them
        self._unsent: dict[str, str] = {}  # … of which these are not written yet
        self._inputs = 0
        self._bridges: list[tuple[str, float]] = []  # (event name, switch time) of CHANNEL_(UN)BRIDGE
        self._dialled: dict[str, DialledLeg] = {}
        self._recording: str | None = None
        if connection is not None and data is not None:
            self.attach(connection, data)

    @property
    def switch_hung_up(self) -> bool:
        """The switch reported leg A's hang-up (CHANNEL_HANGUP): its linger notice will follow."""
        return self.hangup_cause is not None

    def attach(self, connection: EslConnection, data: ChannelData) -> None:
        """Take over an outbound connection whose session is set up (connect, myevents, linger)."""
        self.connection = connection
        self.uuid = data.uuid or ""
        self.channel_name = data.get("Channel-Name") or ""
        self.down = False
        connection.on_event = self._on_event
        connection.on_gone = self._on_lost
        connection.on_linger = self._release
        gone = connection.gone
        if gone is not None:
            self._on_lost(gone)

    # -- events (called in wire order by the connection) ----------------------------------------------

    def _on_event(self, event: EslEvent) -> None:
        name = event.name
        if name == "DTMF":
            digit = event.headers.exact("DTMF-Digit") or ""
            running = self._running
            if len(digit) == 1 and event.uuid == self.uuid and (running is None or not running.drop_keys):
                self._keys.append(digit)
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            app = self._apps.pop(event.headers.exact("Application-UUID") or "", None)
            if app is not None:
                if self._running is app:
                    self._running = None
                if not app.done.done():
                    app.done.set_result(event)
        elif name == "CHANNEL_EXECUTE":
            app = self._apps.get(event.headers.exact("Application-UUID") or "")
            if app is not None:
                app.started = True
                self._running = app
                self._last_started_at = _switch_time(event)
        elif name == "CHANNEL_HANGUP":
            if event.uuid == self.uuid or not self.uuid:
                self.hangup_cause = event.headers.exact("Hangup-Cause")
                self._hung_up()
        elif name == "CHANNEL_BRIDGE" or name == "CHANNEL_UNBRIDGE":
            self._bridges.append((name, _switch_time(event)))

    def _hung_up(self) -> None:
        """Leg A is gone: apps that never started never will; the running one still completes."""
        self.down = True
        for uuid, app in list(self._apps.items()):
            if not app.started and not app.done.done():
                log.debug("FreeSWITCH hung up before running %s", app.name)
                app.done.set_result(None)
                self._apps.pop(uuid, None)

    def _on_lost(self, gone: Gone) -> None:
        if gone.reason == "protocol" and self.failure is None:
            self.failure = f"protocol error: {gone.detail}"
        self._release()

    def _release(self) -> None:
        """The channel is gone for good (linger notice, or no connection): no app will complete."""
        self.down = True
        for app in self._apps.values():
            if not app.done.done():
                app.done.set_result(None)
        self._apps.clear()
        self._running = None

    def close_session(self) -> None:
        """Close the socket: the socket app returns (a held leg then wins its bridge)."""
        self._release()
        if self.connection is not None:
            self.connection.close()

    # -- plumbing ------------------------------------------------------------------------------------

    async def _execute(self, app: str, arg: str | None = None, *, drop_keys: bool = False) -> EslEvent | None:
        """Run one dptools app to its end: its EXECUTE_COMPLETE, or None when the call is gone. Keys it reads
        are kept for the next input request, unless `drop_keys` (a prompt that must be heard)."""
        connection = self.connection
        if self.down or connection is None:
            self.down = True
            return None
        uuid = self.ids.next("fe")
        self._flush_variables()
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        record = _App(app, drop_keys, done)
        self._apps[uuid] = record
        reply = await connection.command(sendmsg(app, arg, event_uuid=uuid))
        if isinstance(reply, Gone):
            return None
        if isinstance(reply, CommandReply) and not reply.ok:
            self._apps.pop(uuid, None)
            raise ChannelError(f"FreeSWITCH refused {app}: {reply.reply_text}")
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # a deadline cut the primitive: stop the app (or flush it from the queue) so the flow's next
            # step does not wait behind it
            if not done.done() and not self.down:
                connection.post(Command(f"api uuid_break {self.uuid} all"), "uuid_break")
            raise

    def _setvar(self, name: str, value: str) -> None:
        """Set a channel variable when it changes. Sets are batched and written just before the next app
        (one pipelined `uuid_setvar_multi`, no round trip of their own)."""
        if self._variables.get(name) == value or self.connection is None or self.down:
            return
        self._variables[name] = value
        self._unsent[name] = value

    def _flush_variables(self) -> None:
        unsent, self._unsent = self._unsent, {}
        if not unsent or self.connection is None or self.down:
            return
        if len(unsent) == 1 or any(";" in v for v in unsent.values()):
            for name, value in unsent.items():
                self.connection.post(Command(f"api uuid_setvar {self.uuid} {name} {value}"), f"setting {name}")
            return
        pairs = ";".join(f"{name}={value}" for name, value in unsent.items())
        self.connection.post(Command(f"api uuid_setvar_multi {self.uuid} {pairs}"), "setting variables")

    def _take_keys(self) -> str:
        keys = "".join(self._keys)
        self._keys.clear()
        return keys

    @staticmethod
    def _check(event: EslEvent, what: str) -> None:
        response = event.headers.exact("Application-Response") or ""
        if response.startswith(FAILED_RESPONSES):
            raise ChannelError(f"FreeSWITCH could not {what}: {response}")

    # -- call control --------------------------------------------------------------------------------

    async def _answer_main(self) -> Result:
        event = await self._execute("answer")
        return self._hung(Result()) if event is None or self.down else Result()

    @on_leg
    async def ringing(self, leg: str) -> Result:
        self._require_main(leg, "ringing")
        event = await self._execute("ring_ready")
        return self._hung(Result()) if event is None else Result()

    async def _reject_main(self, reason: str) -> Result:
        cause = "USER_BUSY" if reason == "busy" else "CALL_REJECTED"
        if self.channel_name.startswith("sofia/"):
            await self._execute("respond", "486 Busy Here" if reason == "busy" else "603 Decline")
        await self._execute("hangup", cause)
        return Result()

    async def _hang_up_main(self, cause: str | int | None) -> Result:
        """Hang leg A up with `cause`. The last resort of every run, so it never raises for the switch's
        sake: a refused `hangup` app is retried as `call-command: hangup` (logged), then the owner closes."""
        name = hangup_cause(cause)
        try:
            await self._free(ending=True)
        except ChannelError as exc:
            log.warning("FreeSWITCH %s: ending a held leg failed: %s", self.uuid, exc)
        if self.down or self.connection is None:
            return Result()
        try:
            await self._execute("hangup", name)
        except ChannelError as exc:
            log.warning("FreeSWITCH %s: %s; hanging up with call-command instead", self.uuid, exc)
            self.connection.post(sendmsg_hangup(name), "sendmsg hangup")
            self.down = True
        return Result()

    # -- media ---------------------------------------------------------------------------------------

    @on_leg
    async def play(self, leg: str, prompt: Prompt) -> Result:
        self._require_main(leg, prompt.kind)
        self._setvar("playback_terminators", "none")
        event = await self._prompt(prompt, inside_request=False)
        return self._hung(Result()) if event is None or self.down else Result()

    async def _prompt(self, prompt: Prompt, *, inside_request: bool, drop_keys: bool = False) -> EslEvent | None:
        """Play one prompt to its end (a key stops it when playback_terminators allows)."""
        kind = prompt.kind
        if kind == "silence":
            ms = max(0, round(prompt.seconds * 1000))
            if inside_request:
                app, arg, what = "playback", f"silence_stream://{ms}", "pause"
            else:
                app, arg, what = "sleep", str(ms), "pause"
        elif kind == "say_digits":
            digits = "".join(ch for ch in prompt.text if ch in KEYS)
            method = prompt.method if prompt.method in ("iterated", "pronounced", "counted") else "iterated"
            app, arg, what = "say", f"{_language(prompt.language, self.options.say_language)} number {method} {digits}", \
                f"say digits {digits}"
        elif kind == "say":
            app, arg, what = await self._speech(prompt)
        else:
            app, arg, what = "playback", self.media(prompt.text), f"play {prompt.text}"
        event = await self._execute(app, arg, drop_keys=drop_keys)
        if event is not None and not self.down:
            self._check(event, what)
        return event

    async def _speech(self, prompt: Prompt) -> tuple[str, str, str]:
        text = " ".join(prompt.text.split())
        if self.options.tts == "provider" and self.tts is not None:
            path = await self.tts.synthesize(prompt.text, voice=prompt.voice, language=prompt.language,
                                             ssml=prompt.ssml, engine=prompt.engine)
            return "playback", path + self.options.tts_suffix, f"play the speech for {text[:40]!r}"
        engine = prompt.engine or self.options.speak_engine
        voice = prompt.voice or self.options.speak_voice
        return "speak", f"{engine}|{voice}|{text}", f"speak {text[:40]!r}"

    def media(self, url: str) -> str:
        """A flow's media URL as a playback argument."""
        if url.startswith(("http://", "https://")) and self.options.http_prefix:
            return self.options.http_prefix + url
        if url.startswith("file://"):
            return url[len("file://"):]
        return url

    @on_leg
    async def send_dtmf(self, leg: str, digits: str) -> Result:
        if leg != MAIN:
            dialled = self._dialled.get(leg)
            if dialled is not None:
                return Result()  # sent on answer by the bridge (execute_on_answer)
            self._require_main(leg, "send_dtmf")
        keys = "".join(ch for ch in digits if ch in KEYS + "ABCDabcdwW")
        event = await self._execute("send_dtmf", keys)
        return self._hung(Result()) if event is None or self.down else Result()

    # -- input ---------------------------------------------------------------------------------------

    def _announce(self, kind: str, prompts: int = 0) -> None:
        """Mark the start of an input request in the channel variable `flowengine_input`."""
        self._inputs += 1
        self._setvar("flowengine_input", f"{kind}-{self._inputs}" + (f"/{prompts}" if prompts else ""))

    @on_leg
    async def collect(self, leg: str, request: CollectRequest) -> CollectResult:
        self._require_main(leg, "collect")
        result = CollectResult(reason="hangup")
        if self.down:
            return self._hung(result)
        self._announce("collect", len(request.prompts))
        finish, maximum = request.finish_on_key, request.max_digits
        choices = request.choices if request.early_match else None
        first = request.prompts[0] if request.prompts else None
        typed = self._take_keys()
        if typed and first is not None and not (request.barge_in if first.barge_in is None else first.barge_in):
            typed = ""  # the prompt must be heard: keys pressed ahead of it are dropped
        pressed = typed
        digits, stop = take_keys(pressed, finish, maximum, choices)
        if pressed and request.prompts:
            result.prompts.append(PromptOutcome(0, self.clock.now(), interrupted=True))
        for index, prompt in enumerate(request.prompts if not pressed else ()):
            barge_in = request.barge_in if prompt.barge_in is None else prompt.barge_in
            self._setvar("playback_terminators", "any" if barge_in else "none")
            event = await self._prompt(prompt, inside_request=True, drop_keys=not barge_in)
            keys = self._take_keys()
            if event is None or self.down:
                if event is not None:  # it had started when the caller left
                    result.prompts.append(PromptOutcome(index, self.clock.now(), interrupted=True))
                return self._hung(result)
            if keys and barge_in:
                result.prompts.append(PromptOutcome(index, self.clock.now(), interrupted=True))
                pressed = keys
                digits, stop = take_keys(pressed, finish, maximum, choices)
                break
            result.prompts.append(PromptOutcome(index, self.clock.now()))
        if stop is None:
            heard = await self._listen(request, digits, bool(pressed))
            if heard is None:
                result.digits = digits
                return self._hung(result)
            pressed += heard
            digits, stop = take_keys(pressed, finish, maximum, choices)
        self._give_back(pressed, digits, stop)
        self._flush_variables()  # typed-ahead keys may have ended the request before any app ran
        result.digits, result.reason = digits, stop or "timeout"
        return result

    async def _listen(self, request: CollectRequest, digits: str, pressed: bool) -> str | None:
        """Wait for keys with play_and_get_digits (first-key and inter-digit timeouts, the finish key, the
        digits still wanted); returns the keys it dequeued, or None when the call is gone."""
        wanted = (request.max_digits or MAX_DIGITS) - len(digits)
        timeout = request.inter_digit_timeout if pressed else request.timeout
        terminators = request.finish_on_key or "none"
        arg = (f"1 {max(1, min(wanted, MAX_DIGITS))} 1 {_ms(timeout)} {terminators} silence_stream://1 "
               f"silence_stream://1 flowengine_digits .+ {_ms(request.inter_digit_timeout)}")
        event = await self._execute("play_and_get_digits", arg)
        keys = self._take_keys()
        if event is None or self.down:
            return None
        return keys

    def _give_back(self, pressed: str, digits: str, stop: str | None) -> None:
        """Keys read beyond what this request used stay buffered for the next one."""
        if stop is None:
            return
        used = len(digits) + (1 if stop == "finish_key" else 0)
        self._keys[:0] = list(pressed[used:])

    @on_leg
    async def speech(self, leg: str, request: SpeechRequest) -> SpeechResult:
        raise ChannelError("speech input is not supported on FreeSWITCH by flowengine (no recogniser module "
                           "is assumed; use collect)")

    @on_leg
    async def record(self, leg: str, request: RecordRequest) -> RecordResult:
        self._require_main(leg, "record")
        if request.transcribe:
            raise ChannelError("recording transcription is not supported on FreeSWITCH by flowengine (no "
                               "recogniser module is assumed)")
        result = RecordResult(reason="hangup")
        if self.down:
            return self._hung(result)
        self._announce("record")
        path = self._recording_path(request.format)
        if request.beep:
            self._setvar("playback_terminators", "none")
            beep = await self._execute("playback", "tone_stream://%(250,0,1000)")
            if beep is None or self.down:
                return self._hung(result)
        self._take_keys()
        self._setvar("playback_terminators", request.finish_on_key or "none")
        arg = f"{path} {max(1, math.ceil(request.max_length))}"
        if request.silence_timeout > 0:
            arg += f" {self.options.silence_threshold} {max(1, round(request.silence_timeout))}"
        event = await self._execute("record", arg)
        keys = self._take_keys()
        if event is None:
            return self._hung(result)
        self._check(event, f"record {path}")
        ms = _number(event.headers.exact("variable_record_ms"))
        if ms is None:
            ms = (_number(event.headers.exact("variable_record_seconds")) or 0) * 1000
        result.duration = round(ms / 1000, 3)
        if result.duration > 0:
            result.url = self._recording_url(path)
        if self.down:
            return self._hung(result)
        used = event.headers.exact("variable_playback_terminator_used") or next(
            (k for k in keys if request.finish_on_key and k in request.finish_on_key), "")
        if used:
            result.reason, result.digits = "finish_key", used
        elif result.duration >= request.max_length - 0.5:
            result.reason = "max_length"
        else:
            # record stops after `silence_timeout` seconds of silence, which it keeps in the file: the flow's
            # duration is the talking before them
            result.reason = "silence"
            result.duration = round(max(0.0, result.duration - request.silence_timeout), 3)
            if result.duration == 0:
                result.url = ""
        return result

    def _recording_path(self, format: str | None = None) -> str:
        """Where FreeSWITCH writes a recording; the extension picks the format (mp3 needs mod_shout)."""
        return (f"{self.options.recordings_dir.rstrip('/')}/{self.ids.next('rec')}."
                f"{format or self.options.recording_format}")

    def _recording_url(self, path: str) -> str:
        return self.options.recording_url.format(path=path, name=path.rsplit("/", 1)[-1])

    @on_leg
    async def record_start(self, leg: str, legs: str, *, format: str | None = None,
                           trim_silence: bool = False) -> RecordStartResult:
        """record_session; `trim_silence` has no FreeSWITCH equivalent for a session recording (the file
        keeps its silences)."""
        self._require_main(leg, "record_start")
        path = self._recording_path(format)
        own, other = ("callee", "caller") if self.answered_leg else ("caller", "callee")  # what this leg says
        self._setvar("RECORD_READ_ONLY", "true" if legs == own else "false")
        self._setvar("RECORD_WRITE_ONLY", "true" if legs == other else "false")
        event = await self._execute("record_session", path)
        if event is None or self.down:
            return self._hung(RecordStartResult())
        self._check(event, f"record the call to {path}")
        self._recording = path
        return RecordStartResult(url=self._recording_url(path))

    @on_leg
    async def record_stop(self, leg: str) -> Result:
        self._require_main(leg, "record_stop")
        event = await self._execute("stop_record_session", self._recording or "all")
        self._recording = None
        return self._hung(Result()) if event is None or self.down else Result()

    # -- other parties -------------------------------------------------------------------------------

    def dial_string(self, target: str) -> str:
        return dial_string(target, self.options.dial_template)

    async def _dial_main(self, new_leg: str, request: DialRequest, holds: bool) -> DialResult:
        """The bridge app (it bridges inside FreeSWITCH); with `holds`, its group confirmation hands the
        answered leg over first (legs.py)."""
        if request.detect_machine:
            raise ChannelError("answering-machine detection is not supported on FreeSWITCH by flowengine")
        if self.down:
            return self._hung(DialResult(status="canceled"))  # type: ignore[return-value]
        self._setvar("hangup_after_bridge", "false")
        self._setvar("continue_on_fail", "true")
        self._setvar("ringback", self.media(request.ringback) if request.ringback else "%(2000,4000,440,480)")
        self._setvar("bridge_terminate_key", request.hangup_key or "none")
        options = [f"leg_timeout={max(1, round(request.timeout))}", "ignore_early_media=true"]
        if request.caller_id:
            options.append(f"origination_caller_id_number={_dial_value(request.caller_id)}")
        if request.caller_name:
            options.append(f"origination_caller_id_name='{_dial_value(request.caller_name)}'")
        hooks = []  # a held leg's own session sends its keys, and schedules the limit when its hold ends
        if request.time_limit and not holds:
            hooks.append(f"sched_hangup +{max(1, round(request.time_limit))} ALLOTTED_TIMEOUT")
        if request.send_digits and not holds:
            hooks.append(f"send_dtmf {request.send_digits}")
        options += [f"execute_on_answer_{n}='{hook}'" for n, hook in enumerate(hooks, 1)]
        targets = ",".join(self.dial_string(t) for t in request.targets)
        if holds:
            return await self._dial_held(new_leg, request, options, targets)
        self._bridges.clear()
        event = await self._execute("bridge", "{" + ",".join(options) + "}" + targets)
        return self._dial_outcome(new_leg, request, event)

    def _dial_outcome(self, new_leg: str, request: DialRequest, event: EslEvent | None) -> DialResult:
        """A finished bridge app's outcome; a bridged leg is kept for `bridge`."""
        if event is None:
            return self._hung(DialResult(status="canceled"))  # type: ignore[return-value]
        bridged = self._bridged(event, new_leg)
        if bridged is None:
            disposition = event.headers.exact("variable_originate_disposition") or \
                event.headers.exact("variable_DIALSTATUS") or ""
            status = "canceled" if self.down else DISPOSITIONS.get(disposition, "failed")
            if status == "answered":
                status = "failed"
            result = DialResult(status=status)
            return self._hung(result) if self.down else result  # type: ignore[return-value]
        self._dialled[new_leg] = DialledLeg(*bridged)
        name = event.headers.exact("variable_bridge_channel") or ""
        return DialResult(status="answered", answered_by=self._answered(request, name))

    def _bridged(self, event: EslEvent, leg: str) -> tuple[float, str | None] | None:
        """(length, who ended it) of the bridge the bridge app made, from CHANNEL_(UN)BRIDGE and its
        completion; None when it connected nobody."""
        bridged = [t for name, t in self._bridges if name == "CHANNEL_BRIDGE"]
        if not bridged:
            return None
        unbridged = [t for name, t in self._bridges if name == "CHANNEL_UNBRIDGE"]
        end = unbridged[-1] if unbridged else _switch_time(event)
        cause = event.headers.exact("variable_bridge_hangup_cause") or \
            event.headers.exact("variable_last_bridge_hangup_cause") or ""
        ended_by = MAIN if self.down else (None if cause == "ALLOTTED_TIMEOUT" else leg)
        return round(max(0.0, end - bridged[0]), 3), ended_by

    def _take_call(self, placed: Originated) -> bool:
        if placed.connection is None or placed.data is None:
            return False
        self.attach(placed.connection, placed.data)
        return True

    @on_leg
    async def queue(self, leg: str, request: QueueRequest) -> QueueResult:
        raise ChannelError("queue is not supported on FreeSWITCH by flowengine (dial the agents, or route the "
                           "call to mod_callcenter in the dialplan)")

    @on_leg
    async def conference(self, leg: str, request: ConferenceRequest) -> ConferenceResult:
        self._require_main(leg, "conference")
        if request.max_participants is not None:
            raise ChannelError("conference max_participants is set in the FreeSWITCH conference profile "
                               "(max-members), not per call")
        flags = []
        if request.muted:
            flags.append("mute")
        if request.end_on_exit:
            flags.append("endconf")
        if not request.start_on_enter:
            flags.append("wait-mod")
        room = "".join(ch for ch in request.room if ch.isalnum() or ch in "-_.")
        arg = f"{room}@{self.options.conference_profile}" + ("+flags{" + "|".join(flags) + "}" if flags else "")
        self._setvar("playback_terminators", "none")
        started = self.clock.now()
        event = await self._execute("conference", arg)
        result = ConferenceResult(duration=round(max(0.0, self.clock.now() - started), 3))
        if event is not None and self._last_started_at is not None:
            result.duration = round(max(0.0, _switch_time(event) - self._last_started_at), 3)
        if event is None or self.down:
            return self._hung(result)  # type: ignore[return-value]
        self._check(event, f"join conference {room}")
        return result


def dial_string(target: str, template: str) -> str:
    """A flow's dial target as a bridge/originate dial string: targets that name an endpoint already
    (`sofia/…`, `user/…`, `loopback/…`, `{vars}…`) are kept; numbers go through `template`."""
    head = target.split("@", 1)[0]
    if target.startswith(("{", "[")) or ("/" in head and head.split("/", 1)[0].isalnum()):
        return target
    return template.format(target=target)


def capability_warnings(flow: Flow) -> list[Diagnostic]:
    """Warnings for what a flow asks and this channel refuses at run time (speech input, queues, machine
    detection, a per-call conference size), at the states that ask."""
    found: list[Diagnostic] = []

    def warn(state, message: str) -> None:
        found.append(Diagnostic("W_FREESWITCH", f"state {state.id!r}: {message}", state.span, WARNING))

    for state in flow.states.values():
        op = state.op
        kind = op.kind
        if kind == "speech":
            warn(state, "speech input is not supported on FreeSWITCH")
        elif kind == "queue":
            warn(state, "queue is not supported on FreeSWITCH")
        elif kind == "dial" and getattr(op, "detect_machine", False) is True:
            warn(state, "answering-machine detection is not supported on FreeSWITCH")
        elif kind == "conference" and op.max_participants is not None:
            warn(state, "conference max_participants belongs in the FreeSWITCH conference profile (max-members)")
    return found


def _switch_time(event: EslEvent) -> float:
    """The switch's own time of an event, in seconds (Event-Date-Timestamp is in microseconds)."""
    value = _number(event.headers.exact("Event-Date-Timestamp"))
    return value / 1_000_000 if value is not None else 0.0


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "_undef_") else None
    except ValueError:
        return None


def _dial_value(text: str) -> str:
    """A value inside a dial string's {…}: no quote, comma, brace or line break can end it early."""
    return "".join(ch for ch in text if ch not in "',{}[]\r\n")


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _language(language: str | None, default: str) -> str:
    """`say`'s module name from a BCP-47 tag (`en-US` → `en`)."""
    if not language:
        return default
    return language.split("-", 1)[0].lower() or default
