"""Same flow + same caller behaviour = the same flow-level events on the fake channel and on the fake
Asterisk (times aside: the fake channel's clock is virtual, the fake switch's is scaled real time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.testing.fake_asterisk import run_on_fake_asterisk
from flowengine.testing.runner import simulate_async
from tests.helpers import make_flow

from .support import run

DEMO = Path(__file__).resolve().parents[3] / "flows" / "demo-menu.flow.json"
HTTP = {"*": {"status": 200}}

DEMO_SCENARIOS = {
    "sales answers": {"caller": ["1"], "dial": {"+15551112222": {"status": "answer", "after": 4, "talk": 12}}},
    "invalid then sales busy, leaves a message": {
        "caller": ["9", "1", {"record": 7, "keys": "#"}], "dial": {"*": "busy"}},
    "silent caller": {"caller": ["timeout", "timeout"]},
    "support queue answered": {"caller": ["2"], "queue": {"support": {"status": "answered", "after": 3, "talk": 5}}},
    "support queue timeout": {"caller": ["2"], "queue": {"support": {"status": "timeout", "after": 30}}},
    "barge-in on the menu prompt": {"caller": [{"keys": "0", "at": 2.5}], "dial": {"*": "no-answer"}},
    "caller hangs up at the menu": {"caller": ["hangup"]},
    "caller hangs up mid-prompt": {"caller": ["timeout"], "hangup_at": 3},
    "caller hangs up during the bridge": {"caller": ["1"], "dial": {"*": {"status": "answer", "talk": 60}},
                                          "hangup_at": 20},
}


def events_without_time(transcript) -> list[dict]:
    return [{k: v for k, v in event.items() if k != "t"} for event in transcript.events]


async def both(flow, scenario: dict):
    scenario = {"http": HTTP, **scenario}
    reference = await simulate_async(flow, scenario)
    live, record = await run_on_fake_asterisk(flow, scenario)
    return events_without_time(reference), events_without_time(live), record


@pytest.mark.parametrize("name", list(DEMO_SCENARIOS))
def test_demo_menu_same_events_on_fake_channel_and_fake_asterisk(name):
    @run
    async def case():
        reference, live, record = await both(DEMO, DEMO_SCENARIOS[name])
        assert live == reference
        assert record.closed_by_server and not record.held  # the socket was closed by us, not held open
    case()


COLLECT_FLOW = {
    "ask": {"op": "collect", "prompts": [{"op": "say", "text": "Enter your account number"},
                                         {"op": "silence", "seconds": 1},
                                         {"op": "say_digits", "digits": "42"}],
            "max_digits": 6, "timeout": 4, "inter_digit_timeout": 2, "finish_on_key": "*", "result": "account",
            "edges": {"ok": "thanks", "timeout": "ask_again", "invalid": "ask_again"}, "min_digits": 3},
    "ask_again": {"op": "collect", "prompts": [{"op": "play", "url": "https://cdn.example.com/again.wav"}],
                  "max_digits": 1, "choices": ["1", "2"], "barge_in": False,
                  "edges": {"match:1": "thanks", "match:2": "bye"}},
    "thanks": {"op": "say", "text": "Thanks", "next": "bye"},
    "bye": {"op": "hangup", "cause": "normal"},
}

COLLECT_SCENARIOS = {
    "finish key star": {"caller": ["1234*"]},
    "too short then a choice": {"caller": ["12*", "2"]},
    "barge into the silence": {"caller": [{"keys": "9876*", "at": 1.9}]},
    "keys during a prompt without barge-in are lost": {"caller": ["timeout", {"keys": "1", "at": 1}]},
    "inter-digit timeout": {"caller": ["5555"]},
}


@pytest.mark.parametrize("name", list(COLLECT_SCENARIOS))
def test_collect_variants_same_events(name):
    @run
    async def case():
        flow = make_flow(COLLECT_FLOW)
        scenario = {**COLLECT_SCENARIOS[name], "media": {"https://cdn.example.com/again.wav": 2}}
        reference, live, _ = await both(flow, scenario)
        assert live == reference
    case()


API_FLOW = {
    "call_agent": {"op": "dial", "targets": ["+15550001000"], "timeout": 30, "edges": {"answered": "menu"}},
    "menu": {"op": "collect", "prompts": [{"op": "say", "text": "Press 1 to accept"}], "choices": ["1"],
             "edges": {"match:1": "thanks"}},
    "thanks": {"op": "say", "text": "Connecting", "next": "bye"},
    "bye": {"op": "hangup"},
}


@pytest.mark.parametrize("scenario", [
    {"call": {"trigger": "api"}, "caller": ["1"], "dial": {"+15550001000": "answer"}},
    {"call": {"trigger": "api"}, "dial": {"*": "busy"}},
], ids=["answered", "busy"])
def test_api_started_flow_same_events(scenario):
    @run
    async def case():
        flow = make_flow(API_FLOW, entry={"api": "call_agent"})
        reference, live, _ = await both(flow, scenario)
        assert live == reference
    case()


def test_flow_wall_clock_starts_at_the_scenarios_time():
    @run
    async def case():
        flow = make_flow({"when": {"op": "set", "name": "at", "value": {"$expr": "var", "src": "now"}}})
        live, _ = await run_on_fake_asterisk(flow, {"call": {"at": "2026-03-31T09:15:00Z"}})
        assert next(e for e in live.events if e["op"] == "set")["value"].startswith("2026-03-31T09:15:00")
    case()
