"""A protocol-faithful fake FreeSWITCH: an inbound Event Socket server and an outbound call driver, on
flowengine's own ESL codec (server role).

    fake = FakeFreeSwitch(time_scale=0.0)                # 0: simulated time only, no sleeping
    call = fake.call(("127.0.0.1", outbound_port), caller=["1"], world=World(...))
    record = await call.finished                         # what the call did, and every packet both ways
    host, port = await fake.start_inbound()              # auth, api, bgapi originate … &socket(…), events

It plays FreeSWITCH 1.10's side as the captures in shared/wire/ show it: outbound, it waits for `connect`
and answers with the raw URL-encoded CHANNEL_DATA block; `myevents`, `linger`, `sendmsg` answer at once
(async mode) and each app then reports CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE with the caller's
Event-UUID as Application-UUID, `variable_*` headers included (updated variables move to the end, as
switch_channel_set_variable does); DTMF events are fired when a key is dequeued, by the running app or,
while nothing runs, by the park loop when the next command wakes it (the key is lost to the apps);
a hang-up gives CHANNEL_HANGUP, the running app's EXECUTE_COMPLETE, CHANNEL_UNPARK, the socket app's
EXECUTE_COMPLETE, two CHANNEL_STATE, CHANNEL_HANGUP_COMPLETE, then the linger notice, and the fake waits
for the client to close (without linger: the 67-byte goodbye and close). Inbound: `auth/request` first,
`-ERR invalid` then goodbye on a wrong password, `api` in api/response, `bgapi` with its Job-UUID at once
and BACKGROUND_JOB (`+OK <uuid>` / `-ERR <cause>`) later, `exit` with `+OK bye`. An unknown app hangs the
call up with DESTINATION_OUT_OF_ORDER (switch_core_session.c). Events the captures do not show
(CHANNEL_BRIDGE/UNBRIDGE) follow the same layout; their Event-Calling-* values are not from a capture.

The caller is scripted like a scenario's `caller` list (channels.fake.CallerInput, one entry per input
request): the flowengine channel announces each input request in the channel variable `flowengine_input`,
and that is where the next entry starts; keys without `at` are pressed when listening starts (the first
play_and_get_digits of the request). Time is simulated per call with the fake channel's timing model and
slept for `time_scale` of it in real time; `hangup_at`, the `dial` and `conference` tables and `media`
durations come from a channels.fake.World, so one scenario drives every fake.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ..channels.fake import (
    DEFAULT_MEDIA_SECONDS,
    DTMF_KEY_MS,
    SAY_DIGIT_MS,
    TTS_CHARS_PER_SECOND,
    CallerInput,
    ConferenceOutcome,
    DialOutcome,
    World,
    lookup,
)
from ..channels.freeswitch.channel import Q850
from ..channels.freeswitch.esl import (
    CLOSED,
    ERROR,
    INBOUND,
    NEED_DATA,
    OUTBOUND,
    SERVER,
    ApiResponse,
    AuthRequest,
    ChannelData,
    Closed,
    Command,
    CommandReply,
    DisconnectNotice,
    EslCodec,
    EslEvent,
    Headers,
    Message,
)
from ..errors import RemoteProtocolError
from ..runtime.clock import RealClock

__all__ = ["FakeFreeSwitch", "FakeCall", "CallRecord", "FakeSwitchClock", "caller_inputs", "run_on_fake_freeswitch",
           "EVENT_SOURCES"]

CONNECT_DEADLINE = 25.0  # read_packet's timeout for `connect` (seconds, scaled like everything else)
ANY_KEY = "1234567890*#"
CAUSE_CODES = {name: code for code, name in Q850.items()}
SIP_CAUSES = {486: "USER_BUSY", 603: "CALL_REJECTED", 404: "UNALLOCATED_NUMBER", 480: "NO_USER_RESPONSE",
              503: "NORMAL_TEMPORARY_FAILURE"}
OUTCOME_CAUSES = {"busy": "USER_BUSY", "no-answer": "NO_ANSWER", "failed": "NORMAL_TEMPORARY_FAILURE"}

EVENT_SOURCES = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2021"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2944"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2967"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3846"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2408"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "0"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "0"),
}
"""Event-Calling-File / -Function / -Line-Number of each event, as in the FreeSWITCH 1.10.12 captures."""

STATUS = ("UP 0 years, 0 days, 0 hours, 2 minutes, 3 seconds, 867 milliseconds, 101 microseconds\n"
          "FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n"
          "{sessions} session(s) since startup\n"
          "{live} session(s) - peak {peak}, last 5min {peak} \n"
          "0 session(s) per Sec out of max 30, peak 1, last 5min 1 \n"
          "200 session(s) max\n"
          "min idle cpu 0.00/97.57\n"
          "Current Stack Size/Max 240K/8192K\n")
"""`api status` as the captured switch answered it."""

def caller_inputs(items: list) -> list[CallerInput]:
    """A scenario-style caller list ("1", "timeout", "hangup", {keys, at}, {record, keys}) as CallerInputs."""
    out = []
    for item in items:
        if isinstance(item, CallerInput):
            out.append(item)
        elif item in ("timeout", "hangup"):
            out.append(CallerInput(item))
        elif isinstance(item, str):
            out.append(CallerInput("keys", keys=item))
        elif "record" in item:
            out.append(CallerInput("record", keys=item.get("keys", ""), at=item.get("at"), talk=float(item["record"])))
        else:
            out.append(CallerInput("keys", keys=item.get("keys", ""), at=item.get("at")))
    return out


@dataclass
class CallRecord:
    """What one fake call did: the apps it ran, how it ended, and every packet (direction, message)."""

    uuid: str
    apps: list[tuple[str, str]] = field(default_factory=list)
    hangup_cause: str | None = None
    hung_up_by: str | None = None  # caller | flow | switch | callee
    closed_by: str | None = None  # client | switch
    variables: dict[str, str] = field(default_factory=dict)
    wire: list[tuple[str, Message]] = field(default_factory=list)
    error: str | None = None


class _Hangup(Exception):
    """The call ended while an app ran (the caller, a callee or a timer hung up)."""

    def __init__(self, at_ms: int, cause: str = "NORMAL_CLEARING", by: str = "caller"):
        super().__init__(cause)
        self.at_ms, self.cause, self.by = at_ms, cause, by


class FakeFreeSwitch:
    """The switch: calls (outbound sockets to a flowengine server) and an inbound ESL server."""

    def __init__(self, *, password: str = "ClueCon", time_scale: float = 0.0, hostname: str = "fake-fs",
                 core_uuid: str = "d4e8d4de-4703-491b-981b-21e976067c41",
                 start: datetime = datetime(2026, 11, 22, 6, 10, 30, tzinfo=timezone.utc),
                 ipv4: str = "192.0.2.2", ipv6: str = "fd00::2", deny: bool = False,
                 on_wire: Callable[["FakeCall", str, Message], None] | None = None, keep_wire: bool = True):
        self.password = password
        self.time_scale = time_scale
        self.hostname = hostname
        self.core_uuid = core_uuid
        self.start = start
        self.ipv4, self.ipv6 = ipv4, ipv6
        self.deny = deny  # answer inbound connections with text/rude-rejection (an ACL refusal)
        self.on_wire = on_wire  # sees every packet of every call: (call, ">>" or "<<", message)
        self.keep_wire = keep_wire  # False: CallRecord.wire stays empty (long load runs)
        self.sequence = itertools.count(500)
        self._uuids = itertools.count(1)
        self._uuid_base = uuidlib.UUID(core_uuid).int & ~0xFFFFFFFF
        self._sleep = RealClock().sleep
        self.sessions = itertools.count(1)
        self.calls: list[FakeCall] = []
        self.world = World()
        self.caller: list = []
        self._server: asyncio.base_events.Server | None = None
        self._inbound: set[_InboundSession] = set()
        self._tasks: set[asyncio.Task] = set()

    # -- calls ---------------------------------------------------------------------------------------

    def call(self, address: tuple[str, int], *, caller: list | None = None, world: World | None = None,
             **options: Any) -> "FakeCall":
        """Place a call whose dialplan runs `socket <address> async full` (options: see FakeCall)."""
        call = FakeCall(self, address, caller=caller_inputs(caller or []), world=world or World(), **options)
        self.calls.append(call)
        return call

    def call_scenario(self, address: tuple[str, int], scenario: Any, **options: Any) -> "FakeCall":
        """A call driven by a testing.Scenario (its caller entries, world and caller/called numbers)."""
        info = scenario.call
        options.setdefault("caller_id", info.from_)
        options.setdefault("caller_name", info.from_name or "")
        options.setdefault("destination", info.to)
        return self.call(address, caller=list(scenario.world.caller), world=scenario.world, **options)

    def spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def sleep(self, ms: float) -> None:
        """Let `ms` of simulated time pass in real time, scaled by time_scale (0: at once)."""
        if self.time_scale > 0 and ms > 0:
            await self._sleep(ms / 1000 * self.time_scale)

    def new_uuid(self) -> str:
        """A uuid-shaped id, deterministic per fake switch (channels, jobs, apps without Event-UUID)."""
        return str(uuidlib.UUID(int=self._uuid_base + next(self._uuids)))

    def event_time(self, call_ms: float) -> datetime:
        """The switch's wall time `call_ms` into a call (calls start at `start`)."""
        return self.start + timedelta(milliseconds=call_ms)

    # -- inbound ESL ---------------------------------------------------------------------------------

    async def start_inbound(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _InboundSession(self), host, port)
        name = self._server.sockets[0].getsockname()
        return name[0], name[1]

    def background_job(self, job: str, command: str, argument: str, body: str) -> None:
        for session in list(self._inbound):
            session.background_job(job, command, argument, body)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self._inbound):
            session.close()
        for call in self.calls:
            call.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *(c.task for c in self.calls if c.task), return_exceptions=True)

    async def originate(self, argument: str) -> str:
        """`originate {vars}<dial string> &socket(host:port async full)`: `+OK <uuid>` or `-ERR <cause>`."""
        match = re.fullmatch(r"\s*(\{[^}]*\})?(\S+)\s+&socket\((\S+):(\d+)\s*([^)]*)\)\s*", argument)
        if match is None:
            return "-ERR INVALID_URL\n" if "&" in argument else "-ERR unsupported originate (use &socket)\n"
        variables = _dial_variables(match.group(1) or "")
        destination = match.group(2)
        target = _target(destination)
        outcome: DialOutcome = lookup(self.world.dial, target, DialOutcome("no-answer"))
        timeout = float(variables.get("originate_timeout", 60))
        ring = outcome.after if outcome.after is not None else 2.0
        if outcome.status == "answer" and ring < timeout:
            await self.sleep(ring * 1000)
            caller = self.caller or list(outcome.inputs)
            call = self.call((match.group(3), int(match.group(4))), caller=caller, world=self.world,
                             start_ms=round(ring * 1000),
                             destination=target, caller_id=variables.get("origination_caller_id_number", "0000000000"),
                             caller_name=variables.get("origination_caller_id_name", ""), variables=variables,
                             mode=match.group(5).strip() or "async full", direction="outbound", answered=True,
                             channel_name=destination)
            return f"+OK {call.uuid}\n"
        if outcome.status in ("answer", "no-answer"):
            await self.sleep(timeout * 1000)
            return "-ERR NO_ANSWER\n"
        await self.sleep((outcome.after if outcome.after is not None else 1.0) * 1000)
        return f"-ERR {OUTCOME_CAUSES.get(outcome.status, 'NORMAL_TEMPORARY_FAILURE')}\n"


