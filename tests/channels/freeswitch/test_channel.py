"""The FreeSWITCH channel on live (fake) calls: every primitive as dptools apps over an outbound socket."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flowengine.channels.fake import DialOutcome
from flowengine.channels.freeswitch.channel import FreeSwitchOptions, hangup_cause
from flowengine.errors import ChannelError
from flowengine.testing.runner import simulate_async
from tests.helpers import make_flow

from .support import run, run_flow, without

MENU = {"menu": {"op": "collect", "prompts": [{"op": "say", "text": "Press 1 for sales"}], "max_digits": 1,
                 "timeout": 5, "choices": ["1", "2"], "edges": {"match:1": "sales", "match:2": "support"}},
        "sales": {"op": "say", "text": "Sales", "next": "bye"},
        "support": {"op": "say", "text": "Support", "next": "bye"},
        "bye": {"op": "hangup"}}


def ops(result) -> list[str]:
    return [e["op"] for e in result.events]


def apps(record) -> list[str]:
    return [name for name, _ in record.apps]


async def same_as_fake_channel(flow, scenario, result) -> None:
    """The transcript on FreeSWITCH is the fake channel's, but for time."""
    assert without(result.events, "t") == without((await simulate_async(flow, scenario)).events, "t")


@run
async def test_FreeSwitchChannel_answers_plays_collects_and_hangs_up():
    flow = make_flow(MENU)
    scenario = {"caller": ["1"]}
    result, record, channel = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    assert apps(record) == ["answer", "speak", "play_and_get_digits", "speak", "hangup"]
    assert record.apps[1][1] == "flite|kal|Press 1 for sales"
    assert record.variables["flowengine_input"] == "collect-1/1"
    assert record.hung_up_by == "flow" and record.hangup_cause == "NORMAL_CLEARING"
    assert record.closed_by == "client"  # after the linger notice, as the switch waits for


@run
async def test_FreeSwitchChannel_barge_in_cuts_the_prompt_and_keeps_the_key():
    flow = make_flow(MENU)
    scenario = {"caller": [{"keys": "2", "at": 0.5}]}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    say = next(e for e in result.events if e["op"] == "say")
    assert say["interrupted"] is True
    assert "play_and_get_digits" not in apps(record)  # the key ended the request: no listening
    assert record.variables["playback_terminator_used"] == "2"


@run
async def test_FreeSwitchChannel_prompt_without_barge_in_drops_keys_pressed_during_it():
    flow = make_flow({"c": {"op": "collect", "prompts": [{"op": "say", "text": "Listen to all of this"}],
                            "barge_in": False, "timeout": 3}})
    scenario = {"caller": [{"keys": "2", "at": 0.5}]}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    collect = next(e for e in result.events if e["op"] == "collect")
    assert collect["digits"] == "" and collect["reason"] == "timeout"


@run
async def test_FreeSwitchChannel_silent_caller_times_out():
    flow = make_flow(MENU)
    scenario = {"caller": ["timeout"]}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    assert record.variables["read_result"] == "failure"


@run
async def test_FreeSwitchChannel_digits_then_finish_key_and_inter_digit_timeout():
    flow = make_flow({"a": {"op": "collect", "max_digits": 6, "timeout": 4, "inter_digit_timeout": 2,
                            "next": "b"},
                      "b": {"op": "collect", "max_digits": 4, "finish_on_key": "", "timeout": 4}})
    scenario = {"caller": ["1234#", "12"]}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    collects = [e for e in result.events if e["op"] == "collect"]
    assert [(c["digits"], c["reason"]) for c in collects] == [("1234", "finish_key"), ("12", "timeout")]
    assert record.apps[-2][1].startswith("1 4 1 4000 none silence_stream://1")


@run
async def test_FreeSwitchChannel_type_ahead_keys_pressed_during_a_statement_answer_the_next_menu():
    """Keys pressed while a prompt that takes no input plays are lost to the switch's apps; the engine keeps
    them from the DTMF events, so the next menu gets them at once (its prompt is skipped)."""
    flow = make_flow({"hello": {"op": "say", "text": "Welcome to the long greeting", "next": "menu"}, **MENU},
                     entry="hello")
    result, record, _ = await run_flow(flow, {"caller": ["1"]}, setup=lambda call: call.press_at(0.5, "2"))
    collect = next(e for e in result.events if e["op"] == "collect")
    assert collect["digits"] == "2"
    assert next(e for e in result.events if e["op"] == "say" and e["text"].startswith("Press"))["interrupted"]
    assert "play_and_get_digits" not in apps(record)


@run
async def test_FreeSwitchChannel_caller_hangup_mid_prompt_ends_the_flow_cleanly():
    flow = make_flow({**MENU, "done": {"op": "log", "message": "bye"}}, handlers={"hangup": "done"})
    scenario = {"caller": ["1"], "hangup_at": 0.4}
    result, record, channel = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    assert result.reason == "caller_hangup" and channel.hangup_cause == "NORMAL_CLEARING"
    assert record.hung_up_by == "caller" and apps(record) == ["answer", "speak"]


