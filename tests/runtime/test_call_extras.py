"""Generic IR/runtime capabilities added for InboundXML, exercised as plain IR flows (any dialect may use them):
dial ringback, heartbeat, hang-up key and machine detection; recording format, trimming and transcription;
non-waiting conference joins; picture messages; speech grammars; Clock.every."""

import asyncio

from tests.helpers import make_flow, ops, run

from flowengine.channels.fake import FakeChannel, World
from flowengine.runtime.channel import SpeechRequest
from flowengine.runtime.clock import RealClock, VirtualClock
from flowengine.runtime.interpreter import Interpreter

DIAL = {"op": "dial", "targets": ["+15551112222"], "result": "d"}


def ev(t, op):
    return [e for e in t.events if e["op"] == op]


def test_dial_ringback_is_requested_and_shown():
    t = run({"d": {**DIAL, "ringback": "https://cdn.example.com/hold.mp3"}}, {"dial": {"*": "busy"}})
    assert ev(t, "dial")[0]["ringback"] == "https://cdn.example.com/hold.mp3"


def test_dial_heartbeat_ticks_during_the_bridge_at_their_own_times():
    heartbeat = {"url": "https://x.example/hb", "method": "GET", "interval": 10,
                 "params": {"who": {"$expr": "var", "src": "call.from"}}}
    t = run({"d": {**DIAL, "heartbeat": heartbeat}}, {"dial": {"*": {"status": "answer", "after": 1, "talk": 35}}})
    beats = ev(t, "http")
    assert [(e["t"], e["method"], e["params"]) for e in beats] == [
        (11.0, "GET", {"who": "+15550000001"}), (21.0, "GET", {"who": "+15550000001"}),
        (31.0, "GET", {"who": "+15550000001"})]
    assert ev(t, "bridge")[0]["t"] == 36.0


def test_dial_hangup_key_pressed_by_the_dialling_leg():
    t = run({"d": {**DIAL, "hangup_key": "#", "edges": {"answered": "s"}}, "s": {"op": "say", "text": "back"}},
            {"caller": [{"keys": "#", "at": 4}], "dial": {"*": {"status": "answer", "after": 1, "talk": 60}}})
    (bridge,) = ev(t, "bridge")
    assert (bridge["t"], bridge["ended_by"], bridge["key"]) == (5.0, "A", "#")
    assert [e["leg"] for e in ev(t, "hangup")] == ["B", "A"]
    assert ops(t)[-3] == "say"


def test_dial_hangup_key_other_keys_do_not_end_the_bridge():
    t = run({"d": {**DIAL, "hangup_key": "*"}}, {"caller": ["1"], "dial": {"*": {"status": "answer", "talk": 9}}})
    assert ev(t, "bridge")[0]["ended_by"] == "B"


def test_dial_hangup_key_caller_hangs_up_at_once():
    t = run({"d": {**DIAL, "hangup_key": "*"}}, {"caller": ["hangup"], "dial": {"*": "answer"}})
    assert ev(t, "hangup")[0] == {"t": 2.0, "leg": "A", "op": "hangup", "by": "caller"}


def test_dial_machine_detection():
    flow_states = {"d": {**DIAL, "detect_machine": True, "edges": {"answered": "b"}},
                   "b": {"op": "branch", "cases": [{"key": "m", "when": {"$expr": "var", "src": "d.machine"}}],
                         "edges": {"match:m": "m"}},
                   "m": {"op": "log", "message": "machine"}}
    t = run(flow_states, {"dial": {"*": {"status": "answer", "machine": True, "talk": 1}}})
    assert ev(t, "dial")[0]["machine"] is True and ev(t, "log")[0]["message"] == "machine"
    t = run(flow_states, {"dial": {"*": {"status": "answer", "talk": 1}}})
    assert ev(t, "dial")[0]["machine"] is False and ev(t, "log") == []
    t = run({"d": DIAL}, {"dial": {"*": {"status": "answer", "machine": True, "talk": 1}}})
    assert "machine" not in ev(t, "dial")[0]  # not detected unless asked


def test_record_format_trim_and_transcription():
    t = run({"r": {"op": "record", "format": "mp3", "trim_silence": True, "transcribe": "en-US", "result": "r",
                   "next": "l"},
             "l": {"op": "log", "message": {"$expr": "var", "src": "r.transcription"}}},
            {"caller": [{"record": 3, "text": "call me back"}]})
    (record,) = ev(t, "record")
    assert record["url"].endswith(".mp3") and record["transcription"] == "call me back"
    assert ev(t, "log")[0]["message"] == "call me back"
    t = run({"r": {"op": "record"}}, {"caller": [{"record": 3, "text": "ignored"}]})
    assert "transcription" not in ev(t, "record")[0] and ev(t, "record")[0]["url"].endswith(".wav")


