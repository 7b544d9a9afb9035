"""The fake FreeSWITCH against the captures: replaying a capture's client side, the fake must answer what
FreeSWITCH 1.10 answered, packet for packet; plus the behaviours the captures do not show."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from flowengine.channels.fake import DialOutcome, World
from flowengine.channels.freeswitch.esl import (
    CLIENT,
    INBOUND,
    NEED_DATA,
    OUTBOUND,
    ApiResponse,
    AuthRequest,
    ChannelData,
    Command,
    CommandReply,
    DisconnectNotice,
    EslCodec,
    EslEvent,
    RudeRejection,
    sendmsg,
)
from flowengine.testing.fake_freeswitch import FakeFreeSwitch

from .support import OUTBOUND_CAPTURES, capture, feed_whole, parse_command, run

CLOCK_WORDS = ("epoch", "stamp", "-time", "duration", "sec", "usec", "msec", "hold_accum", "playback_")
"""Values that depend on when things happened (they differ between any two real calls too)."""


def clock_derived(name: str) -> bool:
    lowered = name.lower()
    return name.startswith("Event-Date-") or name == "Event-Sequence" or any(w in lowered for w in CLOCK_WORDS) \
        or lowered.startswith("variable_record_")


def script(name: str):
    """What a capture's client sent (and after how many packets), what the switch answered, and the call
    the fake must mimic: its identity from CHANNEL_DATA, the caller's keys and hang-up from the events."""
    reader = EslCodec(CLIENT, OUTBOUND)
    expected, commands = [], []
    for direction, data in capture(name):
        if direction == ">>":
            command = parse_command(data)
            commands.append((len(expected), command))
            reader.send(command)
        else:
            expected += feed_whole(reader, data)
    data: ChannelData = expected[0]
    t0 = int(data["Event-Date-Timestamp"])
    variables = [(k[len("variable_"):], v) for k, v in data.headers if k.startswith("variable_")]
    split = [k for k, _ in variables].index("call_uuid")
    socket_at = [k for k, _ in variables].index("current_application_data")
    profile = {}
    for key, value in data.headers:
        if key.startswith("Caller-"):
            profile[key[len("Caller-"):]] = value
            if key == "Caller-Profile-Index":
                break
    fake = dict(core_uuid=data["Core-UUID"], hostname=data["FreeSWITCH-Hostname"], ipv4=data["FreeSWITCH-IPv4"],
                ipv6=data["FreeSWITCH-IPv6"], start=datetime.fromtimestamp(t0 / 1e6, timezone.utc))
    call = dict(uuid=data.uuid, channel_name=data["Channel-Name"], profile=profile,
                codec=(data["Channel-Read-Codec-Name"], data["Channel-Read-Codec-Rate"],
                       data["Channel-Read-Codec-Bit-Rate"]),
                endpoint_variables=dict(variables[:split]), dialplan_variables=dict(variables[split + 1:socket_at]),
                socket_data=data["variable_current_application_data"],
                mode=f"{data['Socket-Mode']} {data['Control']}",
                park_event=any(getattr(m, "name", "") == "CHANNEL_PARK" for m in expected))
    answered = next(m for m in expected if getattr(m, "name", "") == "CHANNEL_ANSWER")
    names = [k for k, _ in answered.headers if k.startswith("variable_")]
    call["answer_variables"] = {k[len("variable_"):]: answered[k]
                                for k in names[names.index("variable_current_application") + 1:]}
    answer_done = next(i for i, m in enumerate(expected) if getattr(m, "name", "") == "CHANNEL_EXECUTE_COMPLETE")
    following = next(m for m in expected[answer_done + 1:] if type(m) is EslEvent)
    after = [k for k, _ in following.headers]
    moved = after[after.index("variable_endpoint_disposition") + 1:after.index("variable_current_loop")]
    call["acknowledged_variables"] = {k[len("variable_"):]: following[k] for k in moved}
    final = next(m for m in expected if getattr(m, "name", "") == "CHANNEL_HANGUP_COMPLETE")
    names = [k for k, _ in final.headers if k.startswith("variable_")]
    call["hangup_variables"] = {k[len("variable_"):]: final[k] for k in names[names.index("variable_flow_billusec") + 1:]}
    presses: dict[int, str] = {}  # keys pressed while idle, before the command of that index
    timed: list[tuple[int, str]] = []
    hangup_at = None
    for index, message in enumerate(expected):
        if type(message) is not EslEvent:
            continue
        if message.name == "DTMF":
            call["dtmf_source"] = message["DTMF-Source"]
            sent = [i for i, (after, _) in enumerate(commands) if after <= index]
            last = sent[-1]
            replied = sum(1 for m in expected[commands[last][0]:index] if type(m) in (CommandReply, ChannelData))
            if replied == 0:  # dequeued by the park loop that the command woke: pressed while idle
                presses[last] = presses.get(last, "") + message["DTMF-Digit"]
            else:
                timed.append(((int(message["Event-Date-Timestamp"]) - t0) // 1000, message["DTMF-Digit"]))
        elif message.name == "CHANNEL_HANGUP" and not any(c.get("execute-app-name") == "hangup" for _, c in commands):
            hangup_at = (int(message["Event-Date-Timestamp"]) - t0) / 1e6 - 0.05
    return fake, call, commands, expected, presses, timed, World(hangup_at=hangup_at)


async def replay(name: str) -> tuple[list, list]:
    """Drive the fake with a capture's client side; (captured packets, the fake's packets)."""
    fake_options, call_options, commands, expected, presses, timed, world = script(name)
    got: list = []
    finished = asyncio.Event()
    calls: list = []

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        codec = EslCodec(CLIENT, OUTBOUND)
        sent = 0

        def send_due() -> None:
            nonlocal sent
            while sent < len(commands) and len(got) >= commands[sent][0]:
                if sent in presses:
                    calls[0].press(presses[sent])
                writer.write(codec.send(commands[sent][1]))
                sent += 1

        send_due()
        while len(got) < len(expected):
            data = await reader.read(65536)
            if not data:
                break
            codec.receive_data(data)
            while (message := codec.next_event()) is not NEED_DATA:
                got.append(message)
                send_due()
        writer.close()
        finished.set()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    fake = FakeFreeSwitch(**fake_options)
    call = fake.call(server.sockets[0].getsockname()[:2], world=world, **call_options)
    call.presses += [(at, key, 0) for at, key in timed]
    calls.append(call)
    await asyncio.wait_for(finished.wait(), 10)
    await fake.close()
    server.close()
    return expected, got


@pytest.mark.parametrize("name", OUTBOUND_CAPTURES)
@run
async def test_FakeFreeSwitch_answers_each_outbound_capture_packet_for_packet(name):
    """Same packets, same order, same header names in the same order, same values: only what depends on
    the clock (dates, times, durations, sequence numbers, the socket app's own uuid) may differ."""
    expected, got = await replay(name)
    assert [type(m).__name__ for m in got] == [type(m).__name__ for m in expected]
    for index, (want, have) in enumerate(zip(expected, got)):
        where = f"packet {index} ({getattr(want, 'name', type(want).__name__)})"
        if not hasattr(want, "headers"):
            assert want == have, where
            continue
        assert [k for k, _ in have.headers] == [k for k, _ in want.headers], where
        socket_app = want.get("Application") == "socket"
        for (key, value), (_, fake_value) in zip(want.headers, have.headers):
            if not clock_derived(key) and not (socket_app and key == "Application-UUID"):
                assert fake_value == value, f"{where}: {key}"
        assert getattr(have, "body", "") == getattr(want, "body", "")


# -- what the captures do not show -------------------------------------------------------------------------


class Client:
    """A scripted outbound-socket client (the flowengine side, without the channel)."""

    def __init__(self):
        self.codec = EslCodec(CLIENT, OUTBOUND)
        self.messages: list = []
        self.connected = asyncio.get_running_loop().create_future()
        self.arrived = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def serve(self) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[:2]

    async def _accept(self, reader, writer) -> None:
        self.writer = writer
        self.connected.set_result(None)
        while data := await reader.read(65536):
            self.codec.receive_data(data)
            while (message := self.codec.next_event()) is not NEED_DATA:
                self.messages.append(message)
                self.arrived.set()

    def send(self, command: Command) -> None:
        self.writer.write(self.codec.send(command))

    async def until(self, check) -> object:
        while True:
            for message in self.messages:
                if check(message):
                    return message
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)

    async def setup(self) -> None:
        await self.connected
        for line in ("connect", "myevents", "linger"):
            self.send(Command(line))
        await self.until(lambda m: type(m) is CommandReply and m.reply_text == "+OK will linger")

    def complete(self, uuid: str):
        return lambda m: type(m) is EslEvent and m.name == "CHANNEL_EXECUTE_COMPLETE" and m.get("Application-UUID") == uuid

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.server.close()


@run
async def test_FakeCall_without_full_control_refuses_linger_and_api():
    client = Client()
    fake = FakeFreeSwitch()
    fake.call(await client.serve(), mode="async")
    await client.connected
    client.send(Command("connect"))
    client.send(Command("linger"))
    client.send(Command("api status"))
    reply = await client.until(lambda m: type(m) is CommandReply and m.reply_text.startswith("-ERR"))
    assert reply.reply_text == "-ERR command not found"
    assert client.messages[0]["Control"] == "single-channel"
    client.close()
    await fake.close()


@run
async def test_FakeCall_unknown_app_hangs_up_with_destination_out_of_order():
    client = Client()
    fake = FakeFreeSwitch()
    call = fake.call(await client.serve())
    await client.setup()
    client.send(sendmsg("no_such_app", event_uuid="x1"))
    hangup = await client.until(lambda m: type(m) is EslEvent and m.name == "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"
    assert not any(type(m) is EslEvent and m.name == "CHANNEL_EXECUTE" for m in client.messages)
    notice = await client.until(lambda m: type(m) is DisconnectNotice)
    assert notice.disposition == "linger"
    client.close()
    record = await call.finished
    assert record.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    await fake.close()


@run
async def test_FakeCall_barge_in_stops_playback_on_a_terminator_and_keeps_the_rest_queued():
    client = Client()
    fake = FakeFreeSwitch()
    call = fake.call(await client.serve(), world=World(media={"/p.wav": 4.0}))
    await client.setup()
    call.presses += [(1500, "1", 0), (1500, "2", 0)]
    client.send(Command(f"api uuid_setvar {call.uuid} playback_terminators any"))
    client.send(sendmsg("playback", "/p.wav", event_uuid="p1"))
    done = await client.until(client.complete("p1"))
    assert done["variable_playback_terminator_used"] == "1" and done["variable_playback_ms"] == "1500"
    digits = [m["DTMF-Digit"] for m in client.messages if type(m) is EslEvent and m.name == "DTMF"]
    assert digits == ["1"]  # the second key waits in the channel until the park loop dequeues it
    client.send(sendmsg("sleep", "10", event_uuid="s1"))
    await client.until(client.complete("s1"))
    digits = [m["DTMF-Digit"] for m in client.messages if type(m) is EslEvent and m.name == "DTMF"]
    assert digits == ["1", "2"]
    client.close()
    await fake.close()


@run
async def test_FakeCall_bridge_reports_bridge_events_and_the_disposition():
    client = Client()
    world = World(dial={"+15551112222": DialOutcome("answer", after=3, talk=12), "+15553334444": DialOutcome("busy")})
    fake = FakeFreeSwitch()
    fake.call(await client.serve(), world=world)
    await client.setup()
    client.send(sendmsg("bridge", "{leg_timeout=20}sofia/gateway/gw/+15551112222", event_uuid="b1"))
    done = await client.until(client.complete("b1"))
    names = [m.name for m in client.messages if type(m) is EslEvent]
    assert names.index("CHANNEL_BRIDGE") < names.index("CHANNEL_UNBRIDGE") < len(names) - 1
    bridged = next(m for m in client.messages if getattr(m, "name", "") == "CHANNEL_BRIDGE")
    unbridged = next(m for m in client.messages if getattr(m, "name", "") == "CHANNEL_UNBRIDGE")
    assert int(unbridged["Event-Date-Timestamp"]) - int(bridged["Event-Date-Timestamp"]) == 12_000_000
    assert done["variable_originate_disposition"] == "SUCCESS" and done["variable_bridge_hangup_cause"] == "NORMAL_CLEARING"
    client.send(sendmsg("bridge", "sofia/gateway/gw/+15553334444", event_uuid="b2"))
    busy = await client.until(client.complete("b2"))
    assert busy["variable_originate_disposition"] == "USER_BUSY"
    client.close()
    await fake.close()


# -- the inbound server ------------------------------------------------------------------------------------


async def inbound(fake: FakeFreeSwitch) -> tuple[EslCodec, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*await fake.start_inbound())
    return EslCodec(CLIENT, INBOUND), reader, writer


async def read(codec: EslCodec, reader: asyncio.StreamReader, count: int = 1) -> list:
    messages: list = []
    while len(messages) < count:
        while (message := codec.next_event()) is not NEED_DATA:
            messages.append(message)
        if len(messages) < count:
            codec.receive_data(await asyncio.wait_for(reader.read(65536), 5))
    return messages


@run
async def test_FakeFreeSwitch_inbound_auth_api_and_a_refused_password():
    fake = FakeFreeSwitch(password="secret")
    codec, reader, writer = await inbound(fake)
    assert await read(codec, reader) == [AuthRequest()]
    writer.write(codec.send(Command("auth secret")))
    (accepted,) = await read(codec, reader)
    assert accepted.reply_text == "+OK accepted"
    writer.write(codec.send(Command("api status")))
    (status,) = await read(codec, reader)
    assert type(status) is ApiResponse and status.body.startswith("UP ")
    writer.write(codec.send(Command("api nonsense")))
    (missing,) = await read(codec, reader)
    assert missing.body == "-ERR nonsense Command not found!\n"
    writer.close()
    codec, reader, writer = await inbound(fake)
    await read(codec, reader)
    writer.write(codec.send(Command("auth wrong")))
    refused, notice = await read(codec, reader, 2)
    assert refused.reply_text == "-ERR invalid" and type(notice) is DisconnectNotice
    writer.close()
    await fake.close()


@run
async def test_FakeFreeSwitch_acl_refusal_is_a_rude_rejection():
    fake = FakeFreeSwitch(deny=True)
    codec, reader, writer = await inbound(fake)
    assert await read(codec, reader) == [RudeRejection()]
    writer.close()
    await fake.close()


@run
async def test_FakeFreeSwitch_bgapi_originate_answers_with_a_job_then_a_background_job():
    client = Client()
    address = await client.serve()
    fake = FakeFreeSwitch()
    fake.world = World(dial={"+15550001111": DialOutcome("answer", after=1), "*": DialOutcome("busy")})
    codec, reader, writer = await inbound(fake)
    await read(codec, reader)
    writer.write(codec.send(Command("auth ClueCon")))
    writer.write(codec.send(Command("event plain BACKGROUND_JOB")))
    await read(codec, reader, 2)
    writer.write(codec.send(Command(
        f"bgapi originate {{flowengine_token=t1}}sofia/gateway/gw/+15550001111 &socket({address[0]}:{address[1]} async full)",
        [("Job-UUID", "job-1")])))
    reply, job = await read(codec, reader, 2)
    assert reply.reply_text == "+OK Job-UUID: job-1" and reply.job_uuid == "job-1"
    assert job.name == "BACKGROUND_JOB" and job["Job-UUID"] == "job-1" and job.body.startswith("+OK ")
    await client.connected
    client.send(Command("connect"))
    data = await client.until(lambda m: type(m) is ChannelData)
    assert data["variable_flowengine_token"] == "t1" and data.uuid == job.body.split()[1]
    assert data["Answer-State"] == "answered"
    writer.write(codec.send(Command("bgapi originate sofia/gateway/gw/+15559990000 &socket(127.0.0.1:1 async full)")))
    reply, job = await read(codec, reader, 2)
    assert job.body == "-ERR USER_BUSY\n"
    writer.close()
    client.close()
    await fake.close()
