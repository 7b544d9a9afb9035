"""A protocol-faithful fake Asterisk: an AMI server and a FastAGI call driver, on flowengine's own codecs.

    fake = FakeAsterisk(time_scale=0.001)              # 1 simulated second = 1 real millisecond
    await fake.start_ami()                               # optional: AMI on 127.0.0.1:<port 0>
    call = fake.call(("127.0.0.1", agi_port), path="menu", caller=["1"], world=World(...))
    result = await call.finished                         # every command and reply, in wire order

It plays Asterisk's side of the wire as the captures in shared/wire/ show it (Asterisk 22): the FastAGI
environment in launch_netscript/setup_env order (with the empty `agi_accountcode: `), ASCII-code results
for keys, `200 result= (timeout)`, `520-` usage blocks, `511` after a hang-up for commands res_agi refuses
on a dead channel, a bare `HANGUP` line after a hang-up (sent just ahead of the next reply, as captured),
and it keeps the socket open until the server closes it. On AMI: the banner without an empty line, CRLF,
ActionID echo, `Permission denied` before login, a delayed `Authentication failed` that closes the
session, async Originate (ack first, `OriginateResponse` later), lists, and the channel events
(Newchannel, Newstate, AGIExecStart/End, DTMFBegin/End, VarSet, Hangup) in causal order.

The caller is scripted like a scenario's `caller` list (channels.fake.CallerInput, one entry per input
request): the flowengine channel announces each input request with `SET VARIABLE FLOWENGINE_INPUT`, and
that is where the next entry starts (for other AGI programs, each GET DATA, WAIT FOR DIGIT or RECORD FILE
starts one). Time is simulated per call (each command advances the call's own
clock by what it would take) and slept for `time_scale` of that in real time. `hangup_at`, the `dial`,
`queue` and `conference` tables and `media` durations come from a channels.fake.World, so one scenario
drives the fake channel and this fake switch alike.

Dial()'s U(<context>^<args>) option runs the subroutine the way app_dial.c does: after the dialled party
answers (the `dial` entry), the AGI() of `dialplan[<context>]` opens a new FastAGI session for that leg
(`agi_network_script` from the URL, the arguments in `agi_arg_1`…), whose caller actions are the entry's
`inputs`; leg A waits meanwhile (its own hang-up only reaches AMI). When that session closes, Dial()
connects the legs, or with GOSUB_RESULT=CONTINUE hangs the leg up and returns; a leg that hung up is not
connected. Both sessions share one timeline, read with `${STRFTIME(,,%s.%3q)}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..channels.asterisk.agi import (
    CLIENT,
    DEAD_ALLOWED,
    NEED_DATA,
    AgiCodec,
    AgiCommand,
    AgiEnvironment,
    AgiHangup,
    AgiReply,
    Closed,
)
from ..channels.asterisk.ami import (
    SERVER,
    TOO_MANY_LINES,
    AmiAction,
    AmiActionTooLong,
    AmiBanner,
    AmiCodec,
    AmiEvent,
    AmiResponse,
)
from ..channels.asterisk.ami import NEED_DATA as AMI_NEED_DATA
from ..channels.asterisk.ami import Closed as AmiClosed
from ..channels.fake import (
    DEFAULT_MEDIA_SECONDS,
    SAY_DIGIT_MS,
    TTS_CHARS_PER_SECOND,
    CallerInput,
    ConferenceOutcome,
    DialOutcome,
    QueueOutcome,
    World,
    lookup,
)
from ..errors import ChannelError, RemoteProtocolError
from ..runtime.clock import DeadlineReached, RealClock

__all__ = ["FakeAsterisk", "FakeCall", "CallRecord", "FakeTts", "caller_inputs"]

AMI_VERSION = "11.0.0"  # what Asterisk 22.10.1 announced in shared/wire/asterisk-ami-*.log
ASTERISK_VERSION = "22.10.1"
ANSWER_SECONDS = 0.5  # ANSWER on a Local channel took ~500 ms in the captures
HANGUP_NOTICE_SECONDS = 0.044  # the bare HANGUP line came ~44 ms after the hang-up in the captures
LOGIN_FAILURE_DELAY = 1.0  # action_login sleeps 1 s before `Authentication failed`
SAMPLES_PER_SECOND = 8000
KEY_SECONDS = 0.25  # SendDTMF's default tone length

USAGE = {
    "GET DATA": " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
    "STREAM FILE": " Usage: STREAM FILE <filename> <escape digits> [sample offset]",
    "WAIT FOR DIGIT": " Usage: WAIT FOR DIGIT <timeout>",
    "SET VARIABLE": " Usage: SET VARIABLE <variablename> <value>",
    "GET VARIABLE": " Usage: GET VARIABLE <variablename>",
    "RECORD FILE": " Usage: RECORD FILE <filename> <format> <escape digits> <timeout> [offset samples] [BEEP] [s=silence]",
    "SAY DIGITS": " Usage: SAY DIGITS <number> <escape digits>",
    "EXEC": " Usage: EXEC <application> <options>",
}
"""Minimum argument counts are checked against these; the text follows `520-` as res_agi does."""
MIN_ARGS = {"GET DATA": 1, "STREAM FILE": 2, "WAIT FOR DIGIT": 1, "SET VARIABLE": 2, "GET VARIABLE": 1,
            "RECORD FILE": 4, "SAY DIGITS": 2, "EXEC": 1, "GET FULL VARIABLE": 1, "VERBOSE": 1}

LISTEN_COMMANDS = frozenset({"GET DATA", "WAIT FOR DIGIT", "RECORD FILE"})
"""Without FLOWENGINE_INPUT markers, each of these starts the next scripted caller action."""
PROMPT_COMMANDS = frozenset({"STREAM FILE", "WAIT FOR DIGIT", "SAY DIGITS", "EXEC"})
"""Commands the flowengine channel uses for one prompt each (`FLOWENGINE_INPUT collect-n/<count>`)."""
SWITCH_TIME = "STRFTIME(,,%s.%3q)"
"""The one dialplan function the fake evaluates: its clock, in seconds with milliseconds."""

CAUSE_TEXT = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No answer", 21: "Call Rejected",
              34: "Circuit/channel congestion"}


def caller_inputs(items: list) -> list[CallerInput]:
    """CallerInput entries from a scenario's `caller` list as written in YAML ("1", "timeout", {…})."""
    from .scenario import _input

    return [item if isinstance(item, CallerInput) else _input(item) for item in items]


class FakeTts:
    """A TTS provider for tests: no audio, a stable path per text, and the text's simulated duration
    (15 characters a second, like the fake channel) for the fake switch's STREAM FILE."""

    name = "fake"

    def __init__(self, directory: str = "flowengine-tts"):
        self.directory = directory
        self.texts: dict[str, tuple[str, bool]] = {}
        self.requests: list[tuple[str, str | None, str | None, str | None]] = []

    async def synthesize(self, text: str, *, voice: str | None = None, language: str | None = None,
                         ssml: bool = False, engine: str | None = None) -> str:
        self.requests.append((text, voice, language, engine))
        key = hashlib.sha256(f"{voice}\x1f{language}\x1f{ssml}\x1f{text}".encode()).hexdigest()[:24]
        path = f"{self.directory}/{key}"
        self.texts[path] = (text, ssml)
        return path

    def duration(self, path: str) -> float | None:
        entry = self.texts.get(path)
        if entry is None:
            return None
        text, ssml = entry
        if ssml:
            text = re.sub(r"<[^>]*>", "", text)
        return round(len(text) * 1000 / TTS_CHARS_PER_SECOND) / 1000


