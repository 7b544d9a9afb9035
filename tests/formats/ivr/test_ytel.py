"""The Ytel IVR JSON importer (inboundxml.md §6) and the execution rules it adopts ([G], see ytel.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine import formats
from flowengine.errors import FlowError
from flowengine.testing.runner import simulate
from tests.formats.ivr._ivr import brief, ev

SEED = Path(__file__).parent / "fixtures" / "seed.ytel.json"


def ivr() -> dict:
    return json.loads(SEED.read_text())


def convert(data: dict):
    return formats.get("ytel-ivr").convert(json.dumps(data, indent=1), "menu.ytel.json")


def errors(data: dict) -> list:
    with pytest.raises(FlowError) as info:
        convert(data)
    return [d for d in info.value.diagnostics if d.is_error]


def test_the_seed_example_plays_the_greeting_once_then_the_entry_menu():
    t = simulate(formats.load(str(SEED)), {"caller": ["timeout", "1"]})
    says = [e["text"] for e in ev(t, "say")]
    assert says == ["Overall greeting", "Menu 1", "Option 1", "Menu 1", "Option 1", "Action 1"]
    assert ev(t, "say")[0]["voice"] == "en-au-premium-female-1" and ev(t, "say")[0]["language"] == "en-AU"
    assert ev(t, "collect")[0]["timeout"] == 3 and brief(t)[-3:] == ["set ytel_workflow=<UUID>",
                                                                     "hangup flow normal", "end hangup"]


def test_max_attempts_then_hang_up():
    t = simulate(formats.load(str(SEED)), {"caller": ["5", "timeout", "7", "1"]})
    assert len(ev(t, "collect")) == 3 and brief(t)[-2:] == ["hangup flow normal", "end hangup"]


def test_actions_map_in_order_and_dial_goes_on_when_unanswered():
    data = ivr()
    data["menus"][1]["options"] = [
        {"say": "Sales", "dtmfKey": 1, "actions": [{"type": "dial", "value": "+15551112222"},
                                                  {"type": "say", "value": "Nobody answered"},
                                                  {"type": "nextMenu", "value": "Menu 2"}]},
        {"say": "Bye", "dtmfKey": 2, "actions": [{"type": "play", "value": "https://cdn.example.com/bye.wav"},
                                                {"type": "hangup", "value": ""}]},
    ]
    menu, flow = convert(data)
    assert menu.data["contexts"]["menu_1"]["options"]["1"] == [
        {"final": False, "transfer": {"to": ["+15551112222"]}}, {"play": {"tts": "Nobody answered", "mode": "fg"}},
        {"goto": {"context": "menu_2"}}]
    t = simulate(flow, {"caller": ["1", "timeout"], "dial": {"*": "busy"}})
    assert [e["text"] for e in ev(t, "say")][-3:] == ["Nobody answered", "Menu 2", "Option 1"]
    t = simulate(flow, {"caller": [{"keys": "2", "at": 0.2}]})  # during "Menu 1": interrupts the prompts
    assert brief(t)[2:5] == ["say Menu 1 (interrupted)", "collect '2' max_digits", "play https://cdn.example.com/bye.wav"]


def test_the_get_envelope_with_one_ivr_is_accepted():
    menu, _ = convert({"status": True, "count": 1, "page": 1, "payload": [ivr()]})
    assert menu.data["name"] == "new-ivr" and menu.data["vars"] == {"ivr_version": "7"}


@pytest.mark.parametrize("change, message", [
    (lambda d: d["menus"][0].update(entry=True), "exactly one menu has entry: true (found 2)"),
    (lambda d: d["menus"][1]["options"][0]["actions"].insert(0, {"type": "hangup"}), "terminal action"),
    (lambda d: d["menus"][1]["options"][0]["actions"].append({"type": "dial", "value": "5551234"}), "not an E.164"),
    (lambda d: d["menus"][1]["options"][0]["actions"].append({"type": "nextMenu", "value": "Menu 9"}),
     "nextMenu 'Menu 9' names no menu"),
    (lambda d: d["menus"][1]["options"][0]["actions"].append({"type": "sms", "value": "x"}), "unknown action type 'sms'"),
    (lambda d: d["configurationOptions"].update(ttsVoice="en-au-premium-female-9"), "did you mean"),
    (lambda d: d["configurationOptions"].update(minDigits=2), "minDigits other than 1 is not supported"),
    (lambda d: d["menus"][1]["options"].append({"say": "x", "dtmfKey": 1, "actions": []}), "dtmfKey 1 is used twice"),
    (lambda d: d["menus"][1]["options"][0].update(dtmfKey=12), "dtmfKey 12 is not a key 0-9"),
    (lambda d: d["menus"][1].update(menuId="Menu 2"), "menuId 'Menu 2' is used twice"),
    (lambda d: d["menus"][1].update(colour="red"), "unknown menu field 'colour'"),
])
def test_invalid_definitions_are_refused_at_their_line(change, message):
    data = ivr()
    change(data)
    found = errors(data)
    assert message in found[0].message, [d.render() for d in found]
    assert found[0].span.file == "menu.ytel.json" and found[0].span.line > 1


def test_workflows_are_kept_in_a_variable_with_a_warning():
    menu, _ = convert(ivr())
    assert [w.code for w in menu.warnings] == ["W_YTEL_WORKFLOW", "W_YTEL_WORKFLOW"]
