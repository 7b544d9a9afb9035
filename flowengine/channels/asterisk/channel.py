"""The Asterisk channel: every Channel primitive as AGI commands on one FastAGI connection.

    channel = AsteriskChannel(connection, clock=RealClock(), tts=tts, options=AsteriskOptions())
    await Interpreter(flow, channel, call=..., clock=channel.clock).run()

How primitives map (docs/asterisk.md has the whole table and the reasons):
  answer ANSWER · ringing EXEC Ringing · reject EXEC Busy / EXEC Congestion · hangup EXEC Hangup <cause>
  say TTS file + STREAM FILE · play STREAM FILE (http(s) URLs go through Asterisk's media cache)
  silence EXEC Wait (WAIT FOR DIGIT when keys may interrupt it) · say_digits SAY DIGITS
  collect prompts with escape digits, then GET DATA (when its fixed rules fit) or a WAIT FOR DIGIT loop
  record RECORD FILE · record_start/stop MixMonitor / StopMixMonitor · send_dtmf EXEC SendDTMF
  dial EXEC Dial (the bridge happens inside Dial; `bridge` reports it); with on_answer, Dial's U()
  hands the answered leg to its own FastAGI session first (legs.py) · queue EXEC Queue
  conference EXEC ConfBridge · speech: refused (AGI has no recogniser without a res_speech engine)

Rules kept here:
  * Call outcomes are values: a HANGUP line, `result=-1`, 511 or a closed socket make the running
    primitive return outcome "hangup" for leg A. Protocol garbage does too, and `failure` says why.
  * Leg A (the AGI channel) and held legs (a dial's on_answer: legs.py, channels/held.py) take
    commands, each on its own session. Operations on a leg Dial() bridged at once are refused with a
    ChannelError (the interpreter reports E_CHANNEL): Dial keeps that leg inside Asterisk. Which leg a
    primitive runs on, and bridge-after-dial, are channels/switch.py's (shared with FreeSWITCH).
  * Each input request is announced with `SET VARIABLE FLOWENGINE_INPUT <kind>-<n>[/<prompts>]`:
    operators see what the flow waits for, and the fake Asterisk knows where each scripted caller action
    begins and after how many prompt commands listening starts.
  * Text from flows never reaches the wire raw: line breaks and NULs become spaces; quoting is the codec's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import unquote, urlsplit

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
from .agi import AgiCommand, AgiEnvironment, AgiReply
from .fastagi import AgiConnection, Gone
from .legs import AgiHolds, LegSessions
from .tts import TtsProvider
from .typeahead import BUFFER, DISCARD, READ, TypeAhead

log = logging.getLogger("flowengine.asterisk")

KEYS = "0123456789*#"
AUDIO_SUFFIXES = (".wav16", ".wav", ".WAV", ".gsm", ".ulaw", ".alaw", ".sln16", ".sln", ".g722", ".g729")
HANGUP_WAIT = 0.5
"""After `result=-1` Asterisk sends HANGUP a few ms later when the caller left; no HANGUP within this
many seconds means the command itself failed (a missing sound file, say)."""

CAUSES: dict[str, int] = {
    "unallocated": 1, "normal": 16, "normal_clearing": 16, "busy": 17, "user_busy": 17,
    "no_user_response": 18, "no-answer": 19, "no_answer": 19, "rejected": 21, "call_rejected": 21,
    "congestion": 34, "normal_circuit_congestion": 34, "failed": 41, "temporary_failure": 41,
}
"""Q.850 cause codes by the names flows use (and FreeSWITCH's names, lower-cased)."""

RECORD_RATES = {"wav": 8000, "wav16": 16000, "gsm": 8000, "ulaw": 8000, "alaw": 8000, "sln": 8000, "sln16": 16000,
                "g722": 16000}
"""Formats Asterisk's RECORD FILE and MixMonitor can write, and their sample rates (endpos is in samples)."""

DIAL_STATUS = {
    "ANSWER": "answered", "BUSY": "busy", "NOANSWER": "no-answer", "CANCEL": "canceled",
    "CONGESTION": "failed", "CHANUNAVAIL": "failed", "DONTCALL": "failed", "TORTURE": "failed",
    "INVALIDARGS": "failed",
}
"""Dial()'s DIALSTATUS values to the IR's dial outcomes."""

QUEUE_STATUS = {
    "TIMEOUT": "timeout", "FULL": "no_agents", "JOINEMPTY": "no_agents", "LEAVEEMPTY": "no_agents",
    "JOINUNAVAIL": "no_agents", "LEAVEUNAVAIL": "no_agents", "CONTINUE": "answered", "WITHDRAW": "no_agents",
}
"""Queue()'s QUEUESTATUS to the queue outcome words. Queue runs with option c, so when the agent ends
the call the caller comes back to the flow with CONTINUE: "answered (the agent ends the call)" in the
simulation spec. Asterisk does not tell that apart from `answered/agent_hangup`."""


@dataclass(frozen=True)
class AsteriskOptions:
    """How the channel maps flows onto this Asterisk (the daemon fills it from `[asterisk]`)."""

    dial_template: str = "PJSIP/{target}"
    """A dial target (a number or URI from the flow) as a Dial() destination; targets that already
    name a technology (`PJSIP/…`, `SIP/…`, `Local/…`, `IAX2/…`, `DAHDI/…`) are used as they are."""
    recordings_dir: str = "/var/spool/asterisk/flowengine"
    recording_format: str = "wav"
    recording_url: str = "file://{path}"
    """The URL a flow sees for a recording; `{path}` is the file Asterisk wrote, `{name}` its name."""
    typeahead_sync: float = 0.25
    leg_context: str = "flowengine-leg"
    """The dialplan context Dial()'s U() option runs on an answered leg that has states of its own: it
    must run AGI on the daemon with ${ARG1} (docs/asterisk.md)."""


class Originator(Protocol):
    """Places the first call of an API-started flow and hands back its FastAGI connection."""

    async def originate(self, request: DialRequest) -> "Originated": ...


@dataclass
class Originated:
    """How an originate went; when answered, the call's FastAGI connection and what came with it."""

    status: str  # answered | busy | no-answer | failed | canceled
    connection: AgiConnection | None = None
    typeahead: TypeAhead | None = None
    answered_by: str | None = None
    environment: AgiEnvironment | None = None
    release: Callable[[], None] | None = None  # stops the type-ahead's AMI subscription


@dataclass
class _DialledLeg(DialledLeg):
    """What Dial() reported about a leg it bridged and ended before returning."""

    digits_sent: str | None = None  # the keys Dial()'s D() option sent on answer


@dataclass
class _Step:
    """How one prompt went: finished, cut by `key`, or the call was gone (`played`: the prompt had
    started when the caller left; a command refused on a dead channel played nothing)."""

    key: str = ""
    gone: bool = False
    played: bool = False


class AsteriskChannel(AgiHolds, SwitchChannel):
    """A Channel on one Asterisk call, driven over FastAGI (see the module docstring). A held leg's
    sub-channel is one too, on that leg's session (`answered_leg`)."""

    NOT_ON_LEG = ("{what} on leg {leg} is not supported on Asterisk: Dial() bridged that leg inside Asterisk "
                  "(give the dial on_answer states to run commands on it)")
    NESTED_HOLD = ("a dial with on_answer from leg {leg} is not supported on Asterisk while leg {leg}'s own "
                   "states run (it is inside Dial()'s U() subroutine)")
    BRIDGE_AFTER_DIAL = "bridge is only supported right after dial on Asterisk (Dial() bridges)"
    NO_ORIGINATOR = "this Asterisk channel cannot place calls: configure [asterisk.ami]"

    def __init__(self, connection: AgiConnection | None, *, clock: Clock, tts: TtsProvider,
                 options: AsteriskOptions | None = None, typeahead: TypeAhead | None = None,
                 originator: Originator | None = None, ids: RandomIds | None = None,
                 legs: LegSessions | None = None):
        # -- the call's connection (None until an API-started flow's first dial is answered)
        self.connection = connection
        self.typeahead = typeahead
        self.clock = clock
        self.tts = tts
        self.options = options or AsteriskOptions()
        self.originator = originator
        self.legs = legs
        self.ids = ids or RandomIds()
        # -- per-call state
        self.down = False  # leg A (this session's leg) is gone
        self.answered_leg = False  # this session is a dialled leg's (recording directions swap)
        self.failure: str | None = None  # why the connection ended, when not a plain hang-up
        self._inputs = 0
        self._cut = False  # the last command was running when the call went away
        self._dialled: dict[str, _DialledLeg] = {}
        self._init_legs()

    # -- plumbing ------------------------------------------------------------------------------------

    async def _run(self, name: str, *args: object, policy: str = BUFFER) -> AgiReply | None:
        """Run one AGI command; None when the call is gone (leg A then counts as hung up)."""
        if self.down or self.connection is None:
            self.down = True
            return None
        if self.typeahead is not None:
            self.typeahead.command_sent(policy)
        sent = self.connection.commands
        reply = await self.connection.command(AgiCommand(name, *(_clean(a) for a in args)))
        if isinstance(reply, Gone):
            self._cut = self.connection.commands > sent
            self._lost(reply)
            return None
        if reply.code == 511:
            self._lost(Gone("hangup", "511"))
            return None
        return reply

    def _lost(self, gone: Gone) -> None:
        self.down = True
        if gone.reason == "protocol" and self.failure is None:
            self.failure = f"protocol error: {gone.detail}"

    async def _failed(self, reply: AgiReply, what: str) -> bool:
        """After a `result=-1`: True when the caller hung up (the call is over), else raise ChannelError."""
        assert self.connection is not None
        if await self.connection.wait_hangup(HANGUP_WAIT):
            self.down = True
            return True
        raise ChannelError(f"Asterisk could not {what} (result {reply.result})")

    def _check_usage(self, reply: AgiReply, what: str) -> None:
        if reply.code != 200:
            raise ChannelError(f"Asterisk refused {what}: {reply.code} {reply.text}".rstrip())

    # -- call control --------------------------------------------------------------------------------

    async def _answer_main(self) -> Result:
        reply = await self._run("ANSWER")
        if reply is None or reply.number == -1:
            return self._hung(Result())
        self._check_usage(reply, "ANSWER")
        return Result()

    @on_leg
    async def ringing(self, leg: str) -> Result:
        self._require_main(leg, "ringing")
        reply = await self._run("EXEC", "Ringing")
        return self._hung(Result()) if reply is None else Result()

    async def _reject_main(self, reason: str) -> Result:
        application = "Busy" if reason == "busy" else "Congestion"
        await self._run("EXEC", application, "1")
        self._close()
        return Result()

    async def _hang_up_main(self, cause: str | int | None) -> Result:
        await self._free(ending=True)
        code = cause_code(cause)
        if not self.down and self.connection is not None and not self.connection.busy:
            await self._run("EXEC", "Hangup", str(code))
        self._close()
        return Result()

    def _close(self) -> None:
        self.down = True
        if self.connection is not None:
            self.connection.close()

    close_session = _close

    # -- media ---------------------------------------------------------------------------------------

    @on_leg
    async def play(self, leg: str, prompt: Prompt) -> Result:
        self._require_main(leg, prompt.kind)
        step = await self._prompt(prompt, "", BUFFER)
        return self._hung(Result()) if step.gone else Result()

    async def _prompt(self, prompt: Prompt, escapes: str, policy: str) -> _Step:
        """Play one prompt; with `escapes`, a key among them stops it and is returned."""
        kind = prompt.kind
        if kind == "silence":
            if escapes:
                reply = await self._run("WAIT FOR DIGIT", str(max(0, round(prompt.seconds * 1000))), policy=READ)
                return await self._key_step(reply, "wait for a key")
            reply = await self._run("EXEC", "Wait", _seconds(prompt.seconds), policy=policy)
            if reply is None:
                return _Step(gone=True, played=self._cut)
            return _Step(gone=True, played=True) if reply.number == -1 and await self._failed(reply, "wait") else _Step()
        if kind == "say_digits":
            digits = "".join(ch for ch in prompt.text if ch in KEYS)
            reply = await self._run("SAY DIGITS", digits, escapes, policy=READ if escapes else policy)
            return await self._key_step(reply, f"say digits {digits}")
        if kind == "say":
            name = await self.tts.synthesize(prompt.text, voice=prompt.voice, language=prompt.language,
                                             ssml=prompt.ssml, engine=prompt.engine)
        else:
            name = media_name(prompt.text)
        reply = await self._run("STREAM FILE", name, escapes, policy=READ if escapes else policy)
        return await self._key_step(reply, f"play {name}")

    async def _key_step(self, reply: AgiReply | None, what: str) -> _Step:
        if reply is None:
            return _Step(gone=True, played=self._cut)
        self._check_usage(reply, what)
        number = reply.number
        if number is None:
            raise ChannelError(f"unexpected reply to {what}: result={reply.result}")
        if number < 0:
            return _Step(gone=await self._failed(reply, what), played=True)
        return _Step(key=chr(number) if number > 0 else "")

    @on_leg
    async def send_dtmf(self, leg: str, digits: str) -> Result:
        if leg != MAIN:
            dialled = self._dialled.get(leg)
            if dialled is not None and dialled.digits_sent == digits:
                return Result()  # Dial()'s D() option already sent them on answer
            self._require_main(leg, "send_dtmf")
        reply = await self._run("EXEC", "SendDTMF", "".join(ch for ch in digits if ch in KEYS + "ABCDabcdwW"))
        return self._hung(Result()) if reply is None or reply.number == -1 else Result()

    # -- input ---------------------------------------------------------------------------------------

    async def _announce(self, kind: str, prompts: int = 0) -> bool:
        """Mark the start of an input request (`collect-3/2`: the third request, listening after 2 prompt
        commands); False when the call is gone."""
        self._inputs += 1
        value = f"{kind}-{self._inputs}" + (f"/{prompts}" if prompts else "")
        return await self._run("SET VARIABLE", "FLOWENGINE_INPUT", value) is not None

    async def _typeahead(self, barge_in: bool) -> str:
        if self.typeahead is None or not await self.typeahead.sync():
            return ""
        keys = self.typeahead.take()
        return keys if barge_in else ""

    @on_leg
    async def collect(self, leg: str, request: CollectRequest) -> CollectResult:
        self._require_main(leg, "collect")
        result = CollectResult(reason="hangup")
        if not await self._announce("collect", len(request.prompts)):
            return self._hung(result)
        finish, maximum = request.finish_on_key, request.max_digits
        choices = request.choices if request.early_match else None
        pressed = await self._typeahead(request.barge_in)
        digits, stop = take_keys(pressed, finish, maximum, choices)
        if pressed:
            self._give_back(pressed, digits, stop, finish)
            if request.prompts:
                result.prompts.append(PromptOutcome(0, self.clock.now(), interrupted=True))
        else:
            for index, prompt in enumerate(request.prompts):
                barge_in = request.barge_in if prompt.barge_in is None else prompt.barge_in
                step = await self._prompt(prompt, KEYS if barge_in else "", READ if barge_in else DISCARD)
                if step.gone:
                    if step.played:
                        result.prompts.append(PromptOutcome(index, self.clock.now(), interrupted=True))
                    return self._hung(result)
                if step.key:
                    result.prompts.append(PromptOutcome(index, self.clock.now(), interrupted=True))
                    pressed = step.key
                    digits, stop = take_keys(pressed, finish, maximum, choices)
                    break
                result.prompts.append(PromptOutcome(index, self.clock.now()))
        while stop is None:
            heard = await self._listen(request, pressed)
            if heard is None:
                result.digits = digits
                return self._hung(result)
            more, timed_out = heard
            pressed += more
            digits, stop = take_keys(pressed, finish, maximum, choices)
            if stop is None and timed_out:
                late = await self._typeahead(True)  # keys pressed in the gap before the listen began
                if late:
                    pressed += late
                    digits, stop = take_keys(pressed, finish, maximum, choices)
                    self._give_back(pressed, digits, stop, finish)
                    continue
                stop = "timeout"
        result.digits, result.reason = digits, stop
        return result

    def _give_back(self, pressed: str, digits: str, stop: str | None, finish: str) -> None:
        """Keys pressed ahead beyond what this collect used stay buffered for the next one."""
        if self.typeahead is None or stop is None:
            return
        used = len(digits) + (1 if stop == "finish_key" else 0)
        self.typeahead.unread(pressed[used:])

    async def _listen(self, request: CollectRequest, pressed: str) -> tuple[str, bool] | None:
        """Wait for more keys: (keys heard, whether the wait timed out), or None when the call is gone.
        GET DATA swallows the '#' that ends it; it is put back so take_keys sees the finish key."""
        first = not pressed
        timeout = request.timeout if first else request.inter_digit_timeout
        if self._get_data_fits(request, first):
            remaining = None if request.max_digits is None else request.max_digits - len(pressed)
            args = ["", str(round(timeout * 1000))] + ([str(remaining)] if remaining is not None else [])
            reply = await self._run("GET DATA", *args, policy=READ)
            if reply is None:
                return None
            self._check_usage(reply, "GET DATA")
            if reply.result == "-1" and await self._failed(reply, "read digits"):
                return None
            keys = reply.result or ""
            if reply.data == "timeout":
                return keys, True
            if remaining is not None and len(keys) >= remaining:
                return keys, False
            return keys + "#", False
        reply = await self._run("WAIT FOR DIGIT", str(round(timeout * 1000)), policy=READ)
        step = await self._key_step(reply, "wait for a key")
        if step.gone:
            return None
        return (step.key, False) if step.key else ("", True)

    @staticmethod
    def _get_data_fits(request: CollectRequest, first: bool) -> bool:
        """GET DATA stops on '#' only, uses one timeout for the first and later keys, and cannot stop
        early on a menu choice: use it only when the request asks for exactly that."""
        timeout = request.timeout if first else request.inter_digit_timeout
        return (request.finish_on_key == "#" and timeout > 0
                and not (request.early_match and request.choices)
                and (not first or request.timeout == request.inter_digit_timeout))

    @on_leg
    async def speech(self, leg: str, request: SpeechRequest) -> SpeechResult:
        raise ChannelError("speech input is not supported on Asterisk (AGI needs a res_speech recogniser)")

    def _record_format(self, format: str | None) -> str:
        chosen = format or self.options.recording_format
        if chosen not in RECORD_RATES:
            raise ChannelError(f"recording {chosen!r} files is not supported on Asterisk (it writes "
                               f"{', '.join(RECORD_RATES)})")
        return chosen

    @on_leg
    async def record(self, leg: str, request: RecordRequest) -> RecordResult:
        self._require_main(leg, "record")
        if request.transcribe:
            raise ChannelError("recording transcription is not supported on Asterisk (AGI has no recogniser)")
        fmt = self._record_format(request.format)
        result = RecordResult(reason="hangup")
        if not await self._announce("record"):
            return self._hung(result)
        path = f"{self.options.recordings_dir.rstrip('/')}/{self.ids.next('rec')}"
        args = [path, fmt, request.finish_on_key,
                str(round(request.max_length * 1000)), "0"]
        if request.beep:
            args.append("BEEP")
        if request.silence_timeout > 0:
            args.append(f"s={max(1, round(request.silence_timeout))}")
        reply = await self._run("RECORD FILE", *args, policy=READ)
        if reply is None:
            return self._hung(result)
        self._check_usage(reply, "RECORD FILE")
        duration = max(0, reply.endpos or 0) / RECORD_RATES[fmt]
        result.duration = round(duration, 3)
        if duration > 0:
            result.url = self._recording_url(path, fmt)
        why = reply.data or ""
        if why == "hangup":
            self.down = True
            return self._hung(result)
        if why == "dtmf":
            result.reason, result.digits = "finish_key", chr(reply.number or 0)
        elif why == "timeout":
            result.reason = "max_length" if duration >= request.max_length - 0.5 else "silence"
        else:
            raise ChannelError(f"recording failed ({why or reply.result})")
        return result

    def _recording_url(self, path: str, fmt: str) -> str:
        file = f"{path}.{fmt}"
        return self.options.recording_url.format(path=file, name=file.rsplit("/", 1)[-1])

    @on_leg
    async def record_start(self, leg: str, legs: str, *, format: str | None = None,
                           trim_silence: bool = False) -> RecordStartResult:
        """MixMonitor; `trim_silence` has no MixMonitor equivalent (the file keeps its silences). On a
        dialled leg's own session, MixMonitor's read and write directions are the other way round."""
        self._require_main(leg, "record_start")
        fmt = self._record_format(format)
        path = f"{self.options.recordings_dir.rstrip('/')}/{self.ids.next('rec')}"
        file = f"{path}.{fmt}"
        if legs == "both":
            args = file
        else:
            option = "r" if (legs == "caller") != self.answered_leg else "t"
            args = f"{path}-mix.{fmt},{option}({file})"
        reply = await self._run("EXEC", "MixMonitor", args)
        if reply is None:
            return self._hung(RecordStartResult())
        return RecordStartResult(url=self._recording_url(path, fmt))

    @on_leg
    async def record_stop(self, leg: str) -> Result:
        self._require_main(leg, "record_stop")
        reply = await self._run("EXEC", "StopMixMonitor")
        return self._hung(Result()) if reply is None else Result()

    # -- other parties -------------------------------------------------------------------------------

    def dial_string(self, target: str) -> str:
        if "/" in target.split("@", 1)[0] and target.split("/", 1)[0].isalnum():
            return target
        return self.options.dial_template.format(target=target)

    def _answered_by(self, targets: tuple[str, ...], peer: str) -> str | None:
        """Which target answered, from DIALEDPEERNUMBER (the resource part of its Dial() destination)."""
        if len(targets) == 1:
            return targets[0]
        for target in targets:
            if peer and (peer == target or peer in self.dial_string(target)):
                return target
        return None

    async def _dial_main(self, new_leg: str, request: DialRequest, holds: bool) -> DialResult:
        """Dial(): the bridge happens inside it; with `holds`, U() hands the answered leg over first (legs.py)."""
        options = "g"
        if request.send_digits and not holds:  # a held leg's own session sends them (send_dtmf)
            options += f"D({request.send_digits})"
        if request.time_limit:
            options += f"L({round(request.time_limit * 1000)})"
        if request.caller_id:
            options += f"f({request.caller_id})"
        destinations = "&".join(self.dial_string(t) for t in request.targets)
        if holds:
            return await self._dial_held(new_leg, request, options, destinations)
        started = self.clock.now()
        reply = await self._run("EXEC", "Dial", f"{destinations},{max(1, round(request.timeout))},{options}")
        return await self._dial_outcome(new_leg, request, reply, started)

    async def _dial_outcome(self, new_leg: str, request: DialRequest, reply: AgiReply | None,
                            started: float) -> DialResult:
        """A returned Dial()'s outcome, from its reply and DIALSTATUS; a bridged leg is kept for `bridge`."""
        caller_left = reply is None or reply.number == -1
        info = await self._variables("DIALSTATUS", "ANSWEREDTIME_MS", "ANSWEREDTIME", "DIALEDPEERNUMBER")
        if info is None:
            status, answered_ms, peer = ("canceled", 0.0, "") if caller_left else ("failed", 0.0, "")
        else:
            status = DIAL_STATUS.get(info[0], "canceled" if caller_left else "failed")
            answered_ms = _number(info[1]) if info[1] else _number(info[2]) * 1000
            peer = info[3]
        if caller_left and status != "answered":
            self.down = True
            return self._hung(DialResult(status="canceled"))  # type: ignore[return-value]
        result = DialResult(status=status)
        if status == "answered":
            result.answered_by = self._answered_by(request.targets, peer)
            duration = answered_ms / 1000 if answered_ms else max(0.0, self.clock.now() - started)
            limit_hit = request.time_limit is not None and duration >= request.time_limit - 0.5
            ended_by = MAIN if caller_left else (None if limit_hit else new_leg)
            self._dialled[new_leg] = _DialledLeg(round(duration, 3), ended_by, request.send_digits)
            if caller_left:
                self.down = True
        return result

    async def _variables(self, *names: str) -> list[str] | None:
        """Several channel variables in one round trip (GET FULL VARIABLE works on a dead channel too)."""
        if self.connection is None or (self.connection.gone is not None):
            return None
        reply = await self.connection.command(AgiCommand("GET FULL VARIABLE", "|".join(f"${{{n}}}" for n in names)))
        if isinstance(reply, Gone) or reply.code != 200 or reply.number != 1:
            return None
        values = (reply.data or "").split("|")
        return (values + [""] * len(names))[: len(names)]

    def _take_call(self, placed: Originated) -> bool:
        if placed.connection is None:
            return False
        self.connection = placed.connection
        self.typeahead = placed.typeahead
        self.down = False
        return True

    @on_leg
    async def queue(self, leg: str, request: QueueRequest) -> QueueResult:
        self._require_main(leg, "queue")
        if request.exit_key:
            raise ChannelError("queue exit_key is not supported on Asterisk (Queue() exits through a "
                               "dialplan context, not back to AGI)")
        timeout = "" if request.max_wait is None else str(max(1, round(request.max_wait)))
        started = self.clock.now()
        reply = await self._run("EXEC", "Queue", f"{request.name},c,,,{timeout}".rstrip(","))
        caller_left = reply is None or reply.number == -1
        info = await self._variables("QUEUESTATUS", "MEMBERINTERFACE")
        status_word, member = (info or ["", ""])
        duration = round(max(0.0, self.clock.now() - started), 3)
        if caller_left:
            self.down = True
            status = "answered/caller_hangup" if member else "no_agents"
            return self._hung(QueueResult(status=status, duration=duration))  # type: ignore[return-value]
        status = QUEUE_STATUS.get(status_word, "answered" if member else "no_agents")
        return QueueResult(status=status, duration=duration)

    @on_leg
    async def conference(self, leg: str, request: ConferenceRequest) -> ConferenceResult:
        self._require_main(leg, "conference")
        settings = []
        if request.muted:
            settings.append(("CONFBRIDGE(user,startmuted)", "yes"))
        if not request.beep:
            settings.append(("CONFBRIDGE(user,quiet)", "yes"))
        if not request.start_on_enter:
            settings += [("CONFBRIDGE(user,wait_marked)", "yes"), ("CONFBRIDGE(user,end_marked)", "yes")]
        if request.end_on_exit:
            settings.append(("CONFBRIDGE(user,marked)", "yes"))
        if request.max_participants:
            settings.append(("CONFBRIDGE(bridge,max_members)", str(request.max_participants)))
        for name, value in settings:
            if await self._run("SET VARIABLE", name, value) is None:
                return self._hung(ConferenceResult())  # type: ignore[return-value]
        started = self.clock.now()
        reply = await self._run("EXEC", "ConfBridge", request.room)
        result = ConferenceResult(duration=round(max(0.0, self.clock.now() - started), 3))
        if reply is None or reply.number == -1:
            self.down = True
            return self._hung(result)  # type: ignore[return-value]
        return result


# -- helpers -------------------------------------------------------------------------------------------


def cause_code(cause: str | int | None) -> int:
    """A Q.850 cause code from a flow's `cause` (a number or a name); 16 (normal clearing) by default."""
    if cause is None:
        return 16
    if isinstance(cause, int) or (isinstance(cause, str) and cause.isdigit()):
        code = int(cause)
        return code if 1 <= code <= 127 else 16
    return CAUSES.get(str(cause).strip().lower().replace(" ", "_"), 16)


def media_name(url: str) -> str:
    """What STREAM FILE is given for a `play` URL: http(s) URLs as they are (Asterisk's media cache
    fetches them), file:// URLs and plain sound names as paths without their audio extension."""
    if url.startswith(("http://", "https://")):
        return url
    if url.startswith("file://"):
        try:
            path = unquote(urlsplit(url).path)
        except ValueError:
            raise ChannelError(f"cannot play {url!r} on Asterisk: not a valid URL") from None
    elif "://" in url:
        raise ChannelError(f"cannot play {url!r} on Asterisk: use http(s)://, file:// or a sound name")
    else:
        path = url
    for suffix in AUDIO_SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _clean(value: object) -> str:
    text = value if type(value) is str else str(value)
    if "\n" in text or "\r" in text or "\x00" in text:
        text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\x00", " ")
    return text


def _seconds(seconds: float) -> str:
    text = f"{max(0.0, seconds):.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0




def capability_warnings(flow: Flow) -> list[Diagnostic]:
    """Warnings for what a flow asks and this channel refuses at run time (speech input, queue exit keys,
    tone streams), at the states that ask it."""
    found: list[Diagnostic] = []

    def warn(state, message: str) -> None:
        found.append(Diagnostic("W_ASTERISK", f"state {state.id!r}: {message}", state.span, WARNING))

    for state in flow.states.values():
        op = state.op
        kind = op.kind
        if kind == "speech":
            warn(state, "speech input is not supported on Asterisk")
        elif kind == "queue" and op.exit_key:
            warn(state, "queue exit_key is not supported on Asterisk")
        prompts = getattr(op, "prompts", ()) if kind in ("collect", "speech") else (op,)
        for prompt in prompts:
            url = getattr(prompt, "url", None) if prompt.kind == "play" else None
            if isinstance(url, str) and "://" in url and not url.startswith(("http://", "https://", "file://")):
                warn(state, f"cannot play {url!r} on Asterisk (http(s), file:// or sound names only)")
    return found