class _InboundSession(asyncio.Protocol):
    """One inbound ESL connection to the fake switch (the daemon's originate client)."""

    def __init__(self, fake: FakeFreeSwitch):
        self.fake = fake
        self.codec = EslCodec(SERVER, INBOUND)
        self.transport: asyncio.Transport | None = None
        self.events: set[str] = set()
        self.format = "plain"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.fake.deny:
            from ..channels.freeswitch.esl import RudeRejection

            self.send(RudeRejection())
            transport.close()
            return
        self.fake._inbound.add(self)
        self.send(AuthRequest())

    def connection_lost(self, exc: Exception | None) -> None:
        self.fake._inbound.discard(self)

    def send(self, message: Message) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.codec.send(message))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            self.codec.receive_data(data)
            while (message := self.codec.next_event()) is not NEED_DATA:
                if type(message) is Command:
                    self.command(message)
                elif type(message) is Closed:
                    self.close()
        except RemoteProtocolError:
            self.send_reply("-ERR command parse error.")
            self.close()

    def send_reply(self, text: str, extra: tuple = ()) -> None:
        if self.codec.pending:
            self.send(CommandReply(text, extra))

    def command(self, command: Command) -> None:
        name, argument = command.name, command.argument
        if command.kind == "auth":
            if name == "auth" and argument == self.fake.password:
                self.send_reply("+OK accepted")
            else:
                self.send_reply("-ERR invalid")
                self.send(DisconnectNotice.goodbye())
                self.close()
        elif name == "api":
            self.fake.spawn(self._api(argument))
        elif name == "bgapi":
            job = command.get("Job-UUID") or self.fake.new_uuid()
            self.send_reply(f"+OK Job-UUID: {job}", (("Job-UUID", job),))
            self.fake.spawn(self._bgapi(job, argument))
        elif name == "event":
            words = argument.split()
            self.format = words[0] if words and words[0] in ("plain", "json") else "plain"
            self.events |= {w for w in words[1:]}
            self.send_reply(f"+OK event listener enabled {self.format}")
        elif name == "exit":
            self.send_reply("+OK bye")
            self.send(DisconnectNotice.goodbye())
            self.close()
        else:
            self.send_reply("-ERR command not found")

    async def _api(self, argument: str) -> None:
        word, _, rest = argument.partition(" ")
        if word == "status":
            live = sum(1 for c in self.fake.calls if not c.record.hangup_cause)
            body = STATUS.format(sessions=len(self.fake.calls), live=live, peak=max(1, len(self.fake.calls)))
        elif word == "originate":
            body = await self.fake.originate(rest)
        else:
            body = f"-ERR {word} Command not found!\n"
        self.send(ApiResponse(body))

    async def _bgapi(self, job: str, argument: str) -> None:
        word, _, rest = argument.partition(" ")
        body = await self.fake.originate(rest) if word == "originate" else f"-ERR {word} Command not found!\n"
        self.fake.background_job(job, word, rest, body)

    def background_job(self, job: str, command: str, argument: str, body: str) -> None:
        if not ({"BACKGROUND_JOB", "ALL", "all"} & self.events):
            return
        headers = _common(self.fake, "BACKGROUND_JOB", datetime.now(timezone.utc))
        headers += [("Job-UUID", job), ("Job-Command", command), ("Job-Command-Arg", argument)]
        self.send(EslEvent(Headers(headers), body, self.format))


@dataclass
class _Variables:
    """Channel variables in FreeSWITCH order: setting one moves it to the end (delete, then add)."""

    items: dict[str, str] = field(default_factory=dict)

    def set(self, name: str, value: str | None) -> None:
        self.items.pop(name, None)
        if value is not None and value != "":
            self.items[name] = value

    def get(self, name: str) -> str | None:
        return self.items.get(name)

    def headers(self) -> list[tuple[str, str]]:
        return [(f"variable_{k}", v) for k, v in self.items.items()]


