"""Against a real FreeSWITCH, when FLOWENGINE_TEST_ESL=host:port:password is set (skipped otherwise).

The switch must reach this test's outbound-socket server at FLOWENGINE_TEST_ESL_SOCKET (default 127.0.0.1;
the port is chosen at run time) and have the caller and callee extensions of docs/freeswitch.md ("Tests
against a real FreeSWITCH"): each case originates `loopback/flowengine-caller/default` with `dtmf_to_send`
and `&socket(…)`; the loopback's other leg waits, then sends those keys, as the shared/wire captures were
made. The held-leg case dials `loopback/flowengine-callee/default` with on_answer states: the bridge's
group confirmation brings the answered leg back to this server on a socket of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from flowengine.channels.freeswitch.channel import FreeSwitchChannel
from flowengine.channels.freeswitch.inbound import InboundClient
from flowengine.channels.freeswitch.outbound import OutboundServer
from flowengine.runtime.clock import RealClock
from flowengine.runtime.interpreter import Interpreter
from tests.helpers import make_flow

from .support import run

pytestmark = [pytest.mark.freeswitch,
              pytest.mark.skipif(not os.environ.get("FLOWENGINE_TEST_ESL"), reason="FLOWENGINE_TEST_ESL is not set")]

FLOW = make_flow({
    "menu": {"op": "collect", "prompts": [{"op": "play", "url": "tone_stream://%(1000,0,440)"}], "max_digits": 6,
             "timeout": 8, "edges": {"ok": "digits", "timeout": "bye"}},
    "digits": {"op": "say_digits", "digits": "42", "next": "bye"},
    "bye": {"op": "hangup"},
})


WHISPER = make_flow({
    "d": {"op": "dial", "targets": ["loopback/flowengine-callee/default"], "timeout": 20, "on_answer": "w",
          "time_limit": 3, "edges": {"answered": "bye"}},
    "w": {"op": "collect", "prompts": [{"op": "play", "url": "tone_stream://%(500,0,440)"}], "timeout": 1,
          "edges": {"timeout": "w2"}},
    "w2": {"op": "play", "url": "tone_stream://%(500,0,880)"},
    "bye": {"op": "hangup"},
})


class Legs:
    """The daemon's LegSessions in miniature: pairs the dialled leg's socket by its flowengine_token."""

    def __init__(self, server: OutboundServer):
        self.server = server
        self.pending: dict[str, asyncio.Future] = {}

    def socket_address(self) -> str:
        return f"{os.environ.get('FLOWENGINE_TEST_ESL_SOCKET', '127.0.0.1')}:{self.server.address[1]}"

    def expect(self):
        token = f"leg_{len(self.pending) + 1}"
        self.pending[token] = asyncio.get_running_loop().create_future()
        return token, self.pending[token]

    def forget(self, token):
        pass


def switch() -> tuple[str, int, str]:
    host, port, password = os.environ["FLOWENGINE_TEST_ESL"].split(":", 2)
    return host, int(port), password


async def run_case(flow, keys: str) -> list[dict]:
    host, port, password = switch()
    done: asyncio.Future = asyncio.get_running_loop().create_future()
    tasks: set[asyncio.Task] = set()

    async def serve(connection) -> None:
        data = await connection.open_session(5)
        assert data is not None and data["Socket-Mode"] == "async" and data["Control"] == "full"
        waiter = legs.pending.get(data.get("variable_flowengine_token") or "")
        if waiter is not None:
            waiter.set_result((connection, data))
            return
        clock = RealClock()
        channel = FreeSwitchChannel(connection, data, clock=clock, legs=legs)
        result = await Interpreter(flow, channel, clock=clock).run()
        channel.close_legs()
        await connection.wait_linger(5)
        connection.close()
        done.set_result(result)

    def accept(connection) -> None:
        task = asyncio.get_running_loop().create_task(serve(connection))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = OutboundServer(accept, os.environ.get("FLOWENGINE_TEST_ESL_SOCKET", "127.0.0.1"), 0)
    legs = Legs(server)
    await server.start()
    client = InboundClient(host, port, password, clock=RealClock())
    await client.start()
    try:
        assert await client.wait_connected(5)
        socket_host, socket_port = server.address
        placed = await client.originate(
            "loopback/flowengine-caller/default", f"&socket({socket_host}:{socket_port} async full)",
            variables={"dtmf_to_send": keys or "none", "originate_timeout": "30"}, timeout=40)
        assert placed.status == "answered"
        result = await asyncio.wait_for(done, 40)
    finally:
        await client.close()
        await server.stop()
    return result.events


@pytest.mark.parametrize("keys, digits, reason", [("1234#", "1234", "finish_key"), ("", "", "timeout")])
@run
async def test_real_freeswitch_collect_over_an_originated_outbound_socket(keys, digits, reason):
    events = await run_case(FLOW, keys)
    collect = next(e for e in events if e["op"] == "collect")
    assert (collect["digits"], collect["reason"]) == (digits, reason)


@run
async def test_real_freeswitch_runs_the_answered_legs_states_before_the_bridge():
    events = await run_case(WHISPER, "")
    assert [(e["leg"], e["op"]) for e in events][:5] == [
        ("A", "dial"), ("B", "play"), ("B", "collect"), ("B", "play"), ("A", "bridge")]
    bridge = next(e for e in events if e["op"] == "bridge")
    assert bridge["duration"] == pytest.approx(3.0, abs=1.1)  # sched_hangup +3 on the leg, from the bridge
    assert events[-1]["op"] == "end"


@run
async def test_real_freeswitch_refuses_a_wrong_password_with_one_log_line(caplog):
    caplog.set_level(logging.WARNING, "flowengine.freeswitch")
    host, port, _ = switch()

    class OnceClock(RealClock):
        async def sleep(self, seconds: float) -> None:
            await asyncio.Event().wait()  # one attempt is enough

    client = InboundClient(host, port, "not-the-password", clock=OnceClock())
    await client.start()
    assert not await client.wait_connected(3)
    await client.close()
    assert [r for r in caplog.records if "refused the ESL password" in r.getMessage()]
