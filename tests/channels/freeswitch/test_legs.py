"""Held legs on FreeSWITCH (channels/freeswitch/legs.py): the bridge's group confirmation runs the socket app on
the answered leg, whose states then run on an outbound socket of its own, against the fake FreeSWITCH. The
events are tests/channels/test_held.py's; these check what crosses the wire."""

from __future__ import annotations

import pytest

from flowengine.channels.freeswitch.channel import FreeSwitchChannel
from flowengine.errors import ChannelError
from flowengine.runtime.channel import DialRequest
from flowengine.runtime.clock import RealClock
from tests.helpers import make_flow

from .support import run, run_flow

WHISPER = make_flow({
    "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "w", "time_limit": 20,
          "edges": {"answered": "bye"}},
    "w": {"op": "say", "text": "You have a call from the sales line"},
    "bye": {"op": "hangup"},
})
ANSWERS = {"dial": {"+15551112222": {"status": "answer", "after": 2, "talk": 12}}}


async def on_fake(flow, scenario):
    """(transcript, leg A's record, the answered leg's fake call)."""
    calls: list = []

    def seen(call, direction, message) -> None:
        if call not in calls:
            calls.append(call)

    transcript, record, _ = await run_flow(flow, scenario, fake_options={"on_wire": seen})
    return transcript, record, calls[1] if len(calls) > 1 else None


@run
async def test_the_bridge_confirms_the_answered_leg_by_running_the_socket_app_on_it():
    transcript, record, leg = await on_fake(WHISPER, ANSWERS)
    bridge = next(arg for app, arg in record.apps if app == "bridge")
    assert "group_confirm_key=exec" in bridge and "group_confirm_cancel_timeout=true" in bridge
    assert "group_confirm_file='socket 127.0.0.1:" in bridge and "async full'" in bridge
    assert "flowengine_token=leg_001" in bridge and "execute_on_answer" not in bridge
    assert leg.vars.get("flowengine_token") == "leg_001" and leg.profile["Direction"] == "outbound"
    assert [app for app, _ in leg.record.apps] == ["speak", "sched_hangup"]  # the limit counts from the bridge
    assert ("sched_hangup", "+20 ALLOTTED_TIMEOUT") in leg.record.apps
    assert leg.record.closed_by == "client" and leg.hung_at is None  # the socket app returned: the leg won
    bridged = next(e for e in transcript.events if e["op"] == "bridge")
    assert (bridged["duration"], bridged["ended_by"]) == (12.0, "B")


@run
async def test_bridge_false_hangs_the_leg_up_so_the_bridge_returns_unbridged():
    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "bridge": False, "on_answer": "w", "send_digits": "12",
              "edges": {"answered": "after"}},
        "w": {"op": "say", "text": "A reminder"},
        "after": {"op": "say", "text": "Done"},
    })
    transcript, record, leg = await on_fake(flow, ANSWERS)
    assert [app for app, _ in leg.record.apps] == ["send_dtmf", "speak", "hangup"]
    assert leg.hangup_cause == "NORMAL_CLEARING"
    assert not any(e["op"] == "bridge" for e in transcript.events)
    assert [app for app, _ in record.apps][-2:] == ["speak", "hangup"]  # leg A goes on after the bridge app


@run
async def test_leg_A_hanging_up_cancels_the_confirmation_with_ORIGINATOR_CANCEL():
    transcript, record, leg = await on_fake(WHISPER, {**ANSWERS, "hangup_at": 3})
    assert record.hung_up_by == "caller" and leg.hangup_cause == "ORIGINATOR_CANCEL"
    assert [(e["leg"], e["op"]) for e in transcript.events][-4:] == [
        ("B", "say"), ("A", "hangup"), ("B", "hangup"), ("A", "end")]
    assert transcript.events[-4].get("interrupted") is True


@run
async def test_recording_on_the_answered_leg_swaps_the_record_directions():
    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "rec"},
        "rec": {"op": "record_start", "legs": "caller"},
    })
    _, _, leg = await on_fake(flow, ANSWERS)
    assert (leg.vars.get("RECORD_READ_ONLY"), leg.vars.get("RECORD_WRITE_ONLY")) == ("false", "true")


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


@run
async def test_a_channel_without_the_daemons_listener_cannot_hold_a_leg():
    channel = FreeSwitchChannel(None, None, clock=RealClock())
    with pytest.raises(ChannelError, match="needs the daemon's Event Socket listener"):
        await channel.dial("A", "B", DialRequest(("+15551112222",), on_answer=True))


@run
async def test_a_dropped_leg_socket_is_killed_and_the_call_goes_on():
    calls: list = []

    def drop(call, direction, message) -> None:  # the leg's socket breaks when its whisper is sent
        if call not in calls:
            calls.append(call)
        if call.dialler is not None and direction == ">>" and getattr(message, "name", "") == "sendmsg":
            call.stop()

    flow = make_flow({
        "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "w", "edges": {"answered": "after"}},
        "w": {"op": "say", "text": "You have a call from the sales line"},
        "after": {"op": "say", "text": "Sorry"},
    })
    transcript, record, _ = await run_flow(flow, ANSWERS, fake_options={"on_wire": drop})
    leg = calls[1]
    assert leg.record.closed_by == "client" or leg.record.closed_by is None
    assert leg.record.hung_up_by == "flow" and leg.hangup_cause == "NORMAL_CLEARING"  # uuid_kill from leg A's socket
    assert [(e["leg"], e["op"], e.get("by")) for e in transcript.events] == [
        ("A", "dial", None), ("B", "say", None), ("B", "hangup", "callee"), ("A", "answer", None),
        ("A", "say", None), ("A", "hangup", "flow"), ("A", "end", None)]
    assert record.hung_up_by == "flow"