@dataclass
class CallRecord:
    """What happened on one fake call's FastAGI socket."""

    commands: list[str] = field(default_factory=list)  # command lines as received
    lines: list[tuple[str, str]] = field(default_factory=list)  # (">>"|"<<", line) from the switch's view
    variables: dict[str, str] = field(default_factory=dict)
    hung_up_by: str | None = None  # caller | flow | ami
    cause: int | None = None
    closed_by_server: bool = False  # the flowengine side closed the socket (as it must after HANGUP)
    dropped: bool = False  # the fake dropped the connection (stop(): a network cut)
    held: bool = False  # the server never closed the socket within `hold_timeout`
    protocol_error: str | None = None
    redirected_to: tuple[str, str, str] | None = None


@dataclass
class _Key:
    """A key the scripted caller presses at simulated time `at`; AMI reports it once."""

    at: float
    key: str
    reported: bool = False


class _Hangup(Exception):
    """The simulated channel hung up while a command ran (at the call's simulated time `at`)."""

    def __init__(self, at: float):
        self.at = at


class FakeCall:
    """One call of the fake switch: connects to a FastAGI server and plays Asterisk's side."""

    def __init__(self, fake: "FakeAsterisk", address: tuple[str, int], *, path: str, caller: list,
                 world: World, callerid: str, calleridname: str, dnid: str, extension: str, context: str,
                 args: tuple[str, ...], env: dict[str, str] | None, hold_timeout: float,
                 dialler: "FakeCall | None" = None, channel: str | None = None):
        self.fake = fake
        self.address = address
        self.world = world
        self.inputs = list(caller_inputs(caller))
        self.record = CallRecord()
        self.number = next(fake._call_numbers)
        self.uniqueid = f"{fake.epoch}.{2 * self.number + 1}"
        self.linkedid = f"{fake.epoch}.{2 * self.number}"
        self.channel = channel or f"Local/{extension}@{context}-{self.number:08x};2"
        self.callerid, self.calleridname = callerid, calleridname
        self.context, self.extension = context, extension
        self.hold_timeout = hold_timeout
        # a dialled leg in Dial()'s U() subroutine: its AGI() returning is the subroutine's Return(), not
        # a hang-up, and it lives on its dialler's timeline
        self.dialler = dialler
        self.environment = self._environment(path, dnid, args, env)
        self.state = 4  # Ring
        self.t = dialler.t if dialler is not None else 0.0  # this call's simulated seconds
        self.hangup_at = None if dialler is not None else world.hangup_at
        self.dead = False
        self.pending_keys: list[_Key] = []
        self.input_request_at: float | None = None
        self.entry: CallerInput | None = None
        self.listen_pending = False
        self.prompts_left = 0  # prompt commands of the current input request still to come
        self.marked = False  # the AGI program announces input requests (FLOWENGINE_INPUT)
        self._notice_due = False
        self._notice_task: asyncio.Task | None = None
        self._external = asyncio.Event()  # a hang-up or key press from outside (AMI, the test)
        self._external_keys: list[str] = []
        self._external_hangup: str | None = None
        self.codec = AgiCodec(CLIENT)
        self.writer: asyncio.StreamWriter | None = None
        self.finished: asyncio.Future[CallRecord] = asyncio.get_running_loop().create_future()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"fake-asterisk-call-{self.number}")
        fake.calls[self.channel] = self
        fake.timeline.append(self)

    # -- environment -------------------------------------------------------------------------------

    def _environment(self, path: str, dnid: str, args: tuple[str, ...], env: dict[str, str] | None) -> AgiEnvironment:
        host, port = self.address
        request = f"agi://{host}:{port}/{path}" if path else f"agi://{host}:{port}"
        items = [("agi_network", "yes")]
        if path:
            items.append(("agi_network_script", path))
        items += [
            ("agi_request", request), ("agi_channel", self.channel), ("agi_language", "en"),
            ("agi_type", "Local"), ("agi_uniqueid", self.uniqueid), ("agi_version", ASTERISK_VERSION),
            ("agi_callerid", self.callerid or "unknown"), ("agi_calleridname", self.calleridname or "unknown"),
            ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"), ("agi_callingtns", "0"),
            ("agi_dnid", dnid or "unknown"), ("agi_rdnis", "unknown"), ("agi_context", self.context),
            ("agi_extension", self.extension), ("agi_priority", "2"), ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""), ("agi_threadid", str(139874681325248 + self.number)),
        ]
        items += [(f"agi_arg_{i}", a) for i, a in enumerate(args, 1)]
        if env:
            items = [(k, env.get(k, v)) for k, v in items] + [(k, v) for k, v in env.items()
                                                              if k not in dict(items)]
        return AgiEnvironment(items)

    # -- outside events -----------------------------------------------------------------------------

    def press(self, keys: str) -> None:
        """The caller presses keys now, in real time, outside any scripted input request: AMI reports
        them and the AGI side drops them, as Asterisk's idle loop does (shared/wire/*dtmf-while-idle*)."""
        self._external_keys.extend(keys)
        self._external.set()

    def hangup(self, by: str = "caller") -> None:
        """The channel hangs up now (the caller, or an AMI Hangup/Redirect)."""
        if self.finished.done():  # a dialled leg back in Dial() after its subroutine: no session to tell
            self._die(by, 16)
            return
        if self._external_hangup is None:
            self._external_hangup = by
        self._external.set()

    def stop(self) -> None:
        """Fault injection: drop the FastAGI connection now (a network cut); the channel lives on."""
        self.record.dropped = True
        if self.writer is not None:
            self.writer.close()

    # -- the conversation ---------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            reader, self.writer = await asyncio.open_connection(*self.address)
        except OSError as exc:
            self.record.protocol_error = f"cannot connect: {exc}"
            self._done()
            return
        try:
            self.fake._event(self, "Newchannel", "call")
            self._write(self.codec.send(self.environment), log=False)
            for key, value in self.environment.variables:
                self.record.lines.append(("<<", f"{key}: {value}"))
            self.record.lines.append(("<<", ""))
            await self._serve(reader)
        except (ConnectionError, RemoteProtocolError) as exc:
            self.record.protocol_error = str(exc)
        finally:
            if self._notice_task is not None:
                self._notice_task.cancel()
            if not self.dead and self.dialler is None:
                self._die("flow" if self.record.closed_by_server else "caller", 16)
            if self.writer is not None:
                self.writer.close()
            self._done()

    def _done(self) -> None:
        if self.dead or self.dialler is None:  # a dialled leg's channel outlives its subroutine's session
            self.fake.calls.pop(self.channel, None)
        if not self.finished.done():
            self.finished.set_result(self.record)

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        while True:
            event = self.codec.next_event()
            if event is NEED_DATA:
                timeout = self.hold_timeout if self.dead else None
                try:
                    data = await asyncio.wait_for(self._read_or_external(reader), timeout)
                except asyncio.TimeoutError:
                    self.record.held = True  # the capture's "timeout waiting for HANGUP": a server bug
                    return
                if data is None:
                    continue
                self.codec.receive_data(data)
                continue
            if type(event) is Closed:
                self.record.closed_by_server = not self.record.dropped
                return
            assert type(event) is AgiCommand
            await self._command(event)

    async def _read_or_external(self, reader: asyncio.StreamReader) -> bytes | None:
        """Bytes from the server, or None after an outside event handled while idle."""
        read = asyncio.ensure_future(reader.read(65536))
        try:
            while True:
                waiter = asyncio.ensure_future(self._external.wait())
                done, _ = await asyncio.wait({read, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if read in done:
                    waiter.cancel()
                    try:
                        return read.result()
                    except ConnectionResetError:
                        return b""  # the server closed while our last line was in flight
                self._external.clear()
                self._idle_external()
                if self.dead and self._notice_due:
                    self._send_notice()
        finally:
            if not read.done():
                read.cancel()

    def _idle_external(self) -> None:
        for key in self._external_keys:
            self.fake._dtmf(self, key)  # nobody reads it: res_agi's idle loop drops the frame
        self._external_keys.clear()
        if self._external_hangup and not self.dead:
            self._die(self._external_hangup, 16)

    async def _command(self, command: AgiCommand) -> None:
        line = command.line
        self.record.commands.append(line)
        self.record.lines.append((">>", line))
        if self.fake.on_command is not None:
            self.fake.on_command(self, line)
            if self.record.dropped:
                return
        if self._notice_due:
            self._send_notice()  # Asterisk noticed the hang-up before reading this command
        self.fake._event(self, "AGIExecStart", "agi", [("CommandId", str(self.number * 1000 + len(self.record.commands))),
                                                      ("Command", line)])
        reply = await self._execute(command)
        self._report_keys(self.t)
        self._write(self.codec.send(reply))
        result = "Success" if reply.code == 200 else (
            "Command Not Permitted on a dead channel or intercept routine" if reply.code == 511 else "Usage")
        self.fake._event(self, "AGIExecEnd", "agi", [
            ("CommandId", str(self.number * 1000 + len(self.record.commands))), ("Command", line),
            ("ResultCode", str(reply.code)), ("Result", result)])
        if self.dead and self._notice_due and self._notice_task is None:
            self._notice_task = asyncio.get_running_loop().create_task(self._notice_later())

    async def _notice_later(self) -> None:
        await self.fake.sleep(HANGUP_NOTICE_SECONDS * self.fake.time_scale)
        if self._notice_due:
            self._send_notice()
        self._notice_task = None

    def _send_notice(self) -> None:
        self._notice_due = False
        try:
            self._write(self.codec.send(AgiHangup()))
        except Exception:  # the socket is already gone: nothing left to tell
            pass

    def _write(self, data: bytes, log: bool = True) -> None:
        if self.writer is None or self.writer.is_closing():
            return
        self.writer.write(data)
        if log:
            for line in data.decode("utf-8").rstrip("\n").split("\n"):
                self.record.lines.append(("<<", line))

    def _die(self, by: str, cause: int) -> None:
        if self.dead:
            return
        self.dead = True
        self._notice_due = True
        self.record.hung_up_by = self.record.hung_up_by or by
        self.record.cause = cause if self.record.cause is None else self.record.cause
        self.fake._event(self, "Hangup", "call", [("Cause", str(self.record.cause)),
                                                  ("Cause-txt", CAUSE_TEXT.get(self.record.cause, "Unknown"))])
        if self.finished.done():
            self.fake.calls.pop(self.channel, None)

    # -- commands -------------------------------------------------------------------------------------

    async def _execute(self, command: AgiCommand) -> AgiReply:
        name, args = command.name, list(command.args)
        handler = _COMMANDS.get(name)
        if handler is None:
            return AgiReply(code=510, text="Invalid or unknown command")
        if self.dead and name not in DEAD_ALLOWED:
            return AgiReply(code=511, text="Command Not Permitted on a dead channel or intercept routine")
        if self.dead and name == "EXEC":
            return AgiReply(code=200, result="-1")  # applications return at once on a dead channel
        if len(args) < MIN_ARGS.get(name, 0):
            usage = USAGE.get(name)
            return AgiReply(code=520, usage=usage) if usage else AgiReply(code=520, text="Invalid command syntax.  Proper usage not available.")
        start = self.t
        if not self.marked and name in LISTEN_COMMANDS and not self.dead:
            self._begin_input("")  # an AGI program without FLOWENGINE_INPUT: each listen is a request
        try:
            outcome = handler(self, args)
            reply, duration = await outcome if inspect.isawaitable(outcome) else outcome
        except _Hangup as hung:
            reply, duration = self._hung_reply(name, args, hung.at - start), hung.at - self.t
            self._die("caller", 16)
        if name in PROMPT_COMMANDS and self.prompts_left > 0:
            self.prompts_left -= 1
        alive = not self.dead
        if await self._pass(duration) < duration and alive and self.dead:
            reply = self._hung_reply(name, args, self.t - start)  # an outside hang-up ended the command
        return reply

    async def _pass(self, seconds: float) -> float:
        """Let simulated time run; returns how much did. An outside hang-up (AMI, the test) ends it early.
        A dialled leg in Dial()'s subroutine lives on its dialler's timeline: the dialler hanging up on
        the way is only an AMI event, for leg A waits inside Dial() and the subroutine goes on."""
        seconds = max(0.0, seconds)
        dialler = self.dialler
        if dialler is not None and not dialler.dead and dialler.hangup_at is not None \
                and dialler.hangup_at < self.t + seconds:
            early = max(0.0, dialler.hangup_at - self.t)
            passed = await self._wait(early)
            if passed < early:
                return passed
            dialler._die("caller", 16)
            return passed + await self._wait(seconds - early)
        return await self._wait(seconds)

    async def _wait(self, seconds: float) -> float:
        """`seconds` of simulated time, slept at time_scale; outside events are handled as they come."""
        start = self.t
        self.t += seconds
        cut = seconds
        if seconds > 0 and self.fake.time_scale > 0:
            loop = asyncio.get_running_loop()
            began = loop.time()
            try:
                await asyncio.wait_for(self._external.wait(), seconds * self.fake.time_scale)
                cut = min(seconds, (loop.time() - began) / self.fake.time_scale)
            except asyncio.TimeoutError:
                pass
        if self._external.is_set():
            self._external.clear()
            for key in self._external_keys:
                self.fake._dtmf(self, key)
            self._external_keys.clear()
            if self._external_hangup and not self.dead:
                self._die(self._external_hangup, 16)
                self.t = start + cut
                return cut
        return seconds

    def _hung_reply(self, name: str, args: list[str], played: float) -> AgiReply:
        endpos = max(0, round(played * SAMPLES_PER_SECOND))
        if name == "RECORD FILE":
            return AgiReply(code=200, result="-1", data="hangup", endpos=endpos)
        if name == "STREAM FILE":
            return AgiReply(code=200, result="-1", endpos=endpos)
        return AgiReply(code=200, result="-1")

    def _check_hangup(self, until: float) -> None:
        """Raise _Hangup when the scripted hang-up falls before `until` (simulated seconds)."""
        if self.hangup_at is not None and not self.dead and self.hangup_at < until:
            raise _Hangup(max(self.hangup_at, self.t))

    # -- keys --------------------------------------------------------------------------------------

    def _begin_input(self, value: str) -> None:
        for left in self.pending_keys:  # keys this caller action pressed that no command read
            self._report(left)
        self.pending_keys = []
        count = value.rpartition("/")[2] if "/" in value else "0"
        self.prompts_left = int(count) if count.isdigit() else 0
        self.entry = self.inputs.pop(0) if self.inputs else None
        self.input_request_at = self.t
        self.listen_pending = False
        if self.entry is None or self.entry.kind == "hangup":
            self._die("caller", 16)
            return
        if self.entry.keys:
            if self.entry.at is not None:
                self._schedule(self.t + self.entry.at, self.entry.keys)
            else:
                self.listen_pending = True  # pressed when listening starts

    def _schedule(self, at: float, keys: str) -> None:
        for key in keys:
            self.pending_keys.append(_Key(at, key))

    def _report(self, key: "_Key") -> None:
        if not key.reported:
            key.reported = True
            self.fake._dtmf(self, key.key)

    def _report_keys(self, until: float) -> None:
        """AMI reports every key pressed by `until` (once), inside the running command's window."""
        for key in self.pending_keys:
            if key.at <= until:
                self._report(key)

    def _listen_starts(self) -> None:
        if self.listen_pending and self.entry is not None:
            self.listen_pending = False
            self._schedule(self.t, self.entry.keys)

    def _next_key(self, until: float, accept: str | None = None) -> tuple[float, str] | None:
        """The first pending key pressed by `until`; keys not in `accept` are read and dropped."""
        while self.pending_keys and self.pending_keys[0].at <= until:
            pressed = self.pending_keys.pop(0)
            self._report(pressed)
            if accept is None or pressed.key in accept:
                return max(pressed.at, self.t), pressed.key
        return None

    # -- command handlers: each returns (reply, simulated seconds) or raises _Hangup -------------------

    def media_seconds(self, name: str) -> float | None:
        for table in (self.world.media,):
            if name in table:
                return table[name]
        seconds = self.fake.media_duration(name)
        if seconds is not None:
            return seconds
        if name in self.fake.missing_media:
            return None
        return DEFAULT_MEDIA_SECONDS

    def _play(self, seconds: float, escapes: str) -> tuple[float, str]:
        """Play for `seconds`; returns (time played, key that stopped it or "")."""
        end = self.t + seconds
        hit = self._next_key(end, escapes if escapes else "")
        stop_at = hit[0] if hit else end
        self._check_hangup(stop_at if hit else end)
        return (stop_at - self.t, hit[1]) if hit else (seconds, "")

    def do_answer(self, args: list[str]) -> tuple[AgiReply, float]:
        seconds = self.fake.answer_seconds
        self._check_hangup(self.t + seconds)
        if self.state != 6:
            self.state = 6
            self.fake._event(self, "Newstate", "call")
        return AgiReply(code=200, result="0"), seconds

    def do_stream_file(self, args: list[str]) -> tuple[AgiReply, float]:
        seconds = self.media_seconds(args[0])
        offset = int(args[2]) if len(args) > 2 and args[2].lstrip("-").isdigit() else 0
        if seconds is None:
            return AgiReply(code=200, result="-1", endpos=offset), 0.0
        played, key = self._play(seconds, args[1])
        endpos = round(played * SAMPLES_PER_SECOND)
        return AgiReply(code=200, result=str(ord(key)) if key else "0", endpos=endpos), played

    def do_say_digits(self, args: list[str]) -> tuple[AgiReply, float]:
        seconds = SAY_DIGIT_MS * len(args[0]) / 1000
        played, key = self._play(seconds, args[1])
        return AgiReply(code=200, result=str(ord(key)) if key else "0"), played

    def do_wait_for_digit(self, args: list[str]) -> tuple[AgiReply, float]:
        if self.prompts_left <= 0:  # not one of the input request's prompts: listening
            self._listen_starts()
        timeout = int(args[0]) / 1000 if args[0].lstrip("-").isdigit() else 0.0
        end = self.t + (timeout if timeout >= 0 else 86400.0)
        hit = self._next_key(end, "0123456789*#ABCD")
        self._check_hangup(hit[0] if hit else end)
        if hit:
            return AgiReply(code=200, result=str(ord(hit[1]))), hit[0] - self.t
        return AgiReply(code=200, result="0"), end - self.t

    def do_get_data(self, args: list[str]) -> tuple[AgiReply, float]:
        start = self.t
        digits, elapsed = "", 0.0
        if args[0]:
            seconds = self.media_seconds(args[0])
            if seconds is not None:
                played, key = self._play(seconds, "0123456789*#")
                self.t += played
                elapsed += played
                if key:
                    digits = key if key != "#" else ""
                    if key == "#":
                        self.t = start
                        return AgiReply(code=200, result=""), elapsed
        self._listen_starts()
        timeout = int(args[1]) / 1000 if len(args) > 1 and args[1].lstrip("-").isdigit() and int(args[1]) > 0 else 6.0
        maximum = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1024
        try:
            while len(digits) < maximum:
                hit = self._next_key(self.t + timeout, "0123456789*#ABCD")
                self._check_hangup(hit[0] if hit else self.t + timeout)
                if hit is None:
                    self.t += timeout
                    return AgiReply(code=200, result=digits, data="timeout"), self.t - start
                self.t = hit[0]
                if hit[1] == "#":
                    break
                digits += hit[1]
            return AgiReply(code=200, result=digits), self.t - start
        finally:
            self.t = start

    def do_record_file(self, args: list[str]) -> tuple[AgiReply, float]:
        path, fmt, escapes, limit = args[0], args[1], args[2], int(args[3])
        beep = any(a.upper() == "BEEP" for a in args[5:])
        silence = next((int(a[2:]) for a in args[4:] if a.startswith("s=") and a[2:].isdigit()), 0)
        lead = 0.5 if beep else 0.0
        entry = self.entry if self.entry is not None and self.entry.kind in ("record", "keys", "timeout") else None
        talk = entry.talk if entry is not None and entry.kind == "record" else 0.0
        max_seconds = limit / 1000 if limit > 0 else 86400.0
        key_at = None
        if entry is not None and entry.keys and any(k in escapes for k in entry.keys):
            key_at = entry.at if entry.at is not None else talk
        if key_at is not None and key_at < max_seconds:
            duration, why, end = min(talk, key_at), "dtmf", key_at
            result = str(ord(next(k for k in entry.keys if k in escapes)))
        elif talk >= max_seconds:
            duration, why, end, result = max_seconds, "timeout", max_seconds, "0"
        else:
            duration, why, end, result = talk, "timeout", talk + (silence or max_seconds), "0"
        self._check_hangup(self.t + lead + end)
        self.record.variables[f"recorded:{path}.{fmt}"] = f"{duration:g}"
        return AgiReply(code=200, result=result, data=why, endpos=round(duration * SAMPLES_PER_SECOND)), lead + end

    def do_set_variable(self, args: list[str]) -> tuple[AgiReply, float]:
        name, value = args[0], args[1]
        self.record.variables[name] = value
        self.fake._event(self, "VarSet", "dialplan", [("Variable", name), ("Value", value)])
        if name == "FLOWENGINE_INPUT" and not self.dead:
            self.marked = True
            self._begin_input(value)
        return AgiReply(code=200, result="1"), 0.0

    def do_get_variable(self, args: list[str]) -> tuple[AgiReply, float]:
        value = self.record.variables.get(args[0])
        return (AgiReply(code=200, result="1", data=value) if value is not None else AgiReply(code=200, result="0")), 0.0

    def do_get_full_variable(self, args: list[str]) -> tuple[AgiReply, float]:
        text = re.sub(r"\$\{([^}]*)\}", lambda m: self._value(m.group(1)), args[0])
        return AgiReply(code=200, result="1", data=text), 0.0

    def _value(self, name: str) -> str:
        if name == SWITCH_TIME:
            return f"{self.fake.epoch + self.t:.3f}"
        return self.record.variables.get(name, "")

    def do_verbose(self, args: list[str]) -> tuple[AgiReply, float]:
        return AgiReply(code=200, result="1"), 0.0

    def do_hangup(self, args: list[str]) -> tuple[AgiReply, float]:
        if args and args[0] != self.channel:
            return AgiReply(code=200, result="-1"), 0.0
        self._die("flow", 0)  # the captures: AGI HANGUP leaves the cause at 0 (Unknown)
        return AgiReply(code=200, result="1"), 0.0

    def do_exec(self, args: list[str]) -> tuple[AgiReply, float]:
        app = args[0]
        data = args[1] if len(args) > 1 else ""
        handler = _APPLICATIONS.get(app.lower())
        if handler is None:
            return AgiReply(code=200, result="-2"), 0.0
        outcome = handler(self, data)
        if inspect.isawaitable(outcome):
            return self._replied(outcome)
        result, seconds = outcome
        return AgiReply(code=200, result=str(result)), seconds

    async def _replied(self, outcome) -> tuple[AgiReply, float]:
        result, seconds = await outcome
        return AgiReply(code=200, result=str(result)), seconds

    # -- dialplan applications: (result, simulated seconds) ---------------------------------------------

    def app_wait(self, data: str) -> tuple[int, float]:
        seconds = float(data or 0)
        self._next_key(self.t + seconds, "")  # keys during Wait() are read and dropped
        self._check_hangup(self.t + seconds)
        return 0, seconds

    def app_noop(self, data: str) -> tuple[int, float]:
        return 0, 0.0

    def app_busy(self, data: str) -> tuple[int, float]:
        self._die("flow", 17)
        return -1, float(data or 0)

    def app_congestion(self, data: str) -> tuple[int, float]:
        self._die("flow", 34)
        return -1, float(data or 0)

    def app_hangup(self, data: str) -> tuple[int, float]:
        self._die("flow", int(data) if data.isdigit() else 16)
        return -1, 0.0

    def app_senddtmf(self, data: str) -> tuple[int, float]:
        digits = data.split(",", 1)[0]
        seconds = sum(0.5 if k == "w" else 1.0 if k == "W" else KEY_SECONDS for k in digits)
        self._check_hangup(self.t + seconds)
        return 0, seconds

    def app_playback(self, data: str) -> tuple[int, float]:
        seconds = self.media_seconds(data.split(",", 1)[0])
        if seconds is None:
            return 0, 0.0
        self._check_hangup(self.t + seconds)
        return 0, seconds

    def app_dial(self, data: str) -> tuple[int, float]:
        parts = data.split(",")
        destinations = [d for d in parts[0].split("&") if d]
        timeout = float(parts[1]) if len(parts) > 1 and parts[1] else 86400.0
        options = parts[2] if len(parts) > 2 else ""
        limit = re.search(r"L\((\d+)\)", options)
        outcomes = [(lookup(self.world.dial, _target(d), DialOutcome("no-answer")), d) for d in destinations]
        answering = sorted(((o.after if o.after is not None else 2.0), i, o, d)
                           for i, (o, d) in enumerate(outcomes) if o.status == "answer")
        answering = [a for a in answering if a[0] < timeout]
        variables = self.record.variables
        variables.update(DIALSTATUS="", ANSWEREDTIME="", ANSWEREDTIME_MS="", DIALEDPEERNUMBER="")
        gosub = re.search(r"U\(([^)]*)\)", options)
        if answering and gosub and gosub.group(1).split("^", 1)[0] in self.fake.dialplan:
            return self._dial_gosub(answering[0], gosub.group(1), limit)
        if answering:
            ring, _, outcome, destination = answering[0]
            talk = outcome.talk
            if limit is not None:
                talk = min(talk, int(limit.group(1)) / 1000)
            try:
                self._check_hangup(self.t + ring)
            except _Hangup:
                variables["DIALSTATUS"] = "CANCEL"
                raise
            variables.update(DIALSTATUS="ANSWER", DIALEDPEERNUMBER=destination.split("/", 1)[-1])
            try:
                self._check_hangup(self.t + ring + talk)
            except _Hangup as hung:
                spoke = hung.at - (self.t + ring)
                variables.update(ANSWEREDTIME=str(int(spoke)), ANSWEREDTIME_MS=str(round(spoke * 1000)))
                raise
            variables.update(ANSWEREDTIME=str(int(talk)), ANSWEREDTIME_MS=str(round(talk * 1000)))
            if outcome.hangup == "caller" and (limit is None or outcome.talk <= talk):
                self._die("caller", 16)
                return -1, ring + talk
            return 0, ring + talk
        if any(o.status in ("no-answer", "answer") for o, _ in outcomes):
            status, seconds = "NOANSWER", timeout
        else:
            rings = [o.after if o.after is not None else 1.0 for o, _ in outcomes]
            statuses = {o.status for o, _ in outcomes}
            status = "BUSY" if statuses == {"busy"} else "CHANUNAVAIL"
            seconds = min(max(rings), timeout)
        try:
            self._check_hangup(self.t + seconds)
        except _Hangup:
            variables["DIALSTATUS"] = "CANCEL"
            raise
        variables["DIALSTATUS"] = status
        return 0, seconds

    async def _dial_gosub(self, answered: tuple, gosub: str, limit: re.Match | None) -> tuple[int, float]:
        """Dial() with U(): the answered leg runs the subroutine (an AGI session of its own) before the legs
        are connected for the entry's talk; returns (result, 0: its time has passed)."""
        ring, _, outcome, destination = answered
        variables = self.record.variables
        try:
            self._check_hangup(self.t + ring)
        except _Hangup:
            variables["DIALSTATUS"] = "CANCEL"
            raise
        if await self._pass(ring) < ring:
            variables["DIALSTATUS"] = "CANCEL"
            return -1, 0.0
        peer = destination.split("/", 1)[-1]
        variables.update(DIALSTATUS="ANSWER", DIALEDPEERNUMBER=peer)
        context, _, rest = gosub.partition("^")
        found = self.fake._agi_target(_expand(self.fake.dialplan[context], {
            f"ARG{n}": arg for n, arg in enumerate(rest.split("^") if rest else [], 1)}))
        if found is None:
            return 0, 0.0
        address, path, args = found
        callee = self.fake.call(address, path=path, caller=list(outcome.inputs), world=self.world,
                                callerid=self.callerid, calleridname=self.calleridname, extension="s",
                                context=context, args=args, dialler=self,
                                channel=f"{destination.split('@', 1)[0]}-{next(self.fake._call_numbers):08x}")
        callee.state = 6
        callee.record.variables["DIALEDPEERNUMBER"] = peer
        record = await callee.finished
        self.t = max(self.t, callee.t)
        if self.dead:  # leg A hung up while the subroutine ran: Dial() hangs the leg up and returns
            callee._die("flow", 16)
            return -1, 0.0
        if callee.dead:  # the leg hung up (or was hung up) in the subroutine: nothing to connect
            return 0, 0.0
        if record.variables.get("GOSUB_RESULT") == "CONTINUE":
            callee._die("flow", 16)
            return 0, 0.0
        talk = outcome.talk if limit is None else min(outcome.talk, int(limit.group(1)) / 1000)
        try:
            self._check_hangup(self.t + talk)
        except _Hangup:  # leg A hangs up during the bridge
            callee._die("flow", 16)
            raise
        variables.update(ANSWEREDTIME=str(int(talk)), ANSWEREDTIME_MS=str(round(talk * 1000)))
        if await self._pass(talk) < talk and self.dead:  # leg A was hung up from outside during the bridge
            callee._die("flow", 16)
            return -1, 0.0
        if outcome.hangup == "caller" and (limit is None or outcome.talk <= talk):
            self._die("caller", 16)
            callee._die("flow", 16)
            return -1, 0.0
        callee._die("caller", 16)  # the called party (or the L() limit) ended the bridge
        return 0, 0.0

    def app_queue(self, data: str) -> tuple[int, float]:
        parts = data.split(",")
        name = parts[0]
        max_wait = float(parts[4]) if len(parts) > 4 and parts[4] else None
        outcome = lookup(self.world.queue, name, QueueOutcome("no_agents"))
        status = outcome.status
        wait = outcome.after if outcome.after is not None else (
            (max_wait if max_wait is not None else 60.0) if status == "timeout" else 0.0)
        talk = outcome.talk if status.startswith("answered") else 0.0
        variables = self.record.variables
        variables.update(QUEUESTATUS="", MEMBERINTERFACE="")
        self._check_hangup(self.t + wait)
        if status.startswith("answered"):
            variables["MEMBERINTERFACE"] = f"PJSIP/agent-{name}"
            self._check_hangup(self.t + wait + talk)
            if status == "answered/caller_hangup":
                self._die("caller", 16)
                return -1, wait + talk
            variables["QUEUESTATUS"] = "CONTINUE"
            return 0, wait + talk
        variables["QUEUESTATUS"] = {"timeout": "TIMEOUT"}.get(status, "JOINEMPTY")
        return 0, wait

    def app_confbridge(self, data: str) -> tuple[int, float]:
        room = data.split(",", 1)[0]
        outcome = lookup(self.world.conference, room, ConferenceOutcome())
        self._check_hangup(self.t + outcome.talk)
        if outcome.end == "caller":
            self._die("caller", 16)
            return -1, outcome.talk
        self.record.variables["CONFBRIDGE_RESULT"] = "KICKED"
        return 0, outcome.talk


def _expand(data: str, values: dict[str, str]) -> str:
    """Dialplan `${NAME}` references in an application's data, from `values` ("" when unknown)."""
    return re.sub(r"\$\{([^}]*)\}", lambda m: values.get(m.group(1), ""), data)


def _target(destination: str) -> str:
    """The flow's dial target from a Dial() destination (`PJSIP/+15551112222@trunk` → `+15551112222`)."""
    tail = destination.split("/", 1)[-1]
    return tail.split("@", 1)[0]


_COMMANDS: dict[str, Callable[[FakeCall, list[str]], tuple[AgiReply, float]]] = {
    "ANSWER": FakeCall.do_answer,
    "STREAM FILE": FakeCall.do_stream_file,
    "SAY DIGITS": FakeCall.do_say_digits,
    "WAIT FOR DIGIT": FakeCall.do_wait_for_digit,
    "GET DATA": FakeCall.do_get_data,
    "RECORD FILE": FakeCall.do_record_file,
    "SET VARIABLE": FakeCall.do_set_variable,
    "GET VARIABLE": FakeCall.do_get_variable,
    "GET FULL VARIABLE": FakeCall.do_get_full_variable,
    "VERBOSE": FakeCall.do_verbose,
    "HANGUP": FakeCall.do_hangup,
    "EXEC": FakeCall.do_exec,
    "NOOP": FakeCall.do_verbose,
}


_APPLICATIONS = {
    "wait": FakeCall.app_wait, "ringing": FakeCall.app_noop, "progress": FakeCall.app_noop,
    "busy": FakeCall.app_busy, "congestion": FakeCall.app_congestion,
    "hangup": FakeCall.app_hangup, "senddtmf": FakeCall.app_senddtmf, "playback": FakeCall.app_playback,
    "dial": FakeCall.app_dial, "queue": FakeCall.app_queue, "confbridge": FakeCall.app_confbridge,
    "mixmonitor": FakeCall.app_noop, "stopmixmonitor": FakeCall.app_noop,
}


# -- AMI ---------------------------------------------------------------------------------------------------


class _AmiSession(asyncio.Protocol):
    """One manager session of the fake switch."""

    def __init__(self, fake: "FakeAsterisk"):
        self.fake = fake
        self.codec = AmiCodec(SERVER)
        self.transport: asyncio.Transport | None = None
        self.authenticated = False
        self.events_on = False
        self.actions: list[AmiAction] = []
        self._tasks: set[asyncio.Task] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.fake.sessions.add(self)
        self.send(AmiBanner(self.fake.ami_version))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fake.sessions.discard(self)
        for task in self._tasks:
            task.cancel()

    def send(self, message: object) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.codec.send(message))

    def data_received(self, data: bytes) -> None:
        try:
            self.codec.receive_data(data)
            while (message := self.codec.next_event()) is not AMI_NEED_DATA:
                if type(message) is AmiClosed:
                    self.close()
                elif type(message) is AmiActionTooLong:
                    self.send(AmiResponse.build("Error", action_id=message.action_id, message=TOO_MANY_LINES))
                else:
                    self.actions.append(message)  # type: ignore[arg-type]
                    self._spawn(self.fake._action(self, message))  # type: ignore[arg-type]
        except RemoteProtocolError:
            self.close()

    def eof_received(self) -> bool:
        return False

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class FakeAsterisk:
    """The fake switch: `call()` drives FastAGI calls; `start_ami()` serves AMI on port 0."""

    def __init__(self, *, time_scale: float = 0.001, username: str = "flowengine", secret: str = "secret",
                 ami_version: str = AMI_VERSION, login_failure_delay: float = LOGIN_FAILURE_DELAY,
                 media_duration: Callable[[str], float | None] | None = None,
                 missing_media: set[str] | None = None, agi_address: tuple[str, int] | None = None,
                 timestamps: bool = True, answer_seconds: float = ANSWER_SECONDS,
                 on_command: Callable[["FakeCall", str], None] | None = None):
        self.time_scale = time_scale
        self.username, self.secret = username, secret
        self.ami_version = ami_version
        self.login_failure_delay = login_failure_delay
        self.media_duration: Callable[[str], float | None] = media_duration or (lambda name: None)
        self.missing_media = missing_media or set()
        self.agi_address = agi_address  # where originated calls run AGI (when the Data URL names no host)
        self.timestamps = timestamps
        self.answer_seconds = answer_seconds
        self.on_command = on_command  # sees every command line of every call first (fault injection: stop())
        self.sleep = RealClock().sleep  # the fake switch's own wall time (scaled by time_scale)
        self.epoch = int(datetime.now(timezone.utc).timestamp())
        self.calls: dict[str, FakeCall] = {}  # live calls by channel name
        self.timeline: list[FakeCall] = []  # every call, in creation order
        self.sessions: set[_AmiSession] = set()
        self.originates: list[AmiAction] = []
        self.originate_outcomes: dict[str, str] = {}  # dial target -> answer | busy | no-answer | failed
        self.originated: list[FakeCall] = []
        self.world_for_originated: World = World()
        # context -> the AGI() Data a Redirect there (${EXTEN}: the extension) or Dial()'s U() (${ARG1}…) runs
        self.dialplan: dict[str, str] = {}
        self.redirected: list[FakeCall] = []
        self._call_numbers = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None

    # -- FastAGI calls --------------------------------------------------------------------------------

    def call(self, address: tuple[str, int], *, path: str = "flow", caller: list | None = None,
             world: World | None = None, hangup_at: float | None = None, callerid: str = "5551234",
             calleridname: str = "Test Caller", dnid: str = "unknown", extension: str = "100",
             context: str = "flow-agi", args: tuple[str, ...] = (), env: dict[str, str] | None = None,
             hold_timeout: float = 5.0, dialler: FakeCall | None = None, channel: str | None = None) -> FakeCall:
        """Start a call into the FastAGI server at `address` (returns at once; await `.finished`).
        `dialler`: the call whose Dial() subroutine this session runs (see the module docstring)."""
        world = world or World()
        if caller is None:
            caller = list(world.caller)
        if hangup_at is not None:
            world = World(caller=world.caller, hangup_at=hangup_at, dial=world.dial, queue=world.queue,
                          conference=world.conference, http=world.http, media=world.media)
        return FakeCall(self, address, path=path, caller=caller, world=world, callerid=callerid,
                        calleridname=calleridname, dnid=dnid, extension=extension, context=context,
                        args=args, env=env, hold_timeout=hold_timeout, dialler=dialler, channel=channel)

    def call_scenario(self, address: tuple[str, int], scenario, *, path: str = "flow", **kwargs) -> FakeCall:
        """A call driven by a testing.Scenario: its caller list, hangup_at, dial/queue/conference
        tables and media; `from`/`from_name`/`to` become the caller id and the dialled number."""
        call = scenario.call
        from_ = "unknown" if call.from_ == "anonymous" else call.from_
        return self.call(address, path=path, world=scenario.world, callerid=from_,
                         calleridname=call.from_name or "unknown", dnid=call.to, **kwargs)

    # -- AMI ------------------------------------------------------------------------------------------

    async def start_ami(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _AmiSession(self), host, port)
        name = self._server.sockets[0].getsockname()
        return name[0], name[1]

    @property
    def ami_address(self) -> tuple[str, int]:
        assert self._server is not None
        name = self._server.sockets[0].getsockname()
        return name[0], name[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self.sessions):
            session.close()
        for call in list(self.calls.values()):
            call.hangup("caller")
        tasks = [c.task for c in list(self.calls.values()) + self.originated]
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    def _headers(self, call: FakeCall) -> list[tuple[str, str]]:
        desc = {4: "Ring", 6: "Up"}.get(call.state, "Down")
        return [("Channel", call.channel), ("ChannelState", str(call.state)), ("ChannelStateDesc", desc),
                ("CallerIDNum", call.callerid), ("CallerIDName", call.calleridname),
                ("ConnectedLineNum", call.callerid), ("ConnectedLineName", call.calleridname),
                ("Language", "en"), ("AccountCode", ""), ("Context", call.context),
                ("Exten", call.extension), ("Priority", "2"), ("Uniqueid", call.uniqueid),
                ("Linkedid", call.linkedid)]

    def _event(self, call: FakeCall, name: str, privilege: str, extra: list[tuple[str, str]] = ()) -> None:
        if not self.sessions:
            return
        headers = [("Event", name), ("Privilege", f"{privilege},all")]
        if self.timestamps:
            headers.append(("Timestamp", f"{datetime.now(timezone.utc).timestamp():.6f}"))
        event = AmiEvent(headers + self._headers(call) + list(extra))
        self.broadcast(event)

    def _dtmf(self, call: FakeCall, digit: str) -> None:
        self._event(call, "DTMFBegin", "dtmf", [("Digit", digit), ("Direction", "Received")])
        self._event(call, "DTMFEnd", "dtmf", [("Digit", digit), ("DurationMs", "250"), ("Direction", "Received")])

    def broadcast(self, event: AmiEvent) -> None:
        for session in list(self.sessions):
            if session.authenticated and session.events_on:
                session.send(event)

    async def _action(self, session: _AmiSession, action: AmiAction) -> None:
        name = action.name
        action_id = action.action_id
        lowered = name.lower()

        def reply(status: str, message: str | None = None, headers: list = ()) -> None:
            session.send(AmiResponse.build(status, action_id=action_id, message=message, headers=headers))

        if not name:
            reply("Error", "Missing action in request")
            return
        if not session.authenticated and lowered not in ("login", "logoff", "challenge"):
            reply("Error", "Permission denied")
            return
        if lowered == "login":
            if session.authenticated:
                reply("Success", "Already authenticated")
                return
            if action.get("Username") != self.username or action.get("Secret") != self.secret:
                await self.sleep(self.login_failure_delay)
                reply("Error", "Authentication failed")
                session.close()
                return
            session.authenticated = True
            session.events_on = (action.get("Events") or "on").lower() != "off"
            reply("Success", "Authentication accepted")
            if session.events_on:
                session.send(AmiEvent([("Event", "FullyBooted"), ("Privilege", "system,all"),
                                       ("Uptime", "644"), ("LastReload", "69"), ("Status", "Fully Booted")]))
            return
        if lowered == "logoff":
            reply("Goodbye", "Thanks for all the fish.")
            session.close()
            return
        if lowered == "ping":
            stamp = f"{datetime.now(timezone.utc).timestamp():.6f}"
            reply("Success", headers=[("Ping", "Pong"), ("Timestamp", stamp)])
            return
        if lowered == "events":
            mask = (action.get("EventMask") or "").lower()
            if mask not in ("on", "off"):
                reply("Error", "Invalid event mask")
                return
            session.events_on = mask == "on"
            reply("Success", headers=[("Events", "On" if session.events_on else "Off")])
            return
        if lowered == "originate":
            await self._originate(session, action, reply)
            return
        if lowered == "hangup":
            call = self.calls.get(action.get("Channel") or "")
            if call is None:
                reply("Error", "No such channel")
                return
            call.record.cause = int(action.get("Cause") or 16)
            call.hangup("ami")
            reply("Success", "Channel Hungup")
            return
        if lowered == "redirect":
            call = self.calls.get(action.get("Channel") or "")
            if call is None:
                reply("Error", "Channel specified does not exist")
                return
            call.record.redirected_to = (action.get("Context") or "", action.get("Exten") or "",
                                         action.get("Priority") or "1")
            call.hangup("ami")
            reply("Success", "Redirect successful")
            data = self.dialplan.get(action.get("Context") or "")
            if data is not None:
                self._run_redirected(call, data.replace("${EXTEN}", action.get("Exten") or ""))
            return
        if lowered == "coreshowchannels":
            reply("Success", "Channels will follow", headers=[("EventList", "start")])
            calls = list(self.calls.values())
            for call in calls:
                session.send(AmiEvent([("Event", "CoreShowChannel"), ("ActionID", action_id or "")]
                                      + self._headers(call) + [("Application", "AGI")]))
            session.send(AmiEvent([("Event", "CoreShowChannelsComplete"), ("ActionID", action_id or ""),
                                   ("EventList", "Complete"), ("ListItems", str(len(calls)))]))
            return
        reply("Error", f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.")

    async def _originate(self, session: _AmiSession, action: AmiAction, reply) -> None:
        self.originates.append(action)
        channel = action.get("Channel")
        if not channel:
            reply("Error", "Channel not specified")
            return
        asynchronous = (action.get("Async") or "").lower() in ("true", "yes", "1")
        if not asynchronous:
            reply("Error", "the fake switch supports Async originate only")
            return
        reply("Success", "Originate successfully queued")
        target = _target(channel.split("@", 1)[0]) if channel.startswith("Local/") else _target(channel)
        outcome = self.originate_outcomes.get(target, self.originate_outcomes.get("*", "answer"))
        ring = {"answer": 0.5, "busy": 1.0, "failed": 0.1}.get(
            outcome, (int(action.get("Timeout") or 30000) / 1000))
        await self.sleep(ring * self.time_scale)
        reason = {"answer": 4, "busy": 5, "no-answer": 3, "failed": 0}.get(outcome, 0)
        headers = [("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", action.action_id or ""),
                   ("Response", "Success" if outcome == "answer" else "Failure"), ("Channel", channel)]
        if action.get("Application"):
            headers += [("Application", action.get("Application") or ""), ("Data", action.get("Data") or "")]
        else:
            headers += [("Context", action.get("Context") or ""), ("Exten", action.get("Exten") or "")]
        number = next(self._call_numbers)
        caller = action.get("CallerID") or ""
        match = re.match(r'\s*"?([^"<]*)"?\s*<([^>]*)>', caller)
        cid_name, cid_num = (match.group(1).strip(), match.group(2)) if match else ("<unknown>", caller or "<unknown>")
        headers += [("Reason", str(reason)),
                    ("Uniqueid", f"{self.epoch}.{2 * number}" if outcome == "answer" else "<unknown>"),
                    ("CallerIDNum", cid_num), ("CallerIDName", cid_name)]
        session.send(AmiEvent(headers))
        if outcome == "answer" and (action.get("Application") or "").lower() == "agi":
            self._run_originated(action, target)

    def _agi_target(self, data: str) -> tuple[tuple[str, int], str, tuple[str, ...]] | None:
        """(address, path, args) of an AGI() application's Data (`agi://host:port/path,arg1,…`)."""
        url, _, rest = data.partition(",")
        args = tuple(a for a in rest.split(",") if a) if rest else ()
        match = re.match(r"agi://([^/:]+)(?::(\d+))?/?([^,]*)", url)
        if match is None:
            return None
        address = (match.group(1), int(match.group(2) or 4573))
        if self.agi_address is not None and match.group(1) in ("", "flowengine"):
            address = self.agi_address
        return address, match.group(3), args

    def _run_originated(self, action: AmiAction, target: str) -> None:
        found = self._agi_target(action.get("Data") or "")
        if found is None:
            return
        address, path, args = found
        call = self.call(address, path=path, world=self.world_for_originated, callerid=target,
                         calleridname="unknown", extension=target, context="flowengine-originate", args=args)
        call.state = 6
        self.originated.append(call)

    def _run_redirected(self, old: FakeCall, data: str) -> None:
        """The redirected channel runs AGI again (a new FastAGI session) with its caller's remaining script."""
        found = self._agi_target(data)
        if found is None:
            return
        address, path, args = found
        call = self.call(address, path=path, caller=list(old.inputs), world=old.world, callerid=old.callerid,
                         calleridname=old.calleridname, extension=old.extension, context=old.context, args=args)
        call.state = 6
        self.redirected.append(call)


# -- a whole flow on the fake switch ------------------------------------------------------------------------


async def run_on_fake_asterisk(flow, scenario=None, *, time_scale: float = 0.001, path: str = "flow",
                               fake: FakeAsterisk | None = None, ami: bool = True):
    """Run `flow` through AsteriskChannel against this fake switch, with the world of `scenario`
    (a testing.Scenario, a dict or a file): the live-call counterpart of `testing.simulate_async`.

    Returns (transcript, CallRecord of the switch's side; None when an API-started flow never got its
    call answered). Transcript times are real seconds (scaled), so compare events without `t`; the
    flow's wall clock starts at the scenario's `call.at` (time-of-day rules see the scenario's time).
    The timing follows the simulation spec's model (ANSWER takes no time here, unlike the captured
    0.5 s), and recording URLs use the fake channel's form (https://rec.example/rec_001.wav).
    An API-started flow (`call.trigger: api`) places its first call like the daemon's AMI Originate
    would: the scenario's `dial` table says how the target answers, and the answered call is a FastAGI
    call of this fake switch whose caller actions are the scenario's `caller` list.
    As in the daemon, AMI is connected (it tells the channel that leg A hung up while a dialled leg ran
    its own states), and dialled legs with states of their own come back through the `flowengine-leg`
    context of docs/asterisk.md, paired with their dial by a one-time token. `fake`: the switch to use
    (its `timeline` then shows every call, dialled legs' sessions included; it gets this harness's timing
    and is closed at the end). `ami=False` plays a daemon without `[asterisk.ami]`.
    """
    from .. import formats
    from ..channels.asterisk.amiclient import AmiClient
    from ..channels.asterisk.channel import AsteriskChannel, AsteriskOptions, Originated
    from ..channels.asterisk.fastagi import FastAgiServer
    from ..channels.fake import FakeHttp, FakeSms
    from ..runtime.clock import VirtualClock
    from ..runtime.ids import SequentialIds
    from ..runtime.interpreter import Interpreter
    from .runner import load_flow
    from .scenario import Scenario, load_scenario
    from .transcript import Transcript

    flow = load_flow(flow)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    tts = FakeTts()
    fake = fake or FakeAsterisk(time_scale=time_scale)
    fake.media_duration, fake.answer_seconds = tts.duration, 0.0
    ids = SequentialIds()
    options = AsteriskOptions(recordings_dir="/var/spool/asterisk/flowengine",
                              recording_url="https://rec.example/{name}")
    arrivals: asyncio.Queue = asyncio.Queue()  # sessions without a token of ours: the scenario's call
    pending: dict[str, asyncio.Future] = {}
    calls: list[FakeCall] = []
    tasks: set[asyncio.Task] = set()

    def spawn(coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def accept(connection) -> None:
        environment = await connection.environment(5.0)
        if environment is None:
            return
        waiter = pending.pop(environment.args[0], None) if environment.args else None
        if waiter is not None and not waiter.done():
            waiter.set_result((connection, environment))
        elif environment.get("agi_network_script") == options.leg_context:
            connection.send_and_close(AgiCommand("EXEC", "Hangup", "1"))  # its dial no longer waits
        else:
            arrivals.put_nowait((connection, environment))

    server = FastAgiServer(lambda connection: spawn(accept(connection)), "127.0.0.1", 0)
    await server.start()
    fake.dialplan[options.leg_context] = f"agi://127.0.0.1:{server.address[1]}/{options.leg_context},${{ARG1}}"
    manager = AmiClient(*(await fake.start_ami()), fake.username, fake.secret)
    await manager.start()

    class Switch:
        """The daemon's side of the channel: AMI Originate (played with the scenario's dial table),
        and the one-time tokens of dialled legs."""

        uniqueid: str | None = None

        async def originate(self, request) -> Originated:
            target = request.targets[0]
            outcome = lookup(scenario.world.dial, target, DialOutcome("no-answer"))
            if outcome.status != "answer":
                return Originated(outcome.status)
            caller = list(scenario.world.caller) or list(outcome.inputs)
            calls.append(fake.call(server.address, path=path, caller=caller, world=scenario.world,
                                   callerid=target, calleridname="unknown", extension=target,
                                   context="flowengine-originate"))
            connection, environment = await arrivals.get()
            self.uniqueid = environment.get("agi_uniqueid")
            return Originated("answered", connection, None, target, environment)

        def expect(self) -> tuple[str, asyncio.Future]:
            token = ids.next("leg")
            pending[token] = asyncio.get_running_loop().create_future()
            return token, pending[token]

        def forget(self, token: str) -> None:
            pending.pop(token, None)

        def on_caller_hangup(self, callback):
            if self.uniqueid is None or not ami:
                return None
            return manager.subscribe(lambda event: callback() if event.name == "Hangup" else None,
                                 uniqueid=self.uniqueid)

        def hang_up(self, channel: str) -> None:
            if ami:
                spawn(_quietly(manager.hangup(channel)))

    switch = Switch()

    async def run(connection) -> object:
        clock = _ScenarioClock(fake, scenario.call.at)
        channel = AsteriskChannel(connection, clock=clock, tts=tts, options=options, ids=ids,
                                  originator=switch, legs=switch)
        interpreter = Interpreter(flow, channel, call=scenario.call, clock=clock,
                                  http=FakeHttp(scenario.world, VirtualClock(scenario.call.at)), sms=FakeSms(ids),
                                  loader=formats.load_document, limits=scenario.limits, ids=ids)
        try:
            return await interpreter.run()
        finally:
            channel.close_legs()
            if channel.connection is not None:
                channel.connection.close()

    try:
        if not await manager.wait_ready(5.0):
            raise RuntimeError("the fake Asterisk's AMI did not accept the login")
        if scenario.call.trigger == "inbound-call":
            calls.append(fake.call_scenario(server.address, scenario, path=path))
            connection, environment = await arrivals.get()
            switch.uniqueid = environment.get("agi_uniqueid")
            result = await run(connection)
        else:
            result = await run(None)
        record = await calls[0].finished if calls else None
    finally:
        await server.stop()
        await manager.close()
        await fake.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return Transcript(result.events, result.steps, result.reason, result.variables), record


async def _quietly(action) -> None:
    """An AMI action whose failure changes nothing (the channel it ends may be gone already)."""
    try:
        await action
    except ChannelError:
        pass


class _ScenarioClock(RealClock):
    """The interpreter's clock for a call on the fake Asterisk (run_on_fake_asterisk): the switch's
    simulated time, one timeline for a call and the legs it dials, with the wall clock starting at the
    scenario's `call.at`, so durations a flow reads from the clock are the scenario's. Deadlines cut a
    running command in real time, scaled by the fake's `time_scale`."""

    def __init__(self, fake: FakeAsterisk, at: datetime):
        super().__init__()
        self.fake = fake
        self._at = at

    def now(self) -> float:
        return max((call.t for call in self.fake.timeline), default=0.0)

    def wall(self) -> datetime:
        return self._at + timedelta(seconds=self.now())

    async def guard(self, operation):
        if self._deadline is None:
            return await operation
        remaining = (self._deadline - self.now()) * self.fake.time_scale
        if remaining <= 0:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise DeadlineReached()
        try:
            async with asyncio.timeout(remaining) as scope:
                return await operation
        except TimeoutError:
            if scope.expired():
                raise DeadlineReached() from None
            raise