@run
async def test_FreeSwitchChannel_caller_hangup_while_listening():
    flow = make_flow(MENU)
    scenario = {"caller": ["timeout"], "hangup_at": 3}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    assert result.reason == "caller_hangup"


@run
async def test_FreeSwitchChannel_caller_hangup_entry_ends_the_request():
    flow = make_flow(MENU)
    scenario = {"caller": ["hangup"]}
    result, _, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)


@run
async def test_FreeSwitchChannel_plays_media_silence_digits_and_sends_dtmf():
    flow = make_flow({"a": {"op": "play", "url": "https://cdn.example.com/w.wav", "next": "b"},
                      "b": {"op": "play", "url": "tone_stream://%(250,0,1000)", "next": "c"},
                      "c": {"op": "silence", "seconds": 1.5, "next": "d"},
                      "d": {"op": "say_digits", "digits": "42", "next": "e"},
                      "e": {"op": "send_dtmf", "digits": "1w2"}})
    result, record, _ = await run_flow(flow, {})
    await same_as_fake_channel(flow, {}, result)
    assert record.apps[1:6] == [("playback", "http_cache://https://cdn.example.com/w.wav"),
                                ("playback", "tone_stream://%(250,0,1000)"), ("sleep", "1500"),
                                ("say", "en number iterated 42"), ("send_dtmf", "1w2")]


@run
async def test_FreeSwitchChannel_records_until_the_finish_key():
    flow = make_flow({"r": {"op": "record", "max_length": 60, "beep": True}})
    scenario = {"caller": [{"record": 9, "keys": "#"}]}
    result, record, _ = await run_flow(flow, scenario, options=FreeSwitchOptions(recordings_dir="/rec"))
    event = next(e for e in result.events if e["op"] == "record")
    fake_event = next(e for e in (await simulate_async(flow, scenario)).events if e["op"] == "record")
    assert without([event], "t", "url") == without([fake_event], "t", "url")
    assert event["url"] == "file:///rec/rec_001.wav"
    assert ("record", "/rec/rec_001.wav 60 200 5") in record.apps


@run
async def test_FreeSwitchChannel_background_recording():
    flow = make_flow({"a": {"op": "record_start", "legs": "caller", "next": "b"},
                      "b": {"op": "say", "text": "hi", "next": "c"}, "c": {"op": "record_stop"}})
    result, record, _ = await run_flow(flow, {})
    assert ("record_session", "/var/lib/freeswitch/recordings/flowengine/rec_001.wav") in record.apps
    assert ("stop_record_session", "/var/lib/freeswitch/recordings/flowengine/rec_001.wav") in record.apps
    assert record.variables["RECORD_READ_ONLY"] == "true"


@pytest.mark.parametrize("outcome, status", [
    (DialOutcome("answer", after=4, talk=12), "answered"), (DialOutcome("busy"), "busy"),
    (DialOutcome("no-answer"), "no-answer"), (DialOutcome("failed"), "failed")])
@run
async def test_FreeSwitchChannel_dial_maps_the_originate_disposition(outcome, status):
    flow = make_flow({"d": {"op": "dial", "targets": ["+15551112222"], "timeout": 20, "caller_id": "+15550000000"}})
    scenario = {"dial": {"+15551112222": {"status": outcome.status, **({"after": 4, "talk": 12}
                                                                      if outcome.status == "answer" else {})}}}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    dial = next(e for e in result.events if e["op"] == "dial")
    assert dial["status"] == status
    bridge = next(arg for name, arg in record.apps if name == "bridge")
    assert bridge.startswith("{leg_timeout=20,ignore_early_media=true,origination_caller_id_number=+15550000000}")
    assert bridge.endswith("sofia/gateway/default/+15551112222")


@run
async def test_FreeSwitchChannel_dial_time_limit_ends_the_bridge_on_the_switch():
    flow = make_flow({"d": {"op": "dial", "targets": ["+15551112222"], "time_limit": 5, "edges": {"answered": "after"}},
                      "after": {"op": "say", "text": "Still here"}})
    scenario = {"dial": {"+15551112222": {"status": "answer", "talk": 30}}}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    bridge = next(arg for name, arg in record.apps if name == "bridge")
    assert "execute_on_answer_1='sched_hangup +5 ALLOTTED_TIMEOUT'" in bridge


@run
async def test_FreeSwitchChannel_reject_and_hangup_causes():
    result, record, _ = await run_flow(make_flow({"r": {"op": "reject", "reason": "busy"}}), {})
    assert apps(record) == ["respond"] and record.hangup_cause == "USER_BUSY"
    result, record, _ = await run_flow(make_flow({"h": {"op": "hangup", "cause": 21}}), {},
                                       call_options={"channel_name": "loopback/1-b"})
    assert record.apps[-1] == ("hangup", "CALL_REJECTED") and record.hangup_cause == "CALL_REJECTED"


