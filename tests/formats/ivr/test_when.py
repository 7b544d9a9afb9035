"""`when` conditions (spec 2.4): each kind, negation, and several fields together."""

from __future__ import annotations

import pytest

from tests.formats.ivr._ivr import ev, run

FLOW = """
entry: main
timezone: Europe/Paris
intervals:
  weekend: {conditions: [{days: sat-sun}]}
  lunch: {timezone: UTC, conditions: [{time: "12:00-13:00"}]}
contexts:
  main:
    options:
      start:
        - {when: WHEN, play: {tts: "yes"}}
        - play: {tts: "end"}
"""


def holds(when: str, **call) -> bool:
    t = run(FLOW.replace("WHEN", when), {"call": call} if call else {})
    return [e["text"] for e in ev(t, "say")][0] == "yes"


@pytest.mark.parametrize("when, call, expected", [
    ("{interval: weekend}", {"at": "2026-04-04T10:00:00Z"}, True),           # a Saturday
    ("{interval: weekend}", {"at": "2026-04-03T21:59:00Z"}, False),          # Friday 23:59 in Paris
    ("{interval: weekend}", {"at": "2026-04-03T22:00:00Z"}, True),           # Saturday 00:00 in Paris
    ("{interval: [weekend, lunch]}", {"at": "2026-04-01T12:30:00Z"}, True),  # any of the intervals
    ("{interval: [weekend, lunch]}", {"at": "2026-04-01T13:00:00Z"}, False),
    ("{caller_id: anonymous}", {"from": "anonymous"}, True),
    ("{caller_id: anonymous}", {"from": "Restricted"}, True),
    ("{caller_id: anonymous}", {"from": ""}, True),
    ("{caller_id: anonymous}", {"from": "+15550001"}, False),
    ("{caller_id: any}", {"from": "+15550001"}, True),
    ("{caller_id: {match: '\\+44.*'}}", {"from": "+442079460000"}, True),
    ("{caller_id: {match: '\\+44'}}", {"from": "+442079460000"}, False),  # full match, not a prefix
    ("{caller_id: {not_match: '\\+44.*'}}", {"from": "+15550001"}, True),
    ("{called: {match: '\\+1800.*'}}", {"to": "+18005550000"}, True),
    ("{var: {lang: fr}}", {"variables": {"lang": "fr"}}, True),
    ("{var: {lang: fr}}", {"variables": {"lang": "en"}}, False),
    ("{var: {lang: ''}}", {}, True),                                           # "" tests unset
    ("{var: {lang: fr, tier: gold}}", {"variables": {"lang": "fr"}}, False),   # every pair
    ("{not: {var: {lang: fr}}}", {"variables": {"lang": "fr"}}, False),
    ("{interval: weekend, caller_id: anonymous}", {"at": "2026-04-04T10:00:00Z", "from": "+1555"}, False),
    ("{interval: weekend, caller_id: anonymous}", {"at": "2026-04-04T10:00:00Z", "from": "anonymous"}, True),
    ("{call_status: any}", {}, True),
    ("{repeat: false}", {}, True),
])
def test_when(when, call, expected):
    assert holds(when, **call) is expected
