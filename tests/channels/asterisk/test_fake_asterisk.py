"""The fake Asterisk answers what Asterisk 22 answered in shared/wire/, byte for byte."""

from __future__ import annotations

import asyncio

import pytest

from flowengine.channels.asterisk.agi import SERVER, AgiCodec, _split_command, parse_args
from flowengine.channels.asterisk.ami import CLIENT, AmiAction, AmiCodec
from flowengine.testing.fake_asterisk import FakeAsterisk

from .support import agi_bytes, agi_capture, ami_capture, drain, run

ENV = {"asterisk-agi-flow-caller.log": ("Local/100@flow-agi-00000004;2", "1795327797.11", "139874680301248"),
       "asterisk-agi-flow-caller-hangup.log": ("Local/100@flow-agi-00000005;2", "1795327808.13", "139874681325248"),
       "asterisk-agi-flow-caller-silent.log": ("Local/100@flow-agi-00000006;2", "1795327817.15", "139874680813248")}
CALLERS = {"asterisk-agi-flow-caller.log": (["1234#"], None),
           "asterisk-agi-flow-caller-hangup.log": (["timeout"], 2.0 + 0.1),  # 2 s after answer, mid GET DATA
           "asterisk-agi-flow-caller-silent.log": (["timeout"], None)}


async def replay(commands: list[str], fake: FakeAsterisk, **call) -> tuple[bytes, list[str]]:
    """Play our side of a capture against the fake; returns the bytes the fake wrote."""
    received = bytearray()
    done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        codec = AgiCodec(SERVER)
        try:
            while True:
                data = await reader.read(65536)
                received.extend(data)
                codec.receive_data(data)
                if drain(codec):
                    break
            for line in commands:
                data = codec.send(_split_command(parse_args(line)))
                assert data == line.encode() + b"\n"
                writer.write(data)
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    received.extend(data)
                    codec.receive_data(data)
                    if any(type(e).__name__ == "AgiReply" for e in drain(codec)):
                        break
            # wait for the trailing HANGUP, as the capture's client did, then close
            await asyncio.sleep(0.02)
            try:
                received.extend(await asyncio.wait_for(reader.read(65536), 0.2))
            except asyncio.TimeoutError:
                pass
        finally:
            writer.close()
            done.set_result(None)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    address = server.sockets[0].getsockname()[:2]
    call = fake.call(address, **call)
    record = await call.finished
    await done
    server.close()
    return bytes(received), record


@pytest.mark.parametrize("name", list(ENV))
def test_fake_asterisk_replays_capture_byte_for_byte(name):
    @run
    async def case():
        channel, uniqueid, thread = ENV[name]
        caller, hangup_at = CALLERS[name]
        fake = FakeAsterisk(time_scale=0.001, media_duration=lambda f: {"hello-world": 11234 / 8000}.get(f))
        commands = [line for d, line in agi_capture(name) if d == ">>"]
        received, record = await replay(
            commands, fake, path="flow", caller=caller, hangup_at=hangup_at, callerid="5551234",
            calleridname="Test Caller", env={"agi_channel": channel, "agi_uniqueid": uniqueid,
                                             "agi_threadid": thread, "agi_request": "agi://127.0.0.1:4573/flow"})
        assert received == agi_bytes(name, "<<")  # the environment, every reply, HANGUP where it came
        assert record.closed_by_server
    case()


@run
async def test_fake_asterisk_answers_510_520_and_511():
    fake = FakeAsterisk(time_scale=0.001)
    received, _ = await replay(["FROBNICATE", "GET DATA", "HANGUP", "STREAM FILE beep \"\"", "VERBOSE hi 1"], fake)
    text = received.decode()
    assert "510 Invalid or unknown command\n" in text
    assert "520-Invalid command syntax.  Proper usage follows:\n Usage: GET DATA" in text
    assert text.endswith("200 result=1\nHANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n"
                         "200 result=1\n")


