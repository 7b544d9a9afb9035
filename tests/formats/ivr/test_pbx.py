"""The hosted-PBX importer (seed 004 resources -> unified IVR), mapping table 2.9."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowengine import formats
from flowengine.errors import FlowError
from flowengine.testing.runner import simulate
from tests.formats.ivr._ivr import brief, ev

FIXTURE = Path(__file__).parent / "fixtures" / "acme.pbx.json"


def convert(data: dict | None = None):
    text = FIXTURE.read_text() if data is None else json.dumps(data, indent=1)
    return formats.get("pbx").convert(text, "export.pbx.json")


def export() -> dict:
    return json.loads(FIXTURE.read_text())


def diagnostics(data: dict) -> list:
    with pytest.raises(FlowError) as info:
        convert(data)
    return info.value.diagnostics


def test_ids_become_names_and_settings_map_per_table_2_9():
    menu, flow = convert()
    data = menu.data
    assert data["entry"] == "main" and data["sleep_ms"] == 500 and data["lifetime_s"] == 600
    assert data["on_lifetime"] == [{"hangup": {}}]
    assert data["voicemail"] == {"enabled": True, "greeting": "vm_greeting", "profile": "default",
                                 "mailto": "ops@example.com", "attach_file": True}
    assert data["sounds"]["welcome"] == {"file": "welcome.wav"}
    assert data["intervals"]["office_hours"] == {"timezone": "Europe/London",
                                                 "conditions": [{"days": "mon-fri", "time": "08:30:00-18:00:00"}]}
    main = data["contexts"]["main"]
    assert (main["timeout_ms"], main["inter_digit_timeout_ms"], main["max_failures"]) == (5000, 2000, 0)
    assert main["options"]["2"][0] == {"final": False, "transfer": {"to": ["101", "102"], "timeout_s": 20}}
    assert main["options"]["2"][1] == {"when": {"call_status": "no_answer"}, "voicemail": {}}
    assert main["options"]["timeout"] == [{"hangup": {}}] and main["options"]["invalid"] == [{"hangup": {}}]
    assert main["options"]["start"][1] == {"when": {"interval": "office_hours"}, "play": {"sound": "menu_office",
                                                                                            "mode": "bg"}}
    assert main["options"]["9"] == [{"webhook": {"url": "https://crm.example.com/ivr", "method": "POST",
                                                 "timeout_ms": 2000}}]
    assert flow.dialect == "pbx"


def test_the_export_runs_directly_as_a_flow():
    t = simulate(formats.load(str(FIXTURE)), {"call": {"at": "2026-03-31T10:00:00Z"}, "caller": ["2", {"record": 3}],
                                              "dial": {"*": "no-answer"}})
    assert brief(t)[:6] == ["answer", "silence 0.5", "play welcome.wav", "play menu.wav", "collect '2' max_digits",
                            "dial 101,102 no-answer"]
    assert "play vm.wav" in brief(t) and ev(t, "record")


def test_no_input_and_a_wrong_key_hang_up_as_on_the_pbx():
    flow = formats.load(str(FIXTURE))
    assert brief(simulate(flow, {"caller": ["timeout"]}))[-2:] == ["hangup flow normal", "end hangup"]
    assert brief(simulate(flow, {"caller": ["7"]}))[-3:] == ["collect '7' max_digits", "hangup flow normal",
                                                            "end hangup"]


def test_the_sub_context_is_reached_by_jump_to_context():
    t = simulate(formats.load(str(FIXTURE)), {"caller": ["1", "1"], "dial": {"*": "answer"}})
    assert "silence 0.3" in brief(t) and "dial +15551112222 answered" in brief(t)


def test_datetime_intervals_and_caller_conditions():
    data = export()
    data["intervals"][0]["conditions"] = [{"start_datetime": "2026-12-24T18:00:00", "end_datetime": "2026-12-27T08:00:00"}]
    data["rules"]["10"]["1"][0].update({"caller_id_action": "not_matches", "caller_id": "\\+1900.*",
                                        "match_variable_name": "lang", "match_variable_value": "en"})
    menu, _ = convert(data)
    assert menu.data["intervals"]["office_hours"]["conditions"] == [{"dates": "2026-12-24 18:00:00..2026-12-27 08:00:00"}]
    assert menu.data["contexts"]["main"]["options"]["1"][0]["when"] == {"caller_id": {"not_match": "\\+1900.*"},
                                                                       "var": {"lang": "en"}}


@pytest.mark.parametrize("change, code, message", [
    (lambda d: d["rules"]["10"]["1"][0].update(action="jump_to_contex"), "E_PBX", "did you mean 'jump_to_context'"),
    (lambda d: d["rules"]["10"]["1"][0].update(context=99), "E_PBX", "unknown context id 99"),
    (lambda d: d["rules"]["10"]["1"][0].update(colour="red"), "E_IMPORT_FIELD", "unknown rule field 'colour'"),
    (lambda d: d["intervals"][0]["conditions"][0].update(sched_active_days=3), "E_PBX_UNSUPPORTED", "scheduled days"),
    (lambda d: d["intervals"][0]["conditions"][0].pop("end_dow"), "E_PBX", "start_dow and end_dow go together"),
    (lambda d: d["rules"]["10"].update({"5": []}), "E_PBX", "rules for option '5'"),
    (lambda d: d["rules"]["10"]["2"][0].pop("transfer_dst"), "E_PBX", "transfer needs 'transfer_dst'"),
    (lambda d: d["rules"]["10"]["9"][0].update(call_interactive_timeout=60000), "E_IVR_SCHEMA", "60000"),
    (lambda d: d["contexts"][0].update(digit_len=1) or d["options"]["10"].append({"digits": "42"}),
     "E_IVR_DIGIT_LEN", "'42' has 2 digits"),
])
def test_source_problems_are_reported_at_the_source_line(change, code, message):
    data = export()
    change(data)
    found = [d for d in diagnostics(data) if d.is_error]
    assert found[0].code == code and message in found[0].message, [d.render() for d in found]
    assert found[0].span.file == "export.pbx.json" and found[0].span.line > 1


def test_play_sound_from_variable_is_flagged_with_the_variable_it_uses():
    data = export()
    data["rules"]["10"]["start"][0]["play_sound_from_variable"] = True
    menu, flow = convert(data)
    assert menu.data["contexts"]["main"]["options"]["start"][0]["play"]["sound_var"] == "sound_file"
    assert any(w.code == "W_PBX_GUESS" for w in menu.warnings)
