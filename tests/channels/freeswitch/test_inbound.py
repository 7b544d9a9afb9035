"""The inbound ESL client against the fake FreeSWITCH: auth, bgapi originate … &socket(…), BACKGROUND_JOB,
refused passwords, lost connections and reconnecting with backoff."""

from __future__ import annotations

import asyncio
import logging

from flowengine.channels.fake import DialOutcome, World
from flowengine.channels.freeswitch.inbound import InboundClient
from flowengine.channels.freeswitch.outbound import OutboundServer
from flowengine.runtime.ids import SequentialIds
from flowengine.testing.fake_freeswitch import FakeFreeSwitch

from .support import run


class SteppedClock:
    """A clock whose sleeps are recorded and return at once, up to `limit`; then they wait forever (the test
    has seen enough), so a supervisor in a retry loop can never spin."""

    needs_guard = False

    def __init__(self, limit: int = 10):
        self.sleeps: list[float] = []
        self.limit = limit
        self.slept = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.slept.set()
        if len(self.sleeps) >= self.limit:
            await asyncio.Event().wait()
        await asyncio.sleep(0)


async def connected_client(fake: FakeFreeSwitch, **options) -> InboundClient:
    host, port = await fake.start_inbound()
    client = InboundClient(host, port, options.pop("password", fake.password), clock=options.pop("clock", SteppedClock()),
                           ids=SequentialIds(), **options)
    await client.start()
    return client


@run
async def test_InboundClient_originates_a_call_that_connects_back_over_the_outbound_socket():
    connections: list = []
    arrived = asyncio.Event()

    def accept(connection) -> None:
        connections.append(connection)
        arrived.set()

    server = OutboundServer(accept, "127.0.0.1", 0)
    await server.start()
    fake = FakeFreeSwitch()
    fake.world = World(dial={"+15551230000": DialOutcome("answer", after=2)})
    client = await connected_client(fake)
    assert await client.wait_connected(5)
    host, port = server.address
    placed = await client.originate("sofia/gateway/gw/+15551230000", f"&socket({host}:{port} async full)",
                                    variables={"flowengine_token": "t-1", "origination_caller_id_name": "Acme, Inc"},
                                    timeout=10)
    assert placed.status == "answered" and placed.uuid == fake.calls[0].uuid
    await asyncio.wait_for(arrived.wait(), 5)
    data = await connections[0].open_session(5)
    assert data["variable_flowengine_token"] == "t-1"
    assert data["variable_origination_caller_id_name"] == "Acme, Inc"
    assert data["Answer-State"] == "answered" and data["Caller-Logical-Direction"] == "outbound"
    connections[0].close()
    await client.close()
    await fake.close()
    await server.stop()


@run
async def test_InboundClient_maps_originate_failures_to_dial_outcomes():
    fake = FakeFreeSwitch()
    fake.world = World(dial={"busy": DialOutcome("busy"), "silent": DialOutcome("no-answer"),
                             "broken": DialOutcome("failed")})
    client = await connected_client(fake)
    assert await client.wait_connected(5)
    outcomes = []
    for target in ("busy", "silent", "broken"):
        placed = await client.originate(f"user/{target}", "&socket(127.0.0.1:1 async full)",
                                        variables={"originate_timeout": "1"}, timeout=5)
        outcomes.append((placed.status, placed.cause))
    assert outcomes == [("busy", "USER_BUSY"), ("no-answer", "NO_ANSWER"), ("failed", "NORMAL_TEMPORARY_FAILURE")]
    await client.close()
    await fake.close()


@run
async def test_InboundClient_a_refused_password_is_one_log_line_and_a_long_backoff(caplog):
    caplog.set_level(logging.WARNING, "flowengine.freeswitch")
    clock = SteppedClock(limit=2)
    fake = FakeFreeSwitch(password="right")
    client = await connected_client(fake, password="wrong", clock=clock, backoff_max=30)
    while len(clock.sleeps) < 2:
        clock.slept.clear()
        await asyncio.wait_for(clock.slept.wait(), 5)
    assert not client.connected and clock.sleeps == [30, 30]
    refusals = [r for r in caplog.records if "refused the ESL password" in r.getMessage()]
    assert len(refusals) == 2  # one line per attempt, each attempt backed off
    placed = await client.originate("user/1", "&park()", variables={}, timeout=1)
    assert placed.status == "failed" and "not connected" in placed.cause
    await client.close()
    await fake.close()


@run
async def test_InboundClient_reconnects_after_the_switch_drops_it_and_fails_jobs_in_flight():
    fake = FakeFreeSwitch(time_scale=0.01)
    fake.world = World(dial={"*": DialOutcome("no-answer")})
    clock = SteppedClock()
    client = await connected_client(fake, clock=clock, backoff_min=0.5)
    assert await client.wait_connected(5)
    job = asyncio.get_running_loop().create_task(
        client.originate("user/1", "&socket(127.0.0.1:1 async full)", variables={"originate_timeout": "60"},
                         timeout=10))
    await asyncio.sleep(0.05)
    for session in list(fake._inbound):
        session.close()  # the switch restarts
    placed = await asyncio.wait_for(job, 5)
    assert placed.status == "failed" and "closed the connection" in placed.cause
    while client.connects < 2:
        await asyncio.sleep(0.01)
    assert clock.sleeps[0] == 0.5 and client.connected
    await client.close()
    await fake.close()


@run
async def test_InboundClient_garbage_from_the_switch_reconnects(caplog):
    caplog.set_level(logging.WARNING, "flowengine.freeswitch")
    fake = FakeFreeSwitch()
    client = await connected_client(fake)
    assert await client.wait_connected(5)
    for session in list(fake._inbound):
        session.transport.write(b"Content-Type: text/nonsense\n\n")
    while client.connects < 2:
        await asyncio.sleep(0.01)
    assert sum("protocol error" in r.getMessage() for r in caplog.records) == 1
    await client.close()
    await fake.close()


@run
async def test_InboundClient_refused_by_the_acl_backs_off(caplog):
    caplog.set_level(logging.WARNING, "flowengine.freeswitch")
    clock = SteppedClock(limit=1)
    fake = FakeFreeSwitch(deny=True)
    client = await connected_client(fake, clock=clock, backoff_max=20)
    await asyncio.wait_for(clock.slept.wait(), 5)
    assert clock.sleeps == [20] and any("ACL" in r.getMessage() for r in caplog.records)
    await client.close()
    await fake.close()