async def ami_session(fake: FakeAsterisk, *actions: AmiAction, read_until: int) -> list:
    reader, writer = await asyncio.open_connection(*fake.ami_address)
    codec = AmiCodec(CLIENT)
    for action in actions:
        writer.write(codec.send(action))
    messages: list = []
    while len(messages) < read_until:
        data = await asyncio.wait_for(reader.read(65536), 3)
        codec.receive_data(data)
        messages += drain(codec)
        if not data:
            break
    writer.close()
    return messages


@run
async def test_fake_ami_login_and_logoff_bytes_match_the_capture():
    captured = dict((d + str(i), data) for i, (d, data) in enumerate(ami_capture("asterisk-ami-flow-caller.log")))
    fake = FakeAsterisk(username="pbxtest", secret="pbxtest-secret", timestamps=False)
    await fake.start_ami()
    reader, writer = await asyncio.open_connection(*fake.ami_address)
    assert await reader.readline() == captured["<<0"]  # the banner, no empty line after it
    writer.write(captured[">>1"])  # Login
    response = await reader.readuntil(b"\r\n\r\n")
    assert response == captured["<<2"]
    fully_booted = await reader.readuntil(b"\r\n\r\n")
    assert fully_booted == next(data for d, data in ami_capture("asterisk-ami-flow-caller.log")
                                if data.startswith(b"Event: FullyBooted"))
    writer.write(b"Action: Logoff\r\nActionID: bye\r\n\r\n")
    assert await reader.readuntil(b"\r\n\r\n") == (b"Response: Goodbye\r\nActionID: bye\r\n"
                                                   b"Message: Thanks for all the fish.\r\n\r\n")
    assert await reader.read() == b""
    writer.close()
    await fake.close()


@run
async def test_fake_ami_refusals():
    fake = FakeAsterisk(login_failure_delay=0.01)
    await fake.start_ami()
    messages = await ami_session(fake, AmiAction("Ping", action_id="1"), AmiAction(None, action_id="2"),
                                 read_until=3)
    assert [m.message for m in messages[1:]] == ["Permission denied", "Missing action in request"]
    messages = await ami_session(fake, AmiAction("Login", {"Username": "flowengine", "Secret": "wrong"},
                                                 action_id="3"), read_until=3)
    assert messages[1].message == "Authentication failed" and type(messages[-1]).__name__ == "Closed"
    messages = await ami_session(fake, AmiAction("Login", {"Username": "flowengine", "Secret": "secret",
                                                           "Events": "off"}, action_id="4"),
                                 AmiAction("Frob", action_id="5"), read_until=3)
    assert messages[2].message == ("Invalid/unknown command: Frob. Use Action: ListCommands to show available "
                                   "commands.")
    await fake.close()


@run
async def test_fake_ami_reports_agi_commands_and_keys_in_causal_order():
    fake = FakeAsterisk(time_scale=0.001)
    await fake.start_ami()
    reader, writer = await asyncio.open_connection(*fake.ami_address)
    codec = AmiCodec(CLIENT)
    writer.write(codec.send(AmiAction("Login", {"Username": "flowengine", "Secret": "secret"}, action_id="1")))
    await replay(["ANSWER", "GET DATA beep 3000 2"], fake, caller=["42"])
    await asyncio.sleep(0.05)
    codec.receive_data(await reader.read(65536))
    names = [(m.name, m.get("Digit") or m.get("Command")) for m in drain(codec)
             if type(m).__name__ == "AmiEvent" and m.name in ("AGIExecStart", "AGIExecEnd", "DTMFEnd")]
    assert names == [("AGIExecStart", "ANSWER"), ("AGIExecEnd", "ANSWER"), ("AGIExecStart", "GET DATA beep 3000 2"),
                     ("DTMFEnd", "4"), ("DTMFEnd", "2"), ("AGIExecEnd", "GET DATA beep 3000 2")]
    writer.close()
    await fake.close()