def test_hangup_cause_accepts_codes_aliases_and_names():
    assert hangup_cause(None) == "NORMAL_CLEARING" and hangup_cause(17) == "USER_BUSY"
    assert hangup_cause("busy") == "USER_BUSY" and hangup_cause("no-answer") == "NO_ANSWER"
    assert hangup_cause("originator_cancel") == "ORIGINATOR_CANCEL"
    with pytest.raises(ChannelError, match="unknown hang-up cause"):
        hangup_cause("whatever")


@run
async def test_FreeSwitchChannel_conference():
    flow = make_flow({"c": {"op": "conference", "room": "team-1", "muted": True}})
    scenario = {"conference": {"team-1": {"talk": 20}}}
    result, record, _ = await run_flow(flow, scenario)
    await same_as_fake_channel(flow, scenario, result)
    assert ("conference", "team-1@default+flags{mute}") in record.apps


@pytest.mark.parametrize("state, message", [
    ({"op": "queue", "name": "support"}, "queue is not supported on FreeSWITCH"),
    ({"op": "speech", "timeout": 3}, "speech input is not supported on FreeSWITCH"),
])
@run
async def test_FreeSwitchChannel_refuses_what_it_cannot_do_with_a_clear_error(state, message):
    flow = make_flow({"s": state, "x": {"op": "say", "text": "x"}})
    result, record, _ = await run_flow(flow, {})
    error = next(e for e in result.events if e["op"] == "error")
    assert error["code"] == "E_CHANNEL" and message in error["message"]
    assert ops(result)[-2:] == ["hangup", "end"]


@run
async def test_FreeSwitchChannel_a_failed_playback_is_an_error_and_the_call_ends(caplog):
    flow = make_flow({"p": {"op": "play", "url": "/missing.wav", "next": "q"}, "q": {"op": "say", "text": "never"}})
    result, record, _ = await run_flow(flow, {}, call_options={"missing": ("/missing.wav",)})
    error = next(e for e in result.events if e["op"] == "error")
    assert error["code"] == "E_CHANNEL" and "FILE NOT FOUND" in error["message"]
    assert "speak" not in apps(record) and record.hung_up_by == "flow"


@run
async def test_FreeSwitchChannel_a_refused_sendmsg_is_an_error():
    result, record, _ = await run_flow(make_flow({"a": {"op": "say", "text": "hi"}}), {},
                                       call_options={"refuse_sendmsg": "-ERR memory error"})
    error = next(e for e in result.events if e["op"] == "error")
    assert "refused answer: -ERR memory error" in error["message"]


@run
async def test_FreeSwitchChannel_garbage_from_the_switch_ends_that_call_as_a_hangup(caplog):
    flow = make_flow({"p": {"op": "play", "url": "/long.wav"}})
    caplog.set_level(logging.WARNING, "flowengine.freeswitch")
    result, record, channel = await run_flow(
        flow, {"media": {"/long.wav": 60}}, fake_options={"time_scale": 0.01},
        setup=lambda call: call.fake.spawn(once_playing(call, lambda: call.send_garbage(b"\x00\xffnot ESL\n\n"))))
    assert result.reason == "caller_hangup" and channel.failure.startswith("protocol error")
    assert sum("protocol error" in r.message for r in caplog.records) == 1


async def once_playing(call, action) -> None:
    """Run `action` once the call's first app started (the fake sleeps through a long prompt)."""
    while len(call.record.apps) < 2:
        await asyncio.sleep(0.005)
    action()


@run
async def test_FreeSwitchChannel_a_dropped_connection_ends_the_call():
    flow = make_flow({"p": {"op": "play", "url": "/long.wav", "next": "q"}, "q": {"op": "say", "text": "x"}})
    result, record, channel = await run_flow(flow, {"media": {"/long.wav": 60}}, fake_options={"time_scale": 0.01},
                                             setup=lambda call: call.fake.spawn(once_playing(call, call.stop)))
    assert result.reason == "caller_hangup" and channel.failure is None
    assert ops(result)[-2:] == ["hangup", "end"]


@run
async def test_FreeSwitchChannel_a_deadline_breaks_the_running_app():
    flow = make_flow({"p": {"op": "play", "url": "/long.wav", "next": "q"}, "q": {"op": "say", "text": "late"},
                      "bye": {"op": "say", "text": "Time is up", "next": "end"}, "end": {"op": "hangup"}},
                     lifetime=0.2, handlers={"lifetime": "bye"})
    result, record, _ = await run_flow(flow, {"media": {"/long.wav": 60}}, fake_options={"time_scale": 0.05})
    assert [e["op"] for e in result.events][:2] == ["answer", "lifetime_expired"]  # the cut play is not reported
    assert any(e["op"] == "say" and e["text"] == "Time is up" for e in result.events)
    assert any(type(m).__name__ == "Command" and m.line.startswith("api uuid_break") for d, m in record.wire)
