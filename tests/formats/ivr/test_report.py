"""The per-call IVR record (spec 2.7): path, inputs, attributes, outcome, exit and duration."""

from __future__ import annotations

import pytest

from flowengine.formats.ivr.report import call_report
from flowengine.testing.scenario import load_scenario
from tests.formats.ivr._ivr import menu
from flowengine.testing.runner import simulate

FLOW = """
entry: main
lifetime_s: 120
report_vars: [partner_id]
voicemail: {enabled: true}
contexts:
  main:
    options:
      start:
        - set_var: {partner_id: p7}
        - play: {tts: "Press 1 sales, 2 support, 3 messages, 4 info."}
      "1": [{transfer: {to: ["+15551112222"]}}]
      "2": [{goto: {context: support}}]
      "3": [{voicemail: {box: general}}]
      "4": [{play: {tts: "We are open nine to five."}}]
  support:
    options:
      start: [{play: {tts: "Support: press 1."}}]
      "1": [{queue: {name: support}}]
"""


def report(scenario: dict) -> dict:
    flow = menu(FLOW)
    sc = load_scenario(scenario)
    t = simulate(flow, sc)
    return call_report(flow, t.events, t.steps, t.variables, call_id=sc.call.call_id, started_at="2026-01-05T12:00:00Z")


def test_a_transfer_answered_is_transferred_to_agent():
    r = report({"caller": ["1"], "dial": {"*": "answer"}})
    assert r["outcome"] == "transferred_to_agent"
    assert r["exit"] == {"type": "transfer", "target": "+15551112222"}
    assert r["path"] == ["main:start", "main:1"] and r["inputs"] == ["1"]
    assert r["attributes"] == {"partner_id": "p7"}
    assert r["ivr_duration_s"] == 3.0  # answer -> the dial starts, after the 45-character prompt
    assert (r["ivr"], r["call_id"], r["started_at"]) == ("t", "00000000-0000-4000-8000-000000000001",
                                                         "2026-01-05T12:00:00Z")


def test_a_queue_answered_through_a_submenu():
    r = report({"caller": ["2", "timeout", "1"], "queue": {"support": "answered"}})
    assert r["path"] == ["main:start", "main:2", "support:start", "support:timeout", "support:start", "support:1"]
    assert r["inputs"] == ["2", "", "1"]
    assert (r["outcome"], r["exit"]) == ("transferred_to_agent", {"type": "queue", "target": "support"})


@pytest.mark.parametrize("scenario, outcome, exit_", [
    ({"caller": ["4"]}, "self_service_completed", {"type": "hangup", "target": "normal"}),
    ({"caller": ["3", {"record": 5}]}, "voicemail", {"type": "voicemail", "target": "general"}),
    ({"caller": ["hangup"]}, "abandoned", None),
    ({"caller": ["9", "9", "9"]}, "failed", {"type": "hangup", "target": "normal"}),        # exhausted
    ({"caller": ["1"], "dial": {"*": "busy"}}, "failed", {"type": "hangup", "target": "normal"}),  # final
    ({"caller": ["2", "1"], "queue": {"support": {"status": "answered", "after": 500}}}, "failed",
     {"type": "hangup", "target": "normal"}),                                                  # lifetime
])
def test_outcomes(scenario, outcome, exit_):
    r = report(scenario)
    assert (r["outcome"], r["exit"]) == (outcome, exit_)


def test_an_abandoned_call_counts_its_time_until_the_caller_left():
    r = report({"caller": ["timeout", "hangup"]})
    assert r["outcome"] == "abandoned" and r["exit"] is None and r["inputs"] == [""]
    assert r["ivr_duration_s"] == 8.0  # 3 s of prompt, 5 s of silence, then the caller hangs up
