"""The same scenarios against a real Asterisk, when FLOWENGINE_TEST_AMI=host:port:user:secret is set.

Asterisk needs the dialplan of docs/asterisk.md (contexts flow-agi and flow-caller) and must reach this
test's FastAGI server: FLOWENGINE_TEST_AGI=host:port (default 127.0.0.1:4573, the dialplan's target).
Each case originates `Local/<path>@flow-agi` whose other half runs flow-caller, which sends the
caller's keys from DTMF_TO_SEND (as the shared/wire captures were made).
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


@pytest.mark.parametrize("keys,digits,reason", [("1234#", "1234", "finish_key"), ("", "", "timeout")])
def test_real_asterisk_collect(keys, digits, reason):
    @run
    async def case():
        host, port, user, secret = os.environ["FLOWENGINE_TEST_AMI"].split(":", 3)
        agi_host, _, agi_port = os.environ.get("FLOWENGINE_TEST_AGI", "127.0.0.1:4573").partition(":")
        ami = AmiClient(host, int(port), user, secret)
        await ami.start()
        assert await ami.wait_ready(5), "cannot log in to AMI"
        results = []

        async def serve(connection):
            environment = await connection.environment(5)
            tracker = TypeAhead(environment["agi_uniqueid"])
            release = ami.subscribe(tracker.on_event, uniqueid=environment["agi_uniqueid"])
            channel = AsteriskChannel(connection, clock=RealClock(), tts=StaticTts(), typeahead=tracker)
            try:
                results.append(await Interpreter(FLOW, channel, clock=channel.clock).run())
            finally:
                release()
                connection.close()

        server = FastAgiServer(lambda c: asyncio.ensure_future(serve(c)), agi_host, int(agi_port or 4573))
        await server.start()
        try:
            done = await ami.originate(channel="Local/100@flow-agi", context="flow-caller", exten="s",
                                       caller_id='"Test Caller" <5551234>', timeout=30,
                                       variables={"DTMF_TO_SEND": keys or "w"})
            assert done.follow_up is not None and done.follow_up["Response"] == "Success"
            for _ in range(300):
                if results:
                    break
                await asyncio.sleep(0.1)
        finally:
            await server.stop()
            await ami.close()
        collect = next(e for e in results[0].events if e["op"] == "collect")
        assert (collect["digits"], collect["reason"]) == (digits, reason)
    case()
