"""Held legs on Asterisk (channels/asterisk/legs.py): Dial()'s U() subroutine runs the answered leg's states on
a FastAGI session of its own, against the fake Asterisk. The events are tests/channels/test_held.py's; these
check what crosses the wire."""

from __future__ import annotations

import asyncio

import pytest

from flowengine.channels.fake import DialOutcome, World
from flowengine.errors import ChannelError
from flowengine.runtime.channel import DialRequest
from flowengine.testing.fake_asterisk import FakeAsterisk, run_on_fake_asterisk
from tests.helpers import make_flow

from .support import drive, run

WHISPER = make_flow({
    "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "w", "time_limit": 60,
          "edges": {"answered": "bye"}},
    "w": {"op": "say", "text": "You have a call from the sales line"},
    "bye": {"op": "hangup"},
})
ANSWERS = {"dial": {"+15551112222": {"status": "answer", "after": 2, "talk": 12}}}


async def on_fake(flow, scenario, **kwargs):
    fake = FakeAsterisk(time_scale=0.001)
    transcript, record = await run_on_fake_asterisk(flow, scenario, fake=fake, **kwargs)
    return transcript, record, fake.timeline[1:]


@run
async def test_Dial_runs_the_answered_legs_states_in_its_U_subroutine_then_connects_the_legs():
    transcript, record, (leg,) = await on_fake(WHISPER, ANSWERS)
    dial = next(c for c in record.commands if c.startswith("EXEC Dial"))
    assert dial == "EXEC Dial PJSIP/+15551112222,30,gL(60000)U(flowengine-leg^leg_001)"
    assert leg.environment["agi_network_script"] == "flowengine-leg" and leg.environment.args == ("leg_001",)
    assert leg.channel.startswith("PJSIP/+15551112222-")
    assert leg.record.commands[0].startswith("STREAM FILE ")
    assert leg.record.commands[-1] == 'GET FULL VARIABLE ${STRFTIME(,,%s.%3q)}'  # the bridge starts here
    assert leg.record.closed_by_server and leg.record.hung_up_by == "caller"  # it ended the 12 s bridge
    assert record.commands[record.commands.index(dial) + 1] == 'GET FULL VARIABLE ${STRFTIME(,,%s.%3q)}'  # its end
    bridge = next(e for e in transcript.events if e["op"] == "bridge")
    assert (bridge["duration"], bridge["ended_by"]) == (12.0, "B")


@run
async def test_bridge_false_ends_the_leg_with_GOSUB_RESULT_CONTINUE_and_sends_its_keys_itself():
    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "bridge": False, "on_answer": "w", "send_digits": "12",
              "edges": {"answered": "after"}},
        "w": {"op": "say", "text": "A reminder"},
        "after": {"op": "say", "text": "Done"},
    })
    transcript, record, (leg,) = await on_fake(flow, ANSWERS)
    assert "D(" not in next(c for c in record.commands if c.startswith("EXEC Dial"))
    assert leg.record.commands[0] == "EXEC SendDTMF 12"
    assert leg.record.commands[-1] == "SET VARIABLE GOSUB_RESULT CONTINUE"
    assert leg.record.hung_up_by == "flow"  # Dial() hung it up and returned without a bridge
    assert not any(e["op"] == "bridge" for e in transcript.events)


@run
async def test_leg_A_hanging_up_during_the_legs_states_ends_them_through_AMI():
    transcript, record, (leg,) = await on_fake(WHISPER, {**ANSWERS, "hangup_at": 3})
    assert record.hung_up_by == "caller"
    assert leg.record.hung_up_by == "ami"  # the channel heard leg A's Hangup on AMI and hung leg B up
    assert leg.record.closed_by_server and not leg.record.held
    assert [(e["leg"], e["op"]) for e in transcript.events][-4:] == [
        ("B", "say"), ("A", "hangup"), ("B", "hangup"), ("A", "end")]
    assert transcript.events[-1]["reason"] == "caller_hangup"


