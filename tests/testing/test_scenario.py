from datetime import datetime, timezone

import pytest

from flowengine.errors import ScenarioError
from flowengine.testing.scenario import load_scenario, load_scenario_text


def problems(text: str, filename: str = "s.yaml"):
    with pytest.raises(ScenarioError) as exc:
        load_scenario_text(text, filename)
    return exc.value.diagnostics


def test_defaults():
    scenario = load_scenario(None)
    assert scenario.call.trigger == "inbound-call"
    assert (scenario.call.from_, scenario.call.to) == ("+15550000001", "+15550000002")
    assert scenario.call.at == datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
    assert (scenario.limits.max_time, scenario.limits.max_steps) == (3600, 10_000)


def test_full_spec_example_loads():
    text = '''
call:
  trigger: inbound-call
  from: "+15551230000"
  from_name: Alice
  to: "+15559870000"
  at: "2026-03-31T09:15:00Z"
  variables: {$target: "+15551112222"}
  method: POST
  fallback_url: https://example.com/fallback.xml
  status_callback: https://example.com/status
caller:
  - "1"
  - timeout
  - hangup
  - {keys: "2", at: 1.5}
  - {record: 7, keys: "#"}
  - {speech: "sales", confidence: 0.92}
hangup_at: 300
dial:
  "+15551112222": answer
  "+15553334444": {status: answer, after: 4, talk: 30, hangup: callee, inputs: ["1"]}
  "*": no-answer
queue:
  support: answered
  sales: {status: answered, after: 20, talk: 60}
http:
  "POST https://example.com/menu": {status: 200, content_type: text/xml, body: "<Response><Say>Hi</Say></Response>"}
  "https://example.com/lookup":    [{status: 200, json: {vip: true}}, {status: 500}]
  "https://slow.example.com/":     {timeout: true}
  "*": {status: 200, body: ""}
media: {"https://cdn.example.com/welcome.wav": 4.5}
limits: {max_time: 3600, max_steps: 10000}
'''
    scenario = load_scenario_text(text)
    assert scenario.call.variables == {"$target": "+15551112222"}
    assert scenario.call.extra["fallback_url"] == "https://example.com/fallback.xml"
    assert [i.kind for i in scenario.world.caller] == ["keys", "timeout", "hangup", "keys", "record", "speech"]
    assert scenario.world.caller[4].talk == 7 and scenario.world.caller[4].keys == "#"
    assert scenario.world.dial["+15553334444"].inputs[0].keys == "1"
    assert scenario.world.http["https://example.com/lookup"][0].body == '{"vip":true}'
    assert scenario.world.queue["sales"].talk == 60 and scenario.world.hangup_at == 300


def test_unknown_key_with_suggestion_at_its_line():
    (d,) = problems("call:\n  tigger: api\n")
    assert d.code == "E_SCENARIO" and d.span.line == 2 and "did you mean 'trigger'" in d.message
    assert d.render().startswith("s.yaml:2:3: error[E_SCENARIO]:")


def test_unquoted_number_gets_a_hint():
    (d,) = problems("call:\n  from: +15551230000\n")
    assert "expected string" in d.message and "quote" in d.hint


def test_bad_enum_and_bad_caller_entry():
    found = problems('call: {trigger: phone}\ncaller: ["1", {keys: "x"}]\n')
    assert {d.span.line for d in found} == {1, 2}
    assert any("not one of" in d.message for d in found)


def test_bad_date():
    (d,) = problems('call: {at: "yesterday"}\n')
    assert "ISO 8601" in d.message and d.span.line == 1


def test_missing_scenario_file():
    with pytest.raises(ScenarioError) as exc:
        load_scenario("/no/such/scenario.yaml")
    assert exc.value.diagnostics[0].code == "E_IO"


def test_json_scenario_errors_have_positions():
    (d,) = problems('{\n  "hangup_at": "soon"\n}', "s.json")
    assert d.span.line == 2


@pytest.mark.parametrize("text, message", [
    ("hangup_at: .inf\n", "hangup_at: expected number, got Infinity"),
    ("limits: {max_time: .nan}\n", "limits/max_time: expected number, got NaN"),
    ('caller: ["1", {record: 1e308}]\n', "caller/1/record: 1e+308 is greater than the maximum of 1000000000"),
    ('dial: {"*": {status: answer, talk: 1e308}}\n', "dial/*/talk: 1e+308 is greater than the maximum"),
    ('call: {at: "9999-12-31T23:59:59Z"}\n', "out of range: call times are between the years 1900 and 9000"),
])
def test_numbers_and_times_a_virtual_clock_cannot_hold_are_refused(text, message):
    (d,) = problems(text)
    assert d.code == "E_SCENARIO" and message in d.message and d.span.line == 1
