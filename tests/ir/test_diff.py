"""`flowengine diff` (flowengine/ir/diff.py): states and edges added, removed, changed — by behaviour."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import given, settings

from flowengine.cli import main
from flowengine.ir import decode, encode
from flowengine.ir.diff import diff_flows
from tests.ir.flowgen import ir_flows

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "flows" / "demo-menu.flow.json").read_text())


def changes(old: dict, new: dict) -> list[tuple[str, str, str]]:
    return [(c.kind, c.subject, c.detail) for c in diff_flows(decode(old), decode(new)).changes]


def edited(**edits) -> dict:
    data = copy.deepcopy(DEMO)
    for path, value in edits.items():
        *parents, last = path.split("__")
        target = data
        for key in parents:
            target = target[key]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return data


def test_same_flow_has_no_differences():
    assert changes(DEMO, copy.deepcopy(DEMO)) == []
    assert diff_flows(decode(DEMO), decode(DEMO)).to_text() == "no semantic differences\n"


def test_positions_names_and_meta_are_not_behaviour():
    new = copy.deepcopy(DEMO)
    new["name"] = "renamed"
    new["meta"] = {"owner": "ops"}
    for state in new["states"].values():
        state["span"] = {"file": "elsewhere.xml", "line": 99, "col": 1}
    assert changes(DEMO, new) == []


def test_field_edge_and_state_changes():
    new = edited(states__menu__timeout=8, states__thanks__text="Thanks!", states__saved=None)
    new["states"]["record"]["edges"]["ok"] = "goodbye"
    new["states"]["operator"]["edges"]["no-answer"] = "voicemail"
    new["states"]["sorry"] = {"op": "say", "text": "Sorry.", "next": "goodbye"}
    new["states"]["menu_again"]["edges"]["invalid"] = "sorry"
    assert changes(DEMO, new) == [
        ("changed", "state", "state menu: timeout 5 → 8"),
        ("changed", "edge", "state menu_again: edge invalid → goodbye now → sorry"),
        ("changed", "edge", "state record: edge ok → saved now → goodbye"),
        ("removed", "state", 'state saved (say "Thank you, your message was saved.")'),
        ("changed", "edge", "state operator: edge no-answer → goodbye now → voicemail"),
        ("changed", "state", 'state thanks: text "Thank you for calling Acme." → "Thanks!"'),
        ("added", "state", 'state sorry (say "Sorry.")'),
    ]


def test_an_op_kind_change_is_one_change():
    new = edited(states__voicemail={"op": "play", "url": "https://cdn.example.com/busy.wav", "next": "record"})
    assert changes(DEMO, new) == [
        ("changed", "state", 'state voicemail: say "Sales is busy. Please leave a message … → play '
                             '"https://cdn.example.com/busy.wav"')]


def test_renamed_states_are_paired_by_structure():
    new = copy.deepcopy(DEMO)
    text = json.dumps(new).replace('"welcome"', '"greeting"').replace('"menu"', '"main_menu"')
    result = diff_flows(decode(DEMO), decode(json.loads(text)))
    assert result.changes == []
    assert result.pairs["welcome"] == "greeting" and result.pairs["menu"] == "main_menu"


def test_every_state_renamed_as_from_another_dialect():
    rename = {sid: f"step{i}" for i, sid in enumerate(reversed(list(DEMO["states"])))}
    new = copy.deepcopy(DEMO)
    new["entry"] = rename[new["entry"]]
    new["handlers"] = {h: rename[t] for h, t in new["handlers"].items()}
    states = {}
    for sid, state in new["states"].items():
        if "next" in state:
            state["next"] = rename[state["next"]]
        state["edges"] = {o: rename[t] for o, t in state.get("edges", {}).items()}
        states[rename[sid]] = state
    new["states"] = dict(reversed(list(states.items())))
    result = diff_flows(decode(DEMO), decode(new))
    assert result.changes == [] and result.pairs == rename


def test_goto_states_are_jumps_not_behaviour():
    new = copy.deepcopy(DEMO)
    new["states"]["to_goodbye"] = {"op": "goto", "next": "goodbye"}
    new["states"]["thanks"]["next"] = "to_goodbye"
    assert changes(DEMO, new) == []
    new["states"]["to_goodbye"]["next"] = "hangup"
    assert changes(DEMO, new) == [("changed", "edge", "state thanks: edge ok → goodbye now → hangup")]


def test_entry_handlers_variables_and_settings():
    new = edited(handlers={"hangup": "report", "error": "goodbye"}, variables={"department": "none", "vip": False},
                 lifetime=600, answer="start")
    new["entry"] = {"inbound-call": "welcome", "api": "sales_dial"}
    assert changes(DEMO, new) == [
        ("removed", "entry", "entry → welcome"),
        ("added", "entry", "entry api → sales_dial"),
        ("added", "entry", "entry inbound-call → welcome"),
        ("added", "handler", "handler error → goodbye"),
        ("changed", "variable", 'variable department: "" → "none"'),
        ("added", "variable", "variable vip = false"),
        ("changed", "setting", "lifetime: (none) → 600.0"),
        ("changed", "setting", 'answer: "auto" → "start"'),
    ]


@settings(max_examples=60, deadline=None)
@given(ir_flows())
def test_a_flow_equals_itself_after_a_round_trip(data):
    flow = decode(data)
    assert diff_flows(flow, decode(encode(flow))).changes == []


@settings(max_examples=60, deadline=None)
@given(ir_flows(), ir_flows())
def test_diff_never_raises(a, b):
    result = diff_flows(decode(a), decode(b))
    assert set(result.pairs) <= set(a["states"]) and set(result.pairs.values()) <= set(b["states"])
    result.to_text()
    json.dumps(result.to_json())


def test_cli_diff(tmp_path, capsys):
    old = tmp_path / "old.flow.json"
    new = tmp_path / "new.flow.json"
    old.write_text(json.dumps(DEMO))
    new.write_text(json.dumps(edited(states__menu__timeout=8)))
    assert main(["diff", str(old), str(old)]) == 0
    assert "no semantic differences" in capsys.readouterr().out
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert f"--- {old}\n+++ {new}\n~ state menu: timeout 5 → 8  ({new}:" in out
    assert "states: 0 added, 0 removed, 1 changed" in out
    assert main(["diff", "--format", "json", str(old), str(new)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["changes"][0]["kind"] == "changed" and report["changes"][0]["old"] == "menu"
    assert main(["diff", str(old), str(tmp_path / "missing.flow.json")]) == 2
    assert "E_IO" in capsys.readouterr().err
