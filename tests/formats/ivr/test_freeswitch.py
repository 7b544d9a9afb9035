"""The FreeSWITCH ivr.conf importer: switch_ivr_menu.c semantics on the unified model."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowengine import formats
from flowengine.errors import FlowError
from flowengine.testing.runner import simulate
from tests.formats.ivr._ivr import brief, ev

DEMO = Path(__file__).parent / "fixtures" / "ivr.conf.xml"


def xml(menus: str) -> str:
    return f'<configuration name="ivr.conf" description="IVR menus">\n  <menus>\n{menus}\n  </menus>\n</configuration>\n'


def convert(text: str, **options):
    return formats.get("fs-ivr").convert(text, "ivr.conf.xml", **options)


def run(text: str, scenario: dict, **options):
    return simulate(convert(text, **options)[1], scenario)


def errors(text: str) -> list:
    with pytest.raises(FlowError) as info:
        convert(text)
    return [d for d in info.value.diagnostics if d.is_error]


SIMPLE = xml("""
    <menu name="main" greet-long="say:Long greeting" greet-short="say:Short" invalid-sound="invalid.wav"
          exit-sound="goodbye.wav" timeout="4000" max-failures="2">
      <entry action="menu-play-sound" digits="1" param="say:You pressed one"/>
      <entry action="menu-exit" digits="0"/>
    </menu>""")


def test_defaults_follow_switch_ivr_menu():
    menu, _ = convert(xml('    <menu name="m" greet-long="g.wav">\n      <entry action="menu-top" digits="1"/>\n    </menu>'))
    ctx = menu.data["contexts"]["m"]
    assert (ctx["timeout_ms"], ctx["inter_digit_timeout_ms"], ctx["max_failures"], ctx["max_timeouts"]) == (
        10000, 5000, 3, 3)
    assert (ctx["digit_len"], ctx["terminator"], ctx["early_match"]) == (1, "#", False)


def test_greet_long_first_greet_short_on_replays():
    t = run(SIMPLE, {"caller": ["1", "timeout", "0"]})
    assert [e["text"] for e in ev(t, "say")] == ["Long greeting", "You pressed one", "Short", "Short"]


def test_invalid_sound_only_after_a_wrong_key_and_exit_sound_when_the_menu_gives_up():
    t = run(SIMPLE, {"caller": ["7", "timeout", "timeout"]})
    assert [e.get("url") or e.get("text") for e in t.events if e["op"] in ("say", "play")] == [
        "Long greeting", "invalid.wav", "Short", "Short", "goodbye.wav"]


def test_timeouts_and_failures_have_separate_limits():
    text = SIMPLE.replace('max-failures="2"', 'max-failures="2" max-timeouts="3"')
    # two timeouts then a wrong key: 2 timeouts (< 3), 1 failure (< 2): still in the menu
    t = run(text, {"caller": ["timeout", "timeout", "7", "hangup"]})
    assert brief(t)[-2:] == ["hangup caller", "end caller_hangup"]
    t = run(text, {"caller": ["7", "1", "8", "hangup"]})  # errs reset by the match: 1, 0, 1
    assert brief(t)[-2:] == ["hangup caller", "end caller_hangup"]
    t = run(text, {"caller": ["7", "8"]})
    assert brief(t)[-3:] == ["play goodbye.wav", "hangup flow normal", "end hangup"]


def test_no_early_match_input_waits_for_digit_len_or_the_inter_digit_timeout():
    t = run(DEMO.read_text(), {"caller": ["2", "hangup"]})
    collect = ev(t, "collect")[0]
    assert (collect["digits"], collect["reason"], collect["max_digits"]) == ("2", "timeout", 4)


def test_sub_menus_back_top_and_exit():
    demo = DEMO.read_text()
    back = run(demo, {"caller": ["2", "*", "timeout"]})
    assert [e["text"] for e in ev(back, "say")][:3] == [
        "Welcome. Press 1 for sales, 2 for the sub menu, 9 to repeat.", "Sub menu. Press star to go back.",
        "Welcome. Press 1 for sales, 2 for the sub menu, 9 to repeat."]  # back to the parent: greet-long again
    gives_up = run(demo, {"caller": ["2", "timeout", "timeout", "timeout", "timeout"]})
    assert [e["text"] for e in ev(gives_up, "say")][-1] == "Welcome. Press 1 for sales, 2 for the sub menu, 9 to repeat."
    exits = run(demo, {"caller": ["0"]})
    assert brief(exits)[-3:] == ["play voicemail/vm-goodbye.wav", "hangup flow normal", "end hangup"]


def test_exec_app_bridge_and_transfer_become_dials():
    text = xml("""
    <menu name="main" greet-long="say:Menu">
      <entry action="menu-exec-app" digits="1" param="bridge user/1001,sofia/gateway/carrier/15551112222"/>
      <entry action="menu-exec-app" digits="2" param="transfer 2000 XML default"/>
      <entry action="menu-exec-app" digits="3" param="bridge sofia/internal/bob@pbx.example.com"/>
      <entry action="menu-exec-app" digits="4" param="hangup USER_BUSY"/>
      <entry action="menu-exec-app" digits="5" param="playback ivr/info.wav"/>
      <entry action="menu-exec-app" digits="6" param="set lang=fr"/>
      <entry action="menu-exec-app" digits="7" param="speak flite|kal|Hello there"/>
      <entry action="menu-exec-app" digits="8" param="sleep 250"/>
    </menu>""")
    menu, flow = convert(text)
    options = menu.data["contexts"]["main"]["options"]
    assert options["1"] == [{"final": False, "transfer": {"to": ["1001", "+15551112222"]}}, {"goto": {"context": "main"}}]
    assert options["2"] == [{"transfer": {"to": ["2000"]}}]
    assert options["3"][0]["transfer"]["to"] == ["sip:bob@pbx.example.com"]
    assert options["4"] == [{"hangup": {"cause": "busy"}}]
    assert options["7"][0] == {"play": {"tts": "Hello there", "engine": "flite", "voice": "kal", "mode": "fg"}}
    t = simulate(flow, {"caller": ["1", "hangup"], "dial": {"*": "busy"}})
    assert brief(t)[3:5] == ["dial 1001,+15551112222 busy", "collect '' hangup"]  # failed bridge: menu again


def test_a_regex_entry_with_transfer_dollar_one_dials_what_was_typed():
    t = run(DEMO.read_text(), {"caller": ["1005"], "dial": {"1005": "answer"}})
    assert "dial 1005 answered" in brief(t)


def test_confirm_reads_the_entry_back_and_waits_for_the_key():
    text = SIMPLE.replace('max-failures="2"', 'max-failures="2" confirm-macro="confirm" confirm-key="#" '
                                                 'confirm-attempts="2"').replace('invalid-sound="invalid.wav" ', '')
    menu, flow = convert(text)
    assert any("phrase macro" in w.message for w in menu.warnings)
    confirmed = simulate(flow, {"caller": ["1", "#", "hangup"]})
    assert brief(confirmed)[2:6] == ["collect '1' max_digits", "say_digits 1", "collect '#' max_digits",
                                     "say You pressed one"]
    rejected = simulate(flow, {"caller": ["1", "2", "timeout", "hangup"]})
    assert "say You pressed one" not in brief(rejected) and brief(rejected)[5] == "say Short"


@pytest.mark.parametrize("menus, message", [
    ('<menu name="m" greet-long="phrase:demo_ivr_main_menu"><entry action="menu-top" digits="1"/></menu>',
     "phrase macros"),
    ('<menu name="m"><entry action="menu-exec-app" digits="1" param="voicemail default x 1000"/></menu>',
     "menu-exec-app 'voicemail' is not supported"),
    ('<menu name="m"><entry action="menu-say-phrase" digits="1" param="x"/></menu>', "unsupported entry action"),
    ('<menu name="m"><entry action="menu-sub" digits="1" param="nope"/></menu>', "menu-sub names no menu 'nope'"),
    ('<menu name="m" greet-lung="x.wav"/>', "did you mean 'greet-long'"),
    ('<menu name="m" pin="1234"/>', "PINs"),
    ('<menu name="m"><entry action="menu-exec-app" digits="1" param="bridge sofia/$${domain}/888@x"/></menu>',
     "pre-processor"),
    ('<menu name="m"><entry action="menu-exec-app" digits="/^9(.*)$/" param="transfer $1"/></menu>',
     "regex digits are supported once per menu"),
    ('<menu name="m" confirm-macro="c"><entry action="menu-top" digits="1"/></menu>', "needs a one-key confirm-key"),
])
def test_what_flowengine_cannot_run_is_refused_clearly(menus, message):
    found = errors(xml(menus))
    assert message in found[0].message and found[0].span.line >= 3, [d.render() for d in found]


def test_xml_is_parsed_safely():
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><configuration><menus/></configuration>'
    assert errors(bomb)[0].code == "E_XML"
    assert errors("<configuration><menus><menu name='m'></menus>")[0].code == "E_XML"


def test_the_entry_menu_can_be_named():
    menu, _ = convert(DEMO.read_text(), entry="demo_ivr_submenu")
    assert menu.data["entry"] == "demo_ivr_submenu"