@run
async def test_without_AMI_leg_A_hanging_up_is_known_once_the_legs_states_end():
    transcript, record, (leg,) = await on_fake(WHISPER, {**ANSWERS, "hangup_at": 3}, ami=False)
    say = next(e for e in transcript.events if e["op"] == "say")
    assert "interrupted" not in say  # Asterisk says nothing while leg A waits inside Dial()
    bridge = next(e for e in transcript.events if e["op"] == "bridge")
    assert (bridge["duration"], bridge["ended_by"]) == (0.0, "A")
    assert transcript.events[-1]["reason"] == "caller_hangup" and leg.record.closed_by_server


@run
async def test_a_leg_that_hangs_up_in_its_states_is_not_connected():
    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "ask", "edges": {"answered": "after"}},
        "ask": {"op": "collect", "prompts": [{"op": "say", "text": "Press 1"}]},
        "after": {"op": "say", "text": "Sorry"},
    })
    transcript, record, (leg,) = await on_fake(flow, {"dial": {"*": {"status": "answer", "inputs": ["hangup"]}}})
    assert leg.record.hung_up_by == "caller" and leg.record.closed_by_server
    assert [(e["leg"], e["op"]) for e in transcript.events][:3] == [("A", "dial"), ("B", "collect"), ("B", "hangup")]
    assert record.hung_up_by == "flow"


@run
async def test_recording_on_the_answered_leg_swaps_MixMonitor_directions():
    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "rec"},
        "rec": {"op": "record_start", "legs": "caller"},
    })
    _, _, (leg,) = await on_fake(flow, ANSWERS)
    monitor = next(c for c in leg.record.commands if c.startswith("EXEC MixMonitor"))
    assert ",t(" in monitor  # leg A's voice is what leg B hears


@run
async def test_a_held_leg_cannot_hold_another():
    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "again"},
        "again": {"op": "dial", "targets": ["+15553334444"], "on_answer": "w"},
        "w": {"op": "say", "text": "nested"},
    })
    transcript, _, _ = await on_fake(flow, {"dial": {"*": "answer"}})
    error = next(e for e in transcript.events if e["op"] == "error")
    assert error["code"] == "E_CHANNEL" and "while leg B's own states run" in error["message"]


class NoSession:
    """LegSessions whose leg never comes back: what a dialplan without [flowengine-leg] gives."""

    def expect(self):
        return "leg_x", asyncio.get_running_loop().create_future()

    def forget(self, token):
        pass

    def on_caller_hangup(self, callback):
        return None

    def hang_up(self, channel):
        pass


@run
async def test_a_dialplan_without_the_leg_context_is_a_clear_error():
    async def body(channel):
        channel.legs = NoSession()
        with pytest.raises(ChannelError, match=r"needs the \[flowengine-leg\] context"):
            await channel.dial("A", "B", DialRequest(("+15551112222",), on_answer=True))
    await drive(body, world=World(dial={"*": DialOutcome("answer", talk=1)}))


@run
async def test_a_dropped_leg_session_is_hung_up_through_AMI_and_the_call_goes_on():
    def drop(call, line):  # the leg's FastAGI connection breaks while its whisper plays
        if call.dialler is not None and line.startswith("STREAM FILE"):
            call.stop()

    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "w", "edges": {"answered": "after"}},
        "w": {"op": "say", "text": "You have a call from the sales line"},
        "after": {"op": "say", "text": "Sorry"},
    })
    fake = FakeAsterisk(time_scale=0.001, on_command=drop)
    transcript, record = await run_on_fake_asterisk(
        flow, {"dial": {"+15551112222": {"status": "answer", "talk": 60}}}, fake=fake)
    leg = fake.timeline[1]
    assert leg.record.dropped and leg.record.hung_up_by == "ami"  # Dial() would have connected it
    assert [(e["leg"], e["op"], e.get("by")) for e in transcript.events] == [
        ("A", "dial", None), ("B", "say", None), ("B", "hangup", "callee"), ("A", "answer", None),
        ("A", "say", None), ("A", "hangup", "flow"), ("A", "end", None)]
    assert transcript.events[1]["interrupted"] is True and record.closed_by_server
