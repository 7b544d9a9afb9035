"""The same scenarios against a real Asterisk, when FLOWENGINE_TEST_AMI=host:port:user:secret is set.

Asterisk needs the dialplan of docs/asterisk.md (contexts flow-agi, flow-caller, flow-callee and
flowengine-leg) and must reach this test's FastAGI server: FLOWENGINE_TEST_AGI=host:port (default
127.0.0.1:4573, the dialplan's target). Each case originates `Local/<path>@flow-agi` whose other half runs
flow-caller, which sends the caller's keys from DTMF_TO_SEND (as the shared/wire captures were made). The
held-leg case dials `Local/s@flow-callee` with on_answer states: Dial()'s U() subroutine (flowengine-leg)
brings the answered half back to this server as a second FastAGI session.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from flowengine.channels.asterisk.amiclient import AmiClient
from flowengine.channels.asterisk.channel import AsteriskChannel
from flowengine.channels.asterisk.fastagi import FastAgiServer
from flowengine.channels.asterisk.typeahead import TypeAhead
from flowengine.runtime.clock import RealClock
from flowengine.runtime.interpreter import Interpreter
from flowengine.testing.fake_asterisk import FakeTts
from tests.helpers import make_flow

from .support import run

WHISPER = make_flow({
    "d": {"op": "dial", "targets": ["Local/s@flow-callee"], "timeout": 20, "on_answer": "w", "time_limit": 3,
          "result": "r", "edges": {"answered": "bye"}},
    "w": {"op": "collect", "prompts": [{"op": "play", "url": "beep"}], "timeout": 1, "edges": {"timeout": "w2"}},
    "w2": {"op": "play", "url": "beep"},
    "bye": {"op": "hangup"},
})

pytestmark = [pytest.mark.asterisk,
              pytest.mark.skipif(not os.environ.get("FLOWENGINE_TEST_AMI"), reason="FLOWENGINE_TEST_AMI is not set")]

FLOW = make_flow({
    "menu": {"op": "collect", "prompts": [{"op": "play", "url": "hello-world"}], "max_digits": 6, "timeout": 8,
             "edges": {"ok": "digits", "timeout": "bye"}},
    "digits": {"op": "say_digits", "digits": "42", "next": "bye"},
    "bye": {"op": "hangup"},
})


class StaticTts(FakeTts):
    """Real Asterisk cannot play our fake paths: speak with a stock sound instead."""

    async def synthesize(self, text, **kwargs):
        return "beep"


class Legs:
    """The daemon's LegSessions in miniature: pairs the dialled leg's FastAGI session by its token."""

    def __init__(self, ami: AmiClient):
        self.ami = ami
        self.pending: dict[str, asyncio.Future] = {}
        self.uniqueid: str | None = None
        self.tasks: set[asyncio.Task] = set()

    def expect(self):
        token = f"leg_{len(self.pending) + 1}"
        self.pending[token] = asyncio.get_running_loop().create_future()
        return token, self.pending[token]

    def forget(self, token):
        pass

    def on_caller_hangup(self, callback):
        return self.ami.subscribe(lambda event: callback() if event.name == "Hangup" else None, uniqueid=self.uniqueid)

    def hang_up(self, channel):
        self.track(self.ami.hangup(channel))

    def track(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def run_case(flow, keys: str) -> list:
    host, port, user, secret = os.environ["FLOWENGINE_TEST_AMI"].split(":", 3)
    agi_host, _, agi_port = os.environ.get("FLOWENGINE_TEST_AGI", "127.0.0.1:4573").partition(":")
    ami = AmiClient(host, int(port), user, secret)
    await ami.start()
    assert await ami.wait_ready(5), "cannot log in to AMI"
    results: asyncio.Future = asyncio.get_running_loop().create_future()
    legs = Legs(ami)

    async def serve(connection):
        environment = await connection.environment(5)
        waiter = legs.pending.get(environment.args[0]) if environment.args else None
        if waiter is not None:
            waiter.set_result((connection, environment))
            return
        legs.uniqueid = environment["agi_uniqueid"]
        tracker = TypeAhead(environment["agi_uniqueid"])
        release = ami.subscribe(tracker.on_event, uniqueid=environment["agi_uniqueid"])
        channel = AsteriskChannel(connection, clock=RealClock(), tts=StaticTts(), typeahead=tracker, legs=legs)
        try:
            results.set_result(await Interpreter(flow, channel, clock=channel.clock).run())
        finally:
            release()
            channel.close_legs()
            connection.close()

    server = FastAgiServer(lambda c: legs.track(serve(c)), agi_host, int(agi_port or 4573))
    await server.start()
    try:
        done = await ami.originate(channel="Local/100@flow-agi", context="flow-caller", exten="s",
                                   caller_id='"Test Caller" <5551234>', timeout=30,
                                   variables={"DTMF_TO_SEND": keys or "w"})
        assert done.follow_up is not None and done.follow_up["Response"] == "Success"
        return (await asyncio.wait_for(results, 40)).events
    finally:
        await server.stop()
        await ami.close()


@pytest.mark.parametrize("keys,digits,reason", [("1234#", "1234", "finish_key"), ("", "", "timeout")])
def test_real_asterisk_collect(keys, digits, reason):
    @run
    async def case():
        events = await run_case(FLOW, keys)
        collect = next(e for e in events if e["op"] == "collect")
        assert (collect["digits"], collect["reason"]) == (digits, reason)
    case()


def test_real_asterisk_runs_the_answered_legs_states_before_the_bridge():
    @run
    async def case():
        events = await run_case(WHISPER, "")
        assert [(e["leg"], e["op"]) for e in events][:5] == [
            ("A", "dial"), ("B", "play"), ("B", "collect"), ("B", "play"), ("A", "bridge")]
        bridge = next(e for e in events if e["op"] == "bridge")
        assert bridge["duration"] == pytest.approx(3.0, abs=0.6)  # Dial()'s L(3000), counted from the bridge
        assert events[-1]["op"] == "end"
    case()

