"""Generic IR additions made for IVR menus, usable by any dialect:

prompt `enabled` / per-prompt `barge_in` (and Say.engine), `set.silent`, `dial.caller_name`,
`dial/queue.ends_lifetime`, and the `document` op's `json_body`, `inherit` and result.
"""

from __future__ import annotations

import json

from flowengine.ir import decode
from flowengine.ir.codec import encode
from flowengine.testing.runner import simulate
from tests.helpers import ops, run

MENU = {
    "menu": {"op": "collect", "prompts": [
        {"op": "say", "text": "Legal notice first.", "barge_in": False},
        {"op": "say", "text": "Holiday hours apply.", "enabled": {"$expr": "calc", "src": "holiday == 'yes'"}},
        {"op": "say", "text": "Press 1.", "engine": "neural"},
    ], "choices": ["1"], "edges": {"match:1": "bye"}},
    "bye": {"op": "hangup"},
}


def says(t):
    return [(e["text"], e.get("interrupted", False)) for e in t.events if e["op"] == "say"]


def test_a_disabled_prompt_is_skipped():
    assert says(run(MENU, {"caller": ["1"]})) == [("Legal notice first.", False), ("Press 1.", False)]
    with_holiday = run(MENU, {"caller": ["1"], "call": {"variables": {"holiday": "yes"}}})
    assert [text for text, _ in says(with_holiday)][1] == "Holiday hours apply."


def test_keys_during_a_prompt_without_barge_in_are_discarded():
    t = run(MENU, {"caller": [{"keys": "1", "at": 0.5}, "hangup"]})
    assert says(t) == [("Legal notice first.", False), ("Press 1.", False)]
    assert [(e["digits"], e["reason"]) for e in t.events if e["op"] == "collect"] == [("", "timeout")]


def test_keys_during_a_later_prompt_barge_in():
    t = run(MENU, {"caller": [{"keys": "1", "at": 1.5}]})
    assert says(t) == [("Legal notice first.", False), ("Press 1.", True)]


def test_say_engine_is_in_the_event_and_the_ir_round_trips():
    t = run(MENU, {"caller": ["1"]})
    assert [e.get("engine") for e in t.events if e["op"] == "say"] == [None, "neural"]
    flow = decode({"entry": "menu", "states": MENU})
    assert decode(encode(flow)) == flow


def test_a_disabled_media_op_plays_nothing():
    t = run({"a": {"op": "play", "url": "x.wav", "enabled": False, "next": "b"}, "b": {"op": "hangup"}})
    assert ops(t) == ["hangup", "end"]


def test_a_silent_set_assigns_without_an_event():
    t = run({"a": {"op": "set", "name": "n", "value": 1, "silent": True, "next": "b"},
             "b": {"op": "say", "text": {"$expr": "template", "src": "n=${n}"}}})
    assert ops(t) == ["answer", "say", "hangup", "end"] and t.events[1]["text"] == "n=1"


def test_dial_presents_a_caller_name():
    t = run({"d": {"op": "dial", "targets": ["101"], "caller_id": "+1555", "caller_name": "Acme"}},
            {"dial": {"*": "answer"}})
    dial = next(e for e in t.events if e["op"] == "dial")
    assert (dial["caller_id"], dial["caller_name"]) == ("+1555", "Acme")


LIFETIME = {"a": {"op": "say", "text": "hello"}, "q": {"op": "queue", "name": "support", "ends_lifetime": True},
            "d": {"op": "dial", "targets": ["101"], "ends_lifetime": True}, "life": {"op": "say", "text": "time up"}}


def flow_with(first: str):
    states = {k: dict(v) for k, v in LIFETIME.items()}
    states["a"]["next"] = first
    return decode({"entry": "a", "states": states, "lifetime": 10, "handlers": {"lifetime": "life"}})


def test_a_queue_with_ends_lifetime_is_left_when_the_lifetime_ends_while_waiting():
    t = simulate(flow_with("q"), {"queue": {"support": {"status": "answered", "after": 30}}})
    assert [(e["op"], e.get("status"), e["t"]) for e in t.events if e["op"] in ("queue", "lifetime_expired")] == [
        ("queue", "timeout", 10.0), ("lifetime_expired", None, 10.0)]


def test_an_answered_queue_or_dial_with_ends_lifetime_outlives_it():
    queued = simulate(flow_with("q"), {"queue": {"support": {"status": "answered", "after": 5, "talk": 60}}})
    dialled = simulate(flow_with("d"), {"dial": {"*": {"status": "answer", "talk": 60}}})
    for t in (queued, dialled):
        assert "lifetime_expired" not in ops(t) and t.events[-1]["t"] > 60


def test_without_ends_lifetime_the_lifetime_cuts_the_conversation():
    states = {k: dict(v) for k, v in LIFETIME.items()}
    states["a"]["next"] = "d"
    states["d"].pop("ends_lifetime")
    t = simulate(decode({"entry": "a", "states": states, "lifetime": 10, "handlers": {"lifetime": "life"}}),
                 {"dial": {"*": {"status": "answer", "talk": 60}}})
    assert "lifetime_expired" in ops(t)


def test_document_sends_a_json_body_binds_its_result_and_gives_the_loader_the_flow():
    seen = {}

    def loader(body, content_type, url, fmt, parent=None, origin=None):
        seen.update(parent=parent, origin=origin, fmt=fmt)
        return decode({"entry": "x", "states": {"x": {"op": "say", "text": "loaded"}}})

    flow = decode({"entry": "doc", "states": {
        "doc": {"op": "document", "url": "https://x.example/", "mode": "call", "inherit": True, "format": "ir",
                "json": {"who": {"$expr": "var", "src": "call.from"}}, "result": "r", "next": "after"},
        "after": {"op": "say", "text": {"$expr": "template", "src": "status ${r.status}"}}}})
    from flowengine.channels.fake import FakeChannel, FakeHttp
    from flowengine.runtime.clock import VirtualClock
    from flowengine.runtime.interpreter import Interpreter
    from flowengine.testing.scenario import load_scenario
    import asyncio

    scenario = load_scenario({"http": {"*": {"status": 200, "body": "{}"}}})
    clock = VirtualClock(scenario.call.at)
    interpreter = Interpreter(flow, FakeChannel(scenario.world, clock), call=scenario.call, clock=clock,
                              http=FakeHttp(scenario.world, clock), loader=loader)
    result = asyncio.run(interpreter.run())
    http = next(e for e in result.events if e["op"] == "http")
    assert json.loads(http["body"]) == {"who": "+15550000001"}
    assert [e["text"] for e in result.events if e["op"] == "say"] == ["loaded", "status 200"]
    assert seen == {"parent": flow, "origin": "doc", "fmt": "ir"}
