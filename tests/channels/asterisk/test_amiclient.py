"""The AMI client against the fake Asterisk's AMI server: login, actions, events, reconnects, faults."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flowengine.channels.asterisk.amiclient import AmiClient, AmiError
from flowengine.errors import ChannelClosed
from flowengine.testing.fake_asterisk import FakeAsterisk

from .support import run


async def fast_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.01))


@run
async def test_AmiClient_logs_in_pings_and_logs_off():
    fake = FakeAsterisk()
    await fake.start_ami()
    client = AmiClient(*fake.ami_address, "flowengine", "secret")
    await client.start()
    assert await client.wait_ready(2) and client.version == "11.0.0"
    done = await client.send("Ping")
    assert done.ok and done.response["Ping"] == "Pong"
    session = next(iter(fake.sessions))
    await client.close()
    assert [a.name for a in session.actions] == ["Login", "Ping", "Logoff"]
    await fake.close()


@run
async def test_AmiClient_refused_login_is_logged_and_retried(caplog):
    fake = FakeAsterisk(login_failure_delay=0.0)
    await fake.start_ami()
    client = AmiClient(*fake.ami_address, "flowengine", "wrong", sleep=fast_sleep, backoff_initial=0.01)
    with caplog.at_level(logging.ERROR, "flowengine.ami"):
        await client.start()
        assert not await client.wait_ready(0.2)
    refused = [r for r in caplog.records if "refused login" in r.getMessage()]
    assert len(refused) >= 2 and "Authentication failed" in refused[0].getMessage()
    await client.close()
    await fake.close()


@run
async def test_AmiClient_reconnects_when_the_manager_goes_away():
    fake = FakeAsterisk()
    await fake.start_ami()
    client = AmiClient(*fake.ami_address, "flowengine", "secret", sleep=fast_sleep)
    await client.start()
    assert await client.wait_ready(2)
    for session in list(fake.sessions):
        session.close()
    for _ in range(400):  # the client notices the drop, backs off, logs in again
        if client.logins == 2 and client.connected:
            break
        await asyncio.sleep(0.005)
    assert client.connected and client.logins == 2
    await client.close()
    await fake.close()


@run
async def test_AmiClient_action_timeout_and_lost_connection():
    """A manager that greets, accepts the login, then never answers; then one that drops the socket."""
    async def handle(reader, writer):
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        data = await reader.readuntil(b"\r\n\r\n")
        action_id = data.split(b"ActionID: ")[1].split(b"\r\n")[0]
        writer.write(b"Response: Success\r\nActionID: " + action_id + b"\r\nMessage: Authentication accepted\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")  # the first action: silence
        await reader.readuntil(b"\r\n\r\n")  # the second: hang up on the client
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    client = AmiClient(*server.sockets[0].getsockname()[:2], "u", "s", action_timeout=0.05, sleep=fast_sleep)
    await client.start()
    assert await client.wait_ready(2)
    with pytest.raises(AmiError, match="no answer within"):
        await client.send("Status")
    with pytest.raises(ChannelClosed):
        await client.send("Status", timeout=2)
    await client.close()
    server.close()


@run
async def test_AmiClient_not_connected():
    client = AmiClient("127.0.0.1", 1, "u", "s", connect_timeout=0.1, sleep=fast_sleep)
    with pytest.raises(ChannelClosed, match="not connected"):
        await client.send("Ping")


@run
async def test_AmiClient_originate_waits_for_OriginateResponse():
    fake = FakeAsterisk(time_scale=0.001)
    fake.originate_outcomes = {"+15551112222": "busy"}
    await fake.start_ami()
    client = AmiClient(*fake.ami_address, "flowengine", "secret")
    await client.start()
    await client.wait_ready(2)
    done = await client.originate(channel="Local/+15551112222@out", context="flow", exten="s",
                                  caller_id='"Acme" <5550100>', timeout=20, variables={"A": "1", "B": "2"})
    assert done.ok and done.follow_up["Response"] == "Failure" and done.follow_up["Reason"] == "5"
    sent = fake.originates[0]
    assert sent.get_all("Variable") == ["A=1", "B=2"] and sent["Async"] == "true" and sent["Timeout"] == "20000"
    await client.close()
    await fake.close()


@run
async def test_AmiClient_events_by_channel_and_hangup_redirect_actions():
    fake = FakeAsterisk(time_scale=0.01)
    await fake.start_ami()
    client = AmiClient(*fake.ami_address, "flowengine", "secret")
    await client.start()
    await client.wait_ready(2)
    mine, everything = [], []

    async def agi_server(reader, writer):
        while b"HANGUP\n" not in await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(agi_server, "127.0.0.1", 0)
    call = fake.call(server.sockets[0].getsockname()[:2])
    client.subscribe(everything.append)
    unsubscribe = client.subscribe(mine.append, uniqueid=call.uniqueid)
    while call.channel not in fake.calls:  # the fake call exists once its FastAGI connection is up
        await asyncio.sleep(0.005)
    hung = await client.hangup(call.channel, 17)
    assert hung.ok and hung.response.message == "Channel Hungup"
    missing = await client.redirect("Local/none", "default", "s")
    assert not missing.ok
    await asyncio.wait_for(call.finished, 2)
    for _ in range(400):
        if any(e.name == "Hangup" for e in mine):
            break
        await asyncio.sleep(0.005)
    assert any(e.name == "Hangup" and e["Cause"] == "17" for e in mine)
    unsubscribe()
    assert everything  # the unfiltered subscriber saw them too
    server.close()
    await client.close()
    await fake.close()