class FakeCall:
    """One call whose dialplan ran `socket` to the flowengine server at `address`.

    Options: destination, caller_id, caller_name, uuid, channel_name, mode ("async full"), variables
    (origination variables, after the endpoint's own), dialplan_variables (set before `socket`), direction,
    answered (an originated call is answered before its socket app runs), park_event, dtmf_source, source
    (the endpoint module), missing (media paths that do not exist). To mimic a given endpoint exactly:
    profile (caller-profile fields up to Profile-Index), codec (name, rate, bit rate), endpoint_variables
    (the endpoint's variables, replacing the fake's own), answer_variables (what the endpoint sets when the
    call is answered: nothing on loopback, the media negotiation on SIP), acknowledged_variables (what it
    sets once the answer is acknowledged: SIP's dialog after the ACK), hangup_variables (its report when the
    call ends: RTP statistics on SIP, is_loopback on loopback) and socket_data (the socket app's
    argument). start_ms: the call's simulated age when its socket connects (an originated call rang that
    long). Fault injection: refuse_sendmsg (the `-ERR …` reply FreeSWITCH gives when it cannot queue
    a message, e.g. `-ERR memory error`)."""

    def __init__(self, fake: FakeFreeSwitch, address: tuple[str, int], *, caller: list[CallerInput], world: World,
                 destination: str = "4000", caller_id: str = "5551234", caller_name: str = "TestCaller",
                 uuid: str | None = None, channel_name: str | None = None, mode: str = "async full",
                 variables: dict[str, str] | None = None, dialplan_variables: dict[str, str] | None = None,
                 direction: str = "inbound", answered: bool = False, park_event: bool = True,
                 dtmf_source: str | None = None, source: str | None = None, missing: tuple[str, ...] = (),
                 context: str = "default", callee_name: str = "Outbound Call", callee_number: str = "default",
                 profile: dict[str, str] | None = None, codec: tuple[str, str, str] = ("L16", "8000", "128000"),
                 endpoint_variables: dict[str, str] | None = None, answer_variables: dict[str, str] | None = None,
                 acknowledged_variables: dict[str, str] | None = None, hangup_variables: dict[str, str] | None = None,
                 socket_data: str | None = None, refuse_sendmsg: str | None = None, start_ms: int = 0,
                 dialler: "FakeCall | None" = None):
        self.fake = fake
        self.address = address
        self.world = world
        self.inputs: deque[CallerInput] = deque(caller)
        self.uuid = uuid or fake.new_uuid()
        self.channel_name = channel_name or f"sofia/internal/{caller_id}@{fake.ipv4}"
        self.socket_arg = socket_data or f"{address[0]}:{address[1]} {mode}".strip()
        self.codec_info = codec
        self.refuse_sendmsg = refuse_sendmsg
        self.answer_variables = answer_variables or {}
        self.acknowledged_variables = acknowledged_variables or {}

        self.socket_mode = "async" if "async" in mode.split() else "static"
        self.control = "full" if "full" in mode.split() else "single-channel"
        self.park_event = park_event
        self.source = source or ("mod_loopback" if self.channel_name.startswith("loopback/") else "mod_sofia")
        self.dtmf_source = dtmf_source or ("UNKNOWN" if self.source == "mod_loopback" else "RTP")
        self.hangup_variables = hangup_variables if hangup_variables is not None else (
            {"is_loopback": "1"} if self.source == "mod_loopback" else {})
        self.missing = set(missing)
        self.record = CallRecord(self.uuid)
        self.finished: asyncio.Future[CallRecord] = asyncio.get_running_loop().create_future()
        # -- the channel
        self.now = start_ms  # simulated ms since the channel was created (an originated call rang first)
        self.created_us = _us(fake.start)
        self.answered_at: int | None = start_ms if answered else None
        self.hung_at: int | None = None
        self.hangup_cause: str | None = None
        self.state = ("CS_EXECUTE", "RINGING", "4")
        self.profile = profile or {
            "Direction": direction, "Logical-Direction": direction, "Dialplan": "xml",
            "Caller-ID-Name": caller_name, "Caller-ID-Number": caller_id, "Orig-Caller-ID-Name": caller_name,
            "Orig-Caller-ID-Number": caller_id, "Callee-ID-Name": callee_name, "Callee-ID-Number": callee_number,
            "ANI": caller_id, "Destination-Number": destination, "Unique-ID": self.uuid, "Source": self.source,
            "Context": context, "Channel-Name": self.channel_name, "Profile-Index": "1",
        }
        self.vars = _Variables()
        endpoint = endpoint_variables or {
            "direction": direction, "uuid": self.uuid, "session_id": str(next(fake.sessions)),
            "channel_name": self.channel_name, "read_codec": codec[0], "read_rate": codec[1], "write_codec": codec[0],
            "write_rate": codec[1]}
        for name, value in {**endpoint, **(variables or {})}.items():
            self.vars.set(name, value)
        self.vars.set("call_uuid", self.uuid)
        for name, value in (dialplan_variables or {}).items():
            self.vars.set(name, value)
        self.vars.set("current_application_data", self.socket_arg)
        self.vars.set("current_application", "socket")
        self.vars.set("socket_host", address[0])
        self.digits_dialed = ""
        self.socket_uuid = fake.new_uuid()  # the dialplan's `socket` app, as FreeSWITCH names it
        self.last_app: tuple[str, str] = ("socket", self.vars.get("current_application_data") or "")
        # -- the caller's keys: scheduled presses, and pressed keys not yet dequeued
        self.presses: list[tuple[int, str, int]] = []  # (ms, key, entry number)
        self.queue: deque[tuple[int, str]] = deque()
        self.listen_keys: tuple[str, int] | None = None  # keys pressed when listening starts, entry number
        self.entries = itertools.count(1)
        self.hangup_at = None if world.hangup_at is None or dialler is not None else round(world.hangup_at * 1000)
        # a dialled leg whose socket app runs as its bridge's group confirmation: its dialler's hang-up cancels
        # it, and the socket closing ends that app without hanging it up
        self.dialler = dialler
        self.sched_hangup_at: int | None = None  # sched_hangup: when the leg is hung up (ms)
        # -- the socket
        self.codec = EslCodec(SERVER, OUTBOUND)
        self.writer: asyncio.StreamWriter | None = None
        self.events_on = False
        self.event_format = "plain"
        self.linger = False
        self.apps: asyncio.Queue = asyncio.Queue()
        self.running: asyncio.Task | None = None
        self.parked = False
        self.torn_down = False
        self.record_entry: CallerInput | None = None  # the caller's entry for the next record app
        self.interrupt: _Hangup | None = None  # why the running app is being cancelled (None: uuid_break)
        self.connected = asyncio.Event()
        self.task: asyncio.Task | None = asyncio.get_running_loop().create_task(self._run())

    # -- outside actions ---------------------------------------------------------------------------

    def press(self, keys: str) -> None:
        """The caller presses keys now (while no app reads them they wait in the channel's queue)."""
        for key in keys:
            self.queue.append((self.now, key))

    def press_at(self, seconds: float, keys: str) -> None:
        """The caller presses keys `seconds` into the call, whatever the flow is doing then."""
        self.presses = sorted(self.presses + [(round(seconds * 1000), key, 0) for key in keys], key=_at)

    def send_garbage(self, data: bytes) -> None:
        """Fault injection: bytes that are not ESL, written as if the switch had gone mad."""
        if self.writer is not None:
            self.writer.write(data)

    def stop(self) -> None:
        """Drop the connection (the switch's process died, a network cut)."""
        if self.writer is not None:
            self.writer.close()

    # -- the connection ------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            reader, self.writer = await asyncio.open_connection(*self.address)
        except OSError as exc:
            self.record.error = f"cannot connect: {exc}"
            self._done()
            return
        runner = asyncio.get_running_loop().create_task(self._session())
        try:
            while True:
                data = await reader.read(65536)
                try:
                    self.codec.receive_data(data)
                    while (message := self.codec.next_event()) is not NEED_DATA:
                        if type(message) is Closed:
                            self.record.closed_by = self.record.closed_by or "client"
                            return
                        self._wire(">>", message)
                        self._command(message)
                except RemoteProtocolError as exc:
                    self.record.error = f"protocol error: {exc}"
                    self._reply("-ERR command parse error.")
                    return
                if not data:
                    return
        except (ConnectionError, OSError):
            self.record.closed_by = self.record.closed_by or "client"
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            if self.hung_at is None and self.dialler is None:  # the socket closed under a live call: the
                self._hangup_now(self.now, "NORMAL_CLEARING", "switch", notify=False)  # dialplan ends, FS hangs up
            if self.writer is not None:
                self.writer.close()
            self._done()

    def _done(self) -> None:
        self.record.variables = dict(self.vars.items)
        self.record.hangup_cause = self.hangup_cause
        if not self.finished.done():
            self.finished.set_result(self.record)

    def _send(self, message: Message) -> None:
        if self.writer is None or self.writer.is_closing() or self.codec.state in (CLOSED, ERROR):
            return
        self._wire("<<", message)
        self.writer.write(self.codec.send(message))

    def _wire(self, direction: str, message: Message) -> None:
        if self.fake.keep_wire:
            self.record.wire.append((direction, message))
        if self.fake.on_wire is not None:
            self.fake.on_wire(self, direction, message)

    def _reply(self, text: str, extra: tuple = ()) -> None:
        if self.codec.pending:
            self._send(CommandReply(text, extra))

    def _close(self, by: str = "switch") -> None:
        self.record.closed_by = self.record.closed_by or by
        if self.writer is not None:
            self.writer.close()

    # -- commands (the socket listener: replies at once) ----------------------------------------------

    def _command(self, command: Command) -> None:
        name, argument = command.name, command.argument
        if name == "connect":
            self._send(ChannelData(Headers(self._channel_data())))
            self.connected.set()
            return
        handler = _COMMANDS.get(name)
        if handler is None or (self.control != "full" and name in _FULL_ONLY):
            self._reply("-ERR command not found")
            return
        handler(self, argument, command)

    def cmd_myevents(self, argument: str, command: Command) -> None:
        if self.events_on:
            self._reply("-ERR aready enabled.")
            return
        words = argument.split()
        if words and words[0] not in ("plain", "json", self.uuid):
            self._reply("-ERR invalid uuid")
            return
        self.events_on = True
        self.event_format = "json" if "json" in words else "plain"
        self._reply("+OK Events Enabled")

    def cmd_event(self, argument: str, command: Command) -> None:
        words = argument.split()
        if not words:
            self._reply("-ERR no keywords supplied")
            return
        self.events_on = True
        self.event_format = words[0] if words[0] in ("plain", "json") else "plain"
        self._reply(f"+OK event listener enabled {self.event_format}")

    def cmd_linger(self, argument: str, command: Command) -> None:
        self.linger = True
        self._reply(f"+OK will linger {argument.strip()} seconds" if argument.strip() else "+OK will linger")

    def cmd_nolinger(self, argument: str, command: Command) -> None:
        self.linger = False
        self._reply("+OK will not linger")

    def cmd_filter(self, argument: str, command: Command) -> None:
        header, _, value = argument.partition(" ")
        self._reply(f"+OK filter added. [{header}]=[{value}]" if header else "-ERR invalid syntax")

    def cmd_divert_events(self, argument: str, command: Command) -> None:
        self._reply("+OK events diverted" if argument.strip() == "on" else "+OK events not diverted")

    def cmd_getvar(self, argument: str, command: Command) -> None:
        value = self.vars.get(argument.strip())
        self._reply(value if value else "-ERR command not found")

    def cmd_resume(self, argument: str, command: Command) -> None:
        self._reply("+OK")

    def cmd_exit(self, argument: str, command: Command) -> None:
        self._reply("+OK bye")
        self._send(DisconnectNotice.goodbye(self.uuid))
        self._close("client")

    def cmd_sendmsg(self, argument: str, command: Command) -> None:
        if argument.strip() and argument.strip() != self.uuid:
            self._reply(f"-ERR invalid session id [{argument.strip()}]")
            return
        if self.refuse_sendmsg:
            self._reply(self.refuse_sendmsg)
            return
        if (self.running is None or self.running.done()) and self.hung_at is None:
            self._wake()  # the park loop dequeues (and drops) keys that waited while nothing ran
        self._reply("+OK")
        if self.park_event and not self.parked and self.hung_at is None:
            self._event("CHANNEL_PARK", variables=True)
        self.parked = True
        call_command = (command.get("call-command") or "").lower()
        if call_command == "hangup":
            if self.hung_at is None:
                self._interrupt(_Hangup(self.now, command.get("hangup-cause") or "NORMAL_CLEARING", "flow"))
            return
        app = command.get("execute-app-name") or ""
        arg = command.get("execute-app-arg")
        if arg is None and command.body:
            arg = command.body
        self.apps.put_nowait((app, arg, command.get("Event-UUID")))

    def cmd_api(self, argument: str, command: Command) -> None:
        word, _, rest = argument.partition(" ")
        parts = rest.split(" ", 2)
        target = next((c for c in self.fake.calls if c.uuid == parts[0] and c.hung_at is None), None)
        if word == "uuid_kill" and target is not None and target is not self:  # any live channel can be killed
            self._send(ApiResponse("+OK\n"))
            target._interrupt(_Hangup(target.now, parts[1] if len(parts) > 1 else "NORMAL_CLEARING", "flow"))
            return
        if word in ("uuid_setvar", "uuid_getvar", "uuid_break", "uuid_kill", "uuid_setvar_multi") and \
                (not parts or parts[0] != self.uuid):
            self._send(ApiResponse("-ERR No such channel!\n"))
            return
        if word == "uuid_setvar" and len(parts) >= 2:
            value = parts[2] if len(parts) > 2 else None
            self.vars.set(parts[1], value)
            self._send(ApiResponse("+OK\n"))
            if parts[1] == "flowengine_input" and value:
                self._begin_input(value)
        elif word == "uuid_setvar_multi" and len(parts) >= 2:
            pairs = [pair.partition("=") for pair in " ".join(parts[1:]).split(";")]
            for key, _, value in pairs:
                self.vars.set(key, value)
            self._send(ApiResponse("+OK\n"))
            for key, _, value in pairs:
                if key == "flowengine_input" and value:
                    self._begin_input(value)
        elif word == "uuid_getvar" and len(parts) >= 2:
            self._send(ApiResponse((self.vars.get(parts[1]) or "_undef_") + "\n"))
        elif word == "uuid_break":
            self._interrupt(None)
            if len(parts) > 1 and parts[1] == "all":
                while not self.apps.empty():
                    self.apps.get_nowait()
            self._send(ApiResponse("+OK\n"))
        elif word == "uuid_kill":
            cause = parts[1] if len(parts) > 1 else "NORMAL_CLEARING"
            self._send(ApiResponse("+OK\n"))
            if self.hung_at is None:
                self._interrupt(_Hangup(self.now, cause, "flow"))
        elif word == "status":
            self._send(ApiResponse(STATUS.format(sessions=len(self.fake.calls), live=1, peak=1)))
        else:
            self._send(ApiResponse(f"-ERR {word} Command not found!\n"))

    # -- the session thread: apps one at a time --------------------------------------------------------

    async def _session(self) -> None:
        deadline = CONNECT_DEADLINE * self.fake.time_scale if self.fake.time_scale > 0 else None
        try:
            await asyncio.wait_for(self.connected.wait(), deadline)
        except asyncio.TimeoutError:
            self.record.error = f"no connect within {CONNECT_DEADLINE:g} s"
            self._close()
            return
        while True:
            app, arg, event_uuid = await self.apps.get()
            if self.hung_at is not None:
                continue  # queued on a dead channel: never runs
            self.interrupt = None
            self.running = asyncio.get_running_loop().create_task(self._execute(app, arg, event_uuid))
            await asyncio.wait({self.running})
            if self.running.cancelled() and self.interrupt is not None:  # stopped before it started
                self._hangup_now(self.interrupt.at_ms, self.interrupt.cause, self.interrupt.by)
            elif not self.running.cancelled() and isinstance(self.running.exception(), _Hangup):
                hangup = self.running.exception()
                self._hangup_now(hangup.at_ms, hangup.cause, hangup.by)

    def _interrupt(self, hangup: _Hangup | None) -> None:
        """An outside action (uuid_break, uuid_kill, sendmsg hangup, the caller leaving at the start of
        an input request) stops the running app; with nothing running a hang-up happens at once."""
        if self.running is not None and not self.running.done():
            self.interrupt = hangup
            self.running.cancel()
        elif hangup is not None:
            self._hangup_now(hangup.at_ms, hangup.cause, hangup.by)

    async def _execute(self, app: str, arg: str | None, event_uuid: str | None) -> None:
        handler = _APPS.get(app)
        if handler is None:  # switch_core_session_execute_application_get_flags: "Invalid Application"
            raise _Hangup(self.now, "DESTINATION_OUT_OF_ORDER", "switch")
        event_uuid = event_uuid or self.fake.new_uuid()
        self.record.apps.append((app, arg or ""))
        self.vars.set("current_application_response", None)
        self.vars.set("current_loop", "1")
        self.vars.set("total_loops", "1")
        self.vars.set("current_application", app)
        self.vars.set("current_application_data", arg)
        tail = [("Application", app)] + ([("Application-Data", arg)] if arg else [])
        self._event("CHANNEL_EXECUTE", variables=True, tail=tail + [("Application-UUID", event_uuid)])
        self.vars.set("current_application_data", arg)  # switch_core_session_exec sets both again
        self.vars.set("current_application", app)
        response = None
        try:
            response = await handler(self, arg or "")
        except asyncio.CancelledError:
            if self.interrupt is not None:
                self._hangup_event(self.interrupt.at_ms, self.interrupt.cause, self.interrupt.by)
        except _Hangup as hangup:
            self._hangup_event(hangup.at_ms, hangup.cause, hangup.by)
        self.last_app = (app, arg or "")
        if response:
            self.vars.set("current_application_response", response)
        tail += [("Application-Response", response or "_none_"), ("Application-UUID", event_uuid)]
        self._event("CHANNEL_EXECUTE_COMPLETE", variables=True, tail=tail)
        self.vars.set("current_loop", None)
        self.vars.set("total_loops", None)
        if app == "answer" and self.hung_at is None:
            for name, value in self.acknowledged_variables.items():
                self.vars.set(name, value)
            self.acknowledged_variables = {}
        if self.hung_at is not None:
            self._teardown()

    # -- time, keys and hang-ups ------------------------------------------------------------------------

    async def _pass(self, until: int) -> None:
        """Let time run to `until` (ms); the caller hanging up on the way ends the app. For a leg held by its
        bridge's confirmation, leg A hanging up is reported on leg A's socket first, then the originate
        cancels this leg (ORIGINATOR_CANCEL)."""
        dialler = self.dialler
        if dialler is not None and dialler.hung_at is None and dialler.hangup_at is not None \
                and dialler.hangup_at < until and self.hung_at is None:
            at = max(dialler.hangup_at, self.now)
            await self.fake.sleep(at - self.now)
            self.now = at
            dialler._hangup_event(at, "NORMAL_CLEARING", "caller")
            raise _Hangup(at, "ORIGINATOR_CANCEL", "switch")
        if self.hangup_at is not None and self.hangup_at < until and self.hung_at is None:
            at = max(self.hangup_at, self.now)
            await self.fake.sleep(at - self.now)
            self.now = at
            raise _Hangup(at)
        await self.fake.sleep(until - self.now)
        self.now = max(self.now, until)

    def _next_key(self, until: int) -> tuple[int, str] | None:
        """The next key pressed before `until` (dequeued when it is read), None if none."""
        if self.queue:
            pressed, key = self.queue.popleft()
            return max(pressed, self.now), key
        if self.presses and self.presses[0][0] < until:
            at, key, _ = self.presses.pop(0)
            return max(at, self.now), key
        return None

    async def _read_key(self, until: int) -> str | None:
        """Wait for a key until `until`; the key's DTMF event is fired when it is read."""
        found = self._next_key(until)
        if found is None:
            await self._pass(until)
            return None
        at, key = found
        await self._pass(at)
        self._dtmf(key)
        return key

    def _dtmf(self, key: str) -> None:
        """A key is dequeued: its DTMF event (the event says nothing about who read it)."""
        self.digits_dialed += key
        self._event("DTMF", tail=[("DTMF-Digit", key), ("DTMF-Duration", "2000"), ("DTMF-Source", self.dtmf_source)])

    def _wake(self) -> None:
        """The park loop wakes (a command came): keys pressed while nothing read them are dequeued now,
        each with its DTMF event, and dropped (shared/wire/…dtmf-while-idle: events before the reply)."""
        while self.presses and self.presses[0][0] <= self.now:
            at, key, _ = self.presses.pop(0)
            self.queue.append((at, key))
        while self.queue:
            self._dtmf(self.queue.popleft()[1])

    def _begin_input(self, value: str) -> None:
        """`flowengine_input` = <kind>-<n>[/<prompts>]: the caller's next entry starts now."""
        self.presses = [p for p in self.presses if p[2] == 0]
        self.listen_keys = None
        self.record_entry = None
        entry = self.inputs.popleft() if self.inputs else None
        number = next(self.entries)
        if entry is None or entry.kind == "hangup":
            self._interrupt(_Hangup(self.now))
            return
        if entry.kind == "record":
            self.record_entry = entry  # its talk and keys start with the record app (after any beep)
        elif entry.keys and entry.at is None:
            self.listen_keys = (entry.keys, number)
        elif entry.keys:
            at = self.now + round(entry.at * 1000)
            self.presses = sorted(self.presses + [(at, k, number) for k in entry.keys], key=_at)

    def _hangup_now(self, at_ms: int, cause: str, by: str, notify: bool = True) -> None:
        if self.hung_at is not None:
            return
        self._hangup_event(at_ms, cause, by)
        if notify:
            self._teardown()

    def _hangup_event(self, at_ms: int, cause: str, by: str) -> None:
        if self.hung_at is not None:
            return
        self.now = max(self.now, at_ms)
        self.hung_at = self.now
        self.hangup_cause = cause
        self.record.hung_up_by = by
        self.state = ("CS_EXECUTE", self.state[1], "10")
        self._event("CHANNEL_HANGUP", variables=True)

    def _teardown(self) -> None:
        """After the hang-up: the park loop and the socket app end, the channel is reported and destroyed."""
        if self.torn_down:
            return
        self.torn_down = True
        self._event("CHANNEL_UNPARK", variables=True)
        self._event("CHANNEL_EXECUTE_COMPLETE", variables=True,
                    tail=[("Application", "socket"), ("Application-Data", self.socket_arg),
                          ("Application-Response", "_none_"), ("Application-UUID", self.socket_uuid)])
        self.state = ("CS_HANGUP", self.state[1], "10")
        self._event("CHANNEL_STATE")
        self.state = ("CS_REPORTING", "HANGUP", "11")
        self._cdr_variables()
        self._event("CHANNEL_STATE")
        self._event("CHANNEL_HANGUP_COMPLETE", variables=True, lead=[("Hangup-Cause", self.hangup_cause or "")])
        if self.linger:
            self._send(DisconnectNotice.linger(self.uuid, self.channel_name))
        else:
            self._send(DisconnectNotice.goodbye(self.uuid))
            self._close()

    def _cdr_variables(self) -> None:
        v = self.vars
        cause = self.hangup_cause or "NORMAL_CLEARING"
        start_us, end_us = self.created_us, self.created_us + (self.hung_at or self.now) * 1000
        answer_us = self.created_us + self.answered_at * 1000 if self.answered_at is not None else 0
        v.set("hangup_cause", cause)
        v.set("hangup_cause_q850", str(CAUSE_CODES.get(cause, 16)))
        v.set("digits_dialed", self.digits_dialed or "none")
        stamp = lambda us: _local(us) if us else None  # noqa: E731
        for name, us in (("start", start_us), ("profile_start", start_us), ("answer", answer_us), ("end", end_us)):
            v.set(f"{name}_stamp", stamp(us))
        for name, us in (("start", start_us), ("profile_start", start_us), ("answer", answer_us), ("bridge", 0),
                         ("last_hold", 0)):
            v.set(f"{name}_epoch", str(us // 1_000_000))
            v.set(f"{name}_uepoch", str(us))
        for name in ("hold_accum_seconds", "hold_accum_usec", "hold_accum_ms"):
            v.set(name, "0")
        for name in ("resurrect", "progress", "progress_media"):
            v.set(f"{name}_epoch", "0")
            v.set(f"{name}_uepoch", "0")
        v.set("end_epoch", str(end_us // 1_000_000))
        v.set("end_uepoch", str(end_us))
        v.set("last_app", self.last_app[0])
        v.set("last_arg", self.last_app[1])
        v.set("caller_id", f'"{self.profile["Caller-ID-Name"]}" <{self.profile["Caller-ID-Number"]}>')
        total_us = end_us - start_us
        bill_us = end_us - answer_us if answer_us else 0
        answer_wait = answer_us - start_us if answer_us else 0
        for unit, div in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
            prefix = {"sec": "", "msec": "m", "usec": "u"}[unit]
            v.set("duration" if unit == "sec" else f"{prefix}duration", str(total_us // div))
            v.set(f"bill{unit}", str(bill_us // div))
            v.set(f"progress{unit}", "0")
            v.set(f"answer{unit}", str(answer_wait // div))
            v.set(f"wait{unit}", "0")
            v.set(f"progress_media{unit}", "0")
            v.set(f"flow_bill{unit}", str(total_us // div))
        for name, value in self.hangup_variables.items():
            v.set(name, value)

    # -- event building ------------------------------------------------------------------------------

    def _channel_data(self) -> list[tuple[str, str]]:
        headers = _common(self.fake, "CHANNEL_DATA", self.fake.event_time(self.now))
        headers += self._profile("Channel")
        headers += self._channel_block()
        headers += self._profile("Caller")
        headers += self.vars.headers()
        headers += [("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"), ("Socket-Mode", self.socket_mode),
                    ("Control", self.control)]
        return headers

    def _profile(self, prefix: str) -> list[tuple[str, str]]:
        """The caller profile with `prefix` (Caller, or Channel in CHANNEL_DATA): its own fields, then its
        times (µs; 0 when not yet), then the screening flags (switch_caller_profile_event_set_data)."""
        answered = self.created_us + self.answered_at * 1000 if self.answered_at is not None else 0
        hung = self.created_us + self.hung_at * 1000 if self.hung_at is not None and self.state[0] == "CS_REPORTING" \
            else 0
        times = (("Profile-Created-Time", self.created_us), ("Channel-Created-Time", self.created_us),
                 ("Channel-Answered-Time", answered), ("Channel-Progress-Time", 0), ("Channel-Progress-Media-Time", 0),
                 ("Channel-Hangup-Time", hung), ("Channel-Transfer-Time", 0), ("Channel-Resurrect-Time", 0),
                 ("Channel-Bridged-Time", 0), ("Channel-Last-Hold", 0), ("Channel-Hold-Accum", 0))
        out = [(f"{prefix}-{name}", value) for name, value in self.profile.items()]
        out += [(f"{prefix}-{name}", str(value)) for name, value in times]
        out += [(f"{prefix}-Screen-Bit", "true"), (f"{prefix}-Privacy-Hide-Name", "false"),
                (f"{prefix}-Privacy-Hide-Number", "false")]
        return out

    def _channel_block(self) -> list[tuple[str, str]]:
        state, call_state, number = self.state
        answer = "hangup" if self.hung_at is not None else ("answered" if self.answered_at is not None else "ringing")
        out = [("Channel-State", state), ("Channel-Call-State", call_state), ("Channel-State-Number", number),
               ("Channel-Name", self.channel_name), ("Unique-ID", self.uuid),
               ("Call-Direction", self.profile["Direction"]), ("Presence-Call-Direction", self.profile["Direction"]),
               ("Channel-HIT-Dialplan", "true"), ("Channel-Call-UUID", self.uuid), ("Answer-State", answer)]
        if self.hung_at is not None:
            out.append(("Hangup-Cause", self.hangup_cause or "NORMAL_CLEARING"))
        name, rate, bits = self.codec_info
        out += [("Channel-Read-Codec-Name", name), ("Channel-Read-Codec-Rate", rate), ("Channel-Read-Codec-Bit-Rate", bits),
                ("Channel-Write-Codec-Name", name), ("Channel-Write-Codec-Rate", rate),
                ("Channel-Write-Codec-Bit-Rate", bits)]
        return out

    def _event(self, name: str, *, variables: bool = False, tail: list[tuple[str, str]] = (),
               lead: list[tuple[str, str]] = ()) -> None:
        if not self.events_on:
            return
        headers = _common(self.fake, name, self.fake.event_time(self.now))
        headers += lead
        headers += self._channel_block()
        headers += self._profile("Caller")
        if variables:
            headers += self.vars.headers()
        headers += tail
        self._send(EslEvent(Headers(headers), "", self.event_format))

    # -- apps (each returns the Application-Response it sets, or None) ----------------------------------

    def _terminators(self) -> str:
        value = self.vars.get("playback_terminators")
        if value is None:
            return "*"
        return {"any": ANY_KEY, "none": ""}.get(value.lower(), value)

    def media_ms(self, path: str) -> int | None:
        """How long a playback argument lasts (None: the file does not exist)."""
        if path in self.missing:
            return None
        if path.startswith("silence_stream://"):
            return int(_number(path[len("silence_stream://"):].split(",")[0]) or 0)
        if path.startswith("tone_stream://"):
            total = 0
            for on, off in re.findall(r"%\((\d+),(\d+)", path):
                total += int(on) + int(off)
            return total or 1000
        if path.startswith("file_string://"):
            parts = [self.media_ms(p) for p in path[len("file_string://"):].split("!")]
            return None if None in parts else sum(p or 0 for p in parts)
        for prefix in ("http_cache://", "shout://"):
            if path.startswith(prefix):
                path = path[len(prefix):]
        return round(self.world.media.get(path, DEFAULT_MEDIA_SECONDS) * 1000)

    async def _play(self, duration: int, terminators: str) -> str:
        """Play for `duration` ms; keys are read and dropped, a terminator stops the playback."""
        end = self.now + duration
        start = self.now
        while True:
            key = await self._read_key(end)
            if key is None:
                break
            if key in terminators:
                self.vars.set("playback_terminator_used", key)
                break
        self._playback_variables(self.now - start)
        return "FILE PLAYED"

    def _playback_variables(self, played: int) -> None:
        for name, value in (("playback_last_offset_pos", played * 8), ("playback_seconds", played // 1000),
                            ("playback_ms", played), ("playback_samples", played * 8)):
            self.vars.set(name, str(value))

    async def app_playback(self, arg: str) -> str:
        duration = self.media_ms(arg)
        if duration is None:
            return "FILE NOT FOUND"
        return await self._play(duration, self._terminators())

    async def app_speak(self, arg: str) -> str | None:
        text = arg.split("|", 2)[-1]
        await self._play(round(len(text) * 1000 / TTS_CHARS_PER_SECOND), self._terminators())
        return None

    async def app_say(self, arg: str) -> str | None:
        digits = arg.split(" ", 3)[-1] if arg.count(" ") >= 3 else ""
        await self._play(SAY_DIGIT_MS * len(digits), self._terminators())
        return None

    async def app_sleep(self, arg: str) -> None:
        await self._pass(self.now + int(_number(arg) or 0))

    async def app_answer(self, arg: str) -> None:
        if self.answered_at is None:
            self.answered_at = self.now
            for name, value in self.answer_variables.items():
                self.vars.set(name, value)
            self._event("CHANNEL_ANSWER", variables=True)
            self.state = ("CS_EXECUTE", "ACTIVE", "4")
        self.vars.set("endpoint_disposition", "ANSWER")

    async def app_pre_answer(self, arg: str) -> None:
        self.state = ("CS_EXECUTE", "EARLY", "4")

    async def app_ring_ready(self, arg: str) -> None:
        self.state = ("CS_EXECUTE", "RING_WAIT", "4")

    async def app_respond(self, arg: str) -> None:
        code = int(_number(arg.split(" ", 1)[0]) or 0)
        if code >= 300:
            raise _Hangup(self.now, SIP_CAUSES.get(code, "CALL_REJECTED"), "flow")

    async def app_hangup(self, arg: str) -> None:
        raise _Hangup(self.now, arg.strip() or "NORMAL_CLEARING", "flow")

    async def app_set(self, arg: str) -> None:
        name, _, value = arg.partition("=")
        self.vars.set(name, value)

    async def app_unset(self, arg: str) -> None:
        self.vars.set(arg.strip(), None)

    async def app_log(self, arg: str) -> None:
        return None

    async def app_send_dtmf(self, arg: str) -> None:
        keys = arg.split("@", 1)[0]
        await self._pass(self.now + sum(500 if k == "w" else 1000 if k == "W" else DTMF_KEY_MS for k in keys))

    async def app_record_session(self, arg: str) -> None:
        return None

    async def app_stop_record_session(self, arg: str) -> None:
        return None

    async def app_play_and_get_digits(self, arg: str) -> None:
        args = arg.split()
        minimum, maximum, tries, timeout = (int(_number(a) or 0) for a in args[:4])
        terminators = "" if args[4] == "none" else args[4].lstrip("=+")
        prompt, invalid = args[5], args[6]
        variable = args[7] if len(args) > 7 else None
        regex = args[8] if len(args) > 8 else None
        digit_timeout = int(_number(args[9]) or timeout) if len(args) > 9 else timeout
        if self.listen_keys is not None:
            keys, number = self.listen_keys
            self.listen_keys = None
            self.presses = sorted(self.presses + [(self.now, k, number) for k in keys], key=_at)
        result, used, digits = "failure", "", ""
        try:
            for _ in range(max(1, tries)):
                digits, used = "", ""
                start = self.now
                key = await self._read_key(self.now + (self.media_ms(prompt) or 0))
                self._playback_variables(self.now - start)
                if key is None:
                    key = await self._read_key(self.now + timeout)
                while key is not None:
                    if key in terminators:
                        used = key
                        break
                    digits += key
                    if len(digits) >= maximum:
                        break
                    key = await self._read_key(self.now + digit_timeout)
                ok = len(digits) >= max(1, minimum) and (regex is None or re.fullmatch(regex, digits))
                result = "success" if ok else "failure"
                if used:
                    self.vars.set("read_terminator_used", used)
                self.vars.set("read_result", result)
                if ok:
                    if variable:
                        self.vars.set(variable, digits)
                    break
                start = self.now
                await self._pass(self.now + (self.media_ms(invalid) or 0))
                self._playback_variables(self.now - start)
        except _Hangup as hangup:  # as captured: the read fails, the hang-up is reported, then the
            self.vars.set("read_result", "failure")  # invalid-input prompt plays nothing
            self._hangup_event(hangup.at_ms, hangup.cause, hangup.by)
            self._playback_variables(0)
        finally:
            self.presses = [p for p in self.presses if p[2] == 0]  # the entry's keys that came too late
        return None

    async def app_record(self, arg: str) -> str | None:
        args = arg.split()
        path = args[0]
        limit = int(_number(args[1]) or 0) * 1000 if len(args) > 1 else 0
        silence = int(_number(args[3]) or 0) * 1000 if len(args) > 3 else 0
        entry = self.record_entry
        self.record_entry = None
        talk = round(entry.talk * 1000) if entry is not None else 0
        start = self.now
        if entry is not None and entry.keys:
            at = start + round((entry.at if entry.at is not None else entry.talk) * 1000)
            self.presses = sorted(self.presses + [(at, k, -1) for k in entry.keys], key=_at)
        end = start + talk + silence if silence else start + (limit or 3_600_000)
        if limit:
            end = min(end, start + limit)
        terminators = self._terminators()
        try:
            while True:
                key = await self._read_key(end)
                if key is None or key in terminators:
                    if key is not None:
                        self.vars.set("playback_terminator_used", key)
                    break
        finally:
            ms = self.now - start
            self.vars.set("record_samples", str(ms * 8))
            self.vars.set("record_seconds", str(ms // 1000))
            self.vars.set("record_ms", str(ms))
            self.presses = [p for p in self.presses if p[2] == 0]
        return None

    async def app_bridge(self, arg: str) -> None:
        variables = {}
        match = re.match(r"\s*\{([^}]*)\}", arg)
        if match:
            variables = _dial_variables("{" + match.group(1) + "}")
            arg = arg[match.end():]
        destinations = [d for d in re.split(r"[,|]", arg) if d.strip()]
        timeout = round(float(variables.get("leg_timeout", variables.get("call_timeout", 60))) * 1000)
        candidates = [(lookup(self.world.dial, _target(d), DialOutcome("no-answer")), d, n)
                      for n, d in enumerate(destinations)]
        answering = sorted((round((o.after if o.after is not None else 2.0) * 1000), n, o, d)
                           for o, d, n in candidates if o.status == "answer")
        answering = [a for a in answering if a[0] < timeout]
        start = self.now
        try:
            if not answering:
                if any(o.status in ("no-answer", "answer") for o, _, _ in candidates):
                    await self._pass(start + timeout)
                    disposition = "NO_ANSWER"
                else:
                    rings = [round((o.after if o.after is not None else 1.0) * 1000) for o, _, _ in candidates]
                    await self._pass(start + min(max(rings), timeout))
                    statuses = {o.status for o, _, _ in candidates}
                    disposition = "USER_BUSY" if statuses == {"busy"} else "NORMAL_TEMPORARY_FAILURE"
                self.vars.set("originate_disposition", disposition)
                self.vars.set("DIALSTATUS", disposition)
                return None
            ring, _, outcome, destination = answering[0]
            await self._pass(start + ring)
        except _Hangup:
            self.vars.set("originate_disposition", "ORIGINATOR_CANCEL")
            raise
        talk = round(outcome.talk * 1000)
        limit = _sched_hangup(variables)
        other = self.fake.new_uuid()
        if variables.get("group_confirm_key") == "exec":
            callee = await self._confirm(variables, destination, outcome)
            if callee is not None:
                if callee.hung_at is not None:  # it hung up before it won: the originate has no winner
                    self.vars.set("originate_disposition", callee.hangup_cause or "NORMAL_CLEARING")
                    self.vars.set("DIALSTATUS", callee.hangup_cause or "NORMAL_CLEARING")
                    return None
                other = callee.uuid
                limit = None if callee.sched_hangup_at is None else max(0, callee.sched_hangup_at - self.now)
        self.vars.set("originate_disposition", "SUCCESS")
        self.vars.set("DIALSTATUS", "SUCCESS")
        self.vars.set("bridge_channel", destination)
        self.vars.set("bridge_uuid", other)
        self.vars.set("last_bridge_to", other)
        bridge_tail = [("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", other),
                       ("Other-Leg-Channel-Name", destination), ("Other-Leg-Unique-ID", other),
                       ("Other-Leg-Destination-Number", _target(destination))]
        self._event("CHANNEL_BRIDGE", variables=True, tail=bridge_tail)
        cause, ender = "NORMAL_CLEARING", outcome.hangup
        if limit is not None and limit < talk:
            talk, cause, ender = limit, "ALLOTTED_TIMEOUT", "timer"
        try:
            await self._pass(self.now + talk)
        except _Hangup:
            self.vars.set("bridge_hangup_cause", "NORMAL_CLEARING")
            self._event("CHANNEL_UNBRIDGE", variables=True, tail=bridge_tail)
            raise
        self.vars.set("bridge_hangup_cause", cause)
        self.vars.set("last_bridge_hangup_cause", cause)
        self._event("CHANNEL_UNBRIDGE", variables=True, tail=bridge_tail)
        if ender == "caller":
            raise _Hangup(self.now, "NORMAL_CLEARING", "caller")
        return None

    async def _confirm(self, variables: dict[str, str], destination: str, outcome: DialOutcome) -> "FakeCall | None":
        """group_confirm_key=exec: run group_confirm_file on the answered leg before it may win. Only the
        socket app is modelled: the leg's own outbound socket runs its states (its caller actions are the
        dial entry's `inputs`) until the client closes it; None for any other app (the leg wins at once)."""
        app, _, data = variables.get("group_confirm_file", "").partition(" ")
        address = re.match(r"([^\s:]+):(\d+)", data)
        if app != "socket" or address is None:
            return None
        callee = self.fake.call(
            (address.group(1), int(address.group(2))), caller=list(outcome.inputs), world=self.world,
            destination=_target(destination), caller_id=variables.get("origination_caller_id_number",
                                                                      self.profile["Caller-ID-Number"]),
            caller_name=variables.get("origination_caller_id_name", self.profile["Caller-ID-Name"]),
            variables=variables, mode=data.partition(" ")[2] or "async full", direction="outbound",
            answered=True, channel_name=destination, start_ms=self.now, socket_data=data, dialler=self)
        try:
            await asyncio.shield(callee.finished)
        except asyncio.CancelledError:  # uuid_break on leg A cancels the originate: the leg is hung up
            callee._interrupt(_Hangup(self.now, "ORIGINATOR_CANCEL", "switch"))
            raise
        self.now = max(self.now, callee.now)
        if self.hung_at is not None:  # leg A hung up while the leg ran its states: the originate was cancelled
            self.vars.set("originate_disposition", "ORIGINATOR_CANCEL")
            raise _Hangup(self.now, self.hangup_cause or "NORMAL_CLEARING", self.record.hung_up_by or "caller")
        return callee

    async def app_sched_hangup(self, arg: str) -> None:
        """Only `+<seconds>` (from now) is modelled; the bridge it cuts ends with ALLOTTED_TIMEOUT."""
        self.sched_hangup_at = self.now + round((_number(arg.split()[0].lstrip("+")) or 0) * 1000)

    async def app_conference(self, arg: str) -> None:
        room = arg.split("@", 1)[0].split("+", 1)[0]
        outcome = lookup(self.world.conference, room, ConferenceOutcome())
        await self._pass(self.now + round(outcome.talk * 1000))
        if outcome.end == "caller":
            raise _Hangup(self.now, "NORMAL_CLEARING", "caller")
        return None


_COMMANDS: dict[str, Callable[[FakeCall, str, Command], None]] = {
    "myevents": FakeCall.cmd_myevents, "event": FakeCall.cmd_event, "linger": FakeCall.cmd_linger,
    "nolinger": FakeCall.cmd_nolinger, "filter": FakeCall.cmd_filter, "divert_events": FakeCall.cmd_divert_events,
    "getvar": FakeCall.cmd_getvar, "resume": FakeCall.cmd_resume, "exit": FakeCall.cmd_exit,
    "sendmsg": FakeCall.cmd_sendmsg, "api": FakeCall.cmd_api,
}
"""Outbound-socket commands (mod_event_socket.c parse_command)."""

_FULL_ONLY = frozenset({"event", "linger", "nolinger", "api"})
"""Commands refused (`-ERR command not found`) on an outbound socket without `full`."""

_APPS = {
    "playback": FakeCall.app_playback, "speak": FakeCall.app_speak, "say": FakeCall.app_say,
    "sleep": FakeCall.app_sleep, "answer": FakeCall.app_answer, "pre_answer": FakeCall.app_pre_answer,
    "ring_ready": FakeCall.app_ring_ready, "respond": FakeCall.app_respond, "hangup": FakeCall.app_hangup,
    "set": FakeCall.app_set, "unset": FakeCall.app_unset, "log": FakeCall.app_log,
    "send_dtmf": FakeCall.app_send_dtmf, "record_session": FakeCall.app_record_session,
    "stop_record_session": FakeCall.app_stop_record_session,
    "play_and_get_digits": FakeCall.app_play_and_get_digits, "record": FakeCall.app_record,
    "bridge": FakeCall.app_bridge, "conference": FakeCall.app_conference, "sched_hangup": FakeCall.app_sched_hangup,
}
"""The dptools apps the fake runs; any other name is an "Invalid Application"."""


def _common(fake: FakeFreeSwitch, name: str, when: datetime) -> list[tuple[str, str]]:
    """The headers every event starts with (switch_event_prep_for_delivery_detailed)."""
    source = EVENT_SOURCES.get(name, ("switch_event.c", "switch_event_fire_detailed", "0"))
    us = _us(when)
    return [
        ("Event-Name", name), ("Core-UUID", fake.core_uuid), ("FreeSWITCH-Hostname", fake.hostname),
        ("FreeSWITCH-Switchname", fake.hostname), ("FreeSWITCH-IPv4", fake.ipv4), ("FreeSWITCH-IPv6", fake.ipv6),
        ("Event-Date-Local", _local(us)), ("Event-Date-GMT", when.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ("Event-Date-Timestamp", str(us)), ("Event-Calling-File", source[0]), ("Event-Calling-Function", source[1]),
        ("Event-Calling-Line-Number", source[2]), ("Event-Sequence", str(next(fake.sequence))),
    ]


class FakeSwitchClock:
    """The interpreter's clock for a call on the fake switch: the call's simulated time (the switch's
    clock, as its event timestamps say), with the wall clock starting at the scenario's `call.at`. Like the
    fake channel's VirtualClock, a transcript's times are the simulated ones. Deadlines cut a running app
    in real time (scaled by `time_scale`); with time_scale 0 they are checked between states only."""

    needs_guard = True

    def __init__(self, fake: FakeFreeSwitch, at: datetime):
        self.fake = fake
        self.at = at
        self._deadline: float | None = None

    def now(self) -> float:
        """Seconds of the switch's simulated time (0 until it has the call): the latest of its calls, as a
        held leg runs on its dialler's timeline while the dialler waits."""
        return max((call.now for call in self.fake.calls), default=0) / 1000

    def stamp(self) -> float:
        return round(self.now(), 3)

    def wall(self) -> datetime:
        return self.at + timedelta(seconds=self.now())

    def set_deadline(self, seconds: float | None) -> None:
        self._deadline = seconds

    async def sleep(self, seconds: float) -> None:
        await self.fake.sleep(seconds * 1000)

    async def guard(self, operation):
        scale = self.fake.time_scale
        if self._deadline is None or scale <= 0:
            return await operation
        from ..runtime.clock import DeadlineReached

        remaining = (self._deadline - self.now()) * scale
        if remaining <= 0:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise DeadlineReached()
        try:
            return await asyncio.wait_for(operation, remaining)
        except asyncio.TimeoutError:
            raise DeadlineReached() from None


def _at(press: tuple[int, str, int]) -> int:
    """Presses sort by time only: keys pressed together keep the caller's order."""
    return press[0]


def _us(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _local(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _target(destination: str) -> str:
    """The flow's dial target from a dial string leg (`sofia/gateway/gw/+15551112222` → `+15551112222`)."""
    destination = re.sub(r"^\[[^\]]*\]", "", destination.strip())
    tail = destination.rsplit("/", 1)[-1]
    return tail.split("@", 1)[0]


def _dial_variables(block: str) -> dict[str, str]:
    """`{a=1,b='x y'}` as a dict (values unquoted)."""
    out = {}
    for part in re.findall(r"([^=,{}]+)=('[^']*'|[^,}]*)", block):
        out[part[0].strip()] = part[1].strip("'")
    return out


def _sched_hangup(variables: dict[str, str]) -> int | None:
    """The talk limit (ms) an `execute_on_answer…='sched_hangup +N …'` puts on the dialled leg."""
    for name, value in variables.items():
        if name.startswith("execute_on_answer"):
            match = re.match(r"sched_hangup\s+\+?(\d+)", value)
            if match:
                return int(match.group(1)) * 1000
    return None


async def run_on_fake_freeswitch(flow, scenario=None, *, time_scale: float = 0.0, options=None,
                                 fake_options: dict | None = None, call_options: dict | None = None,
                                 setup: Callable[[FakeCall], None] | None = None, channels: list | None = None,
                                 timeout: float = 30.0):
    """Run `flow` through FreeSwitchChannel against this fake switch, with the world of `scenario` (a
    testing.Scenario, a dict or a file): the live-call counterpart of `testing.simulate_async`. An inbound
    call connects to an outbound-socket server; an API-started flow (`trigger: api`) places its first call
    with `bgapi originate … &socket(…)` through an InboundClient, as the daemon does. A dialled leg with
    states of its own comes back on a socket of its own, paired with its dial by `flowengine_token`.

    Returns (transcript, CallRecord). Recording URLs use the fake channel's form
    (https://rec.example/rec_001.wav). The interpreter runs on the call's simulated clock
    (FakeSwitchClock), so time-of-day routing sees the scenario's `call.at`. `setup` sees the fake call
    before it connects; `channels` (a list) receives the FreeSwitchChannel.
    """
    from .. import formats
    from ..channels.fake import FakeHttp, FakeSms
    from ..channels.freeswitch.channel import FreeSwitchChannel, FreeSwitchOptions, Originated, dial_string
    from ..channels.freeswitch.esl import sendmsg_hangup
    from ..channels.freeswitch.inbound import InboundClient
    from ..channels.freeswitch.outbound import OutboundServer
    from ..runtime.clock import VirtualClock
    from ..runtime.ids import SequentialIds
    from ..runtime.interpreter import Interpreter
    from .runner import load_flow
    from .scenario import Scenario, load_scenario
    from .transcript import Transcript

    flow = load_flow(flow)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    options = options or FreeSwitchOptions(recordings_dir="/var/lib/freeswitch/recordings/flowengine",
                                           recording_url="https://rec.example/{name}")
    fake = FakeFreeSwitch(**{"time_scale": time_scale, **(fake_options or {})})
    fake.world, fake.caller = scenario.world, list(scenario.world.caller)
    ids = SequentialIds()
    clock = FakeSwitchClock(fake, scenario.call.at)
    done: asyncio.Future = asyncio.get_running_loop().create_future()
    originating: dict[str, asyncio.Future] = {}
    legs: dict[str, asyncio.Future] = {}
    tasks: set[asyncio.Task] = set()
    inbound: InboundClient | None = None

    class Legs:
        """The daemon's side of held legs: where their socket app connects, and their one-time tokens."""

        def socket_address(self) -> str:
            return "{}:{}".format(*server.address)

        def expect(self) -> tuple[str, asyncio.Future]:
            token = ids.next("leg")
            legs[token] = asyncio.get_running_loop().create_future()
            return token, legs[token]

        def forget(self, token: str) -> None:
            legs.pop(token, None)

    class Originator:
        """The daemon's originate path in miniature: bgapi originate, then the call's socket comes back."""

        async def originate(self, request) -> Originated:
            token = ids.next("originate")
            arrived = originating[token] = asyncio.get_running_loop().create_future()
            host, port = server.address
            placed = await inbound.originate(
                dial_string(request.targets[0], options.dial_template), f"&socket({host}:{port} async full)",
                variables={"flowengine_token": token, "originate_timeout": str(max(1, round(request.timeout))),
                           **({"origination_caller_id_number": request.caller_id} if request.caller_id else {})},
                timeout=request.timeout + 10)
            if placed.status != "answered":
                return Originated(placed.status)
            connection, data = await asyncio.wait_for(arrived, 5.0)
            return Originated("answered", connection, data, answered_by=request.targets[0])

    async def run(connection, data) -> None:
        channel = FreeSwitchChannel(connection, data, clock=clock, options=options, ids=ids, originator=Originator(),
                                    legs=Legs())
        if channels is not None:
            channels.append(channel)
        try:
            interpreter = Interpreter(flow, channel, call=scenario.call, clock=clock,
                                      http=FakeHttp(scenario.world, VirtualClock(scenario.call.at)), sms=FakeSms(ids),
                                      loader=formats.load_document, limits=scenario.limits, ids=ids)
            result = await interpreter.run()
            channel.close_legs()
            if channel.connection is not None:
                if channel.switch_hung_up:
                    await channel.connection.wait_linger(2.0)  # the switch's last events, then our close
                channel.connection.close()
            done.set_result(result)
        except Exception as exc:  # surfaced to the caller below, never lost in a task
            if not done.done():
                done.set_exception(exc)

    async def serve(connection) -> None:
        data = await connection.open_session(5.0)
        if data is None:
            return
        token = data.get("variable_flowengine_token")
        if token in originating:
            originating.pop(token).set_result((connection, data))
        elif token in legs:
            legs.pop(token).set_result((connection, data))
        elif token:  # a leg whose dial no longer waits for it
            connection.post(sendmsg_hangup("NORMAL_CLEARING"), "hangup")
            connection.close()
        else:
            await run(connection, data)

    def spawn(coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = OutboundServer(lambda connection: spawn(serve(connection)), "127.0.0.1", 0)
    await server.start()
    try:
        if scenario.call.trigger == "api":
            host, port = await fake.start_inbound()
            inbound = InboundClient(host, port, fake.password, clock=clock, ids=ids)
            await inbound.start()
            await inbound.wait_connected(5.0)
            spawn(run(None, None))
        else:
            call = fake.call_scenario(server.address, scenario, **(call_options or {}))
            if setup is not None:
                setup(call)
        result = await asyncio.wait_for(done, timeout)
        record = await asyncio.wait_for(fake.calls[0].finished, 5.0) if fake.calls else CallRecord("")
    finally:
        if inbound is not None:
            await inbound.close()
        await server.stop()
        await fake.close()
    return Transcript(result.events, result.steps, result.reason, result.variables), record