def test_record_start_format():
    t = run({"r": {"op": "record_start", "format": "mp3"}})
    assert ev(t, "record_start")[0]["url"].endswith(".mp3")


def test_record_start_without_format_calls_a_channel_that_does_not_know_it():
    class OldChannel(FakeChannel):
        async def record_start(self, leg, legs):  # the protocol before format/trim_silence existed
            return await super().record_start(leg, legs)

    clock = VirtualClock()
    flow = make_flow({"r": {"op": "record_start"}})
    result = asyncio.run(Interpreter(flow, OldChannel(World(), clock), clock=clock).run())
    assert [e["op"] for e in result.events][:2] == ["answer", "record_start"]


def test_conference_join_without_waiting_and_deaf():
    t = run({"j": {"op": "conference", "room": "r", "wait": False, "deaf": True, "next": "s"},
             "s": {"op": "say", "text": "joined"}})
    assert ev(t, "conference")[0] == {"t": 0.0, "leg": "A", "op": "conference", "room": "r"}
    assert ev(t, "say")[0]["t"] == 0.4


def test_sms_media():
    t = run({"m": {"op": "sms", "to": "+15551112222", "body": "pic", "media": ["https://cdn.example.com/p.png"]}})
    assert ev(t, "sms")[0]["media"] == ["https://cdn.example.com/p.png"]
    t = run({"m": {"op": "sms", "to": "+15551112222", "body": "text"}})
    assert "media" not in ev(t, "sms")[0]


def test_speech_grammar_and_beep_reach_the_channel():
    seen: list[SpeechRequest] = []

    class Recording(FakeChannel):
        async def speech(self, leg, request):
            seen.append(request)
            return await super().speech(leg, request)

    clock = VirtualClock()
    flow = make_flow({"s": {"op": "speech", "grammar": "https://x.example/yes.grxml", "beep": True}})
    asyncio.run(Interpreter(flow, Recording(World(), clock), clock=clock).run())
    assert (seen[0].grammar, seen[0].beep) == ("https://x.example/yes.grxml", True)


def test_virtual_clock_every_replays_ticks_inside_the_operation():
    clock = VirtualClock()
    seen = []

    async def operation():
        clock.advance_ms(25_000)
        return "done"

    async def tick():
        seen.append(clock.ms)

    assert asyncio.run(clock.every(10, operation(), tick)) == "done"
    assert seen == [10_000, 20_000] and clock.ms == 25_000


def test_real_clock_every_ticks_while_the_operation_runs_and_stops_after():
    clock = RealClock()
    seen = []

    async def tick():
        seen.append(round(clock.now(), 2))

    async def main():
        result = await clock.every(0.02, asyncio.sleep(0.07, "done"), tick)
        await asyncio.sleep(0.05)
        return result

    assert asyncio.run(main()) == "done"
    assert 2 <= len(seen) <= 4


def test_every_op_field_default_fits_its_annotation():
    # Building an op skips the check of values that are the field's own default; this keeps that safe.
    from dataclasses import MISSING

    from flowengine.ir.model import OPS, op_fields
    from flowengine.ir.values import type_error

    for cls in OPS.values():
        for f, tp in op_fields(cls):
            if f.default is not MISSING:
                assert type_error(f.default, tp, allow_expr=False) is None, (cls.kind, f.name)


def test_document_fallback_is_fetched_with_the_same_params_when_the_fetch_fails():
    doc = {"op": "document", "url": "https://x.example/main.xml", "params": {"k": "v"},
           "fallback": {"$expr": "var", "src": "call.fallback_url"}}
    body = "<Response><Say>from the fallback</Say></Response>"
    t = run({"d": doc}, {"call": {"fallback_url": "https://x.example/fb.xml"},
                         "http": {"https://x.example/main.xml": {"status": 500},
                                  "https://x.example/fb.xml": {"status": 200, "body": body}}})
    assert [(e["op"], e.get("url"), e.get("params")) for e in t.events[:3]] == [
        ("http", "https://x.example/main.xml", {"k": "v"}), ("error", None, None),
        ("http", "https://x.example/fb.xml", {"k": "v"})]
    assert ev(t, "say")[0]["text"] == "from the fallback"
    t = run({"d": doc}, {"http": {"*": {"status": 500}}})  # no fallback URL: just the one failure
    assert [e["op"] for e in t.events] == ["http", "error", "hangup", "end"]
