"""Every action of table 2.3 and its parameters, by what the caller would hear and the switch would do."""

from __future__ import annotations

import json

from tests.formats.ivr._ivr import brief, ev, run


def steps(*lines: str, extra: str = "", scenario: dict | None = None):
    """Run `start` steps (one YAML flow mapping per line) of a single-context menu."""
    body = "\n".join(f"        - {line}" for line in lines)
    text = f"entry: main\n{extra}\ncontexts:\n  main:\n    options:\n      start:\n{body}\n".replace("\n        -", "\n        -")
    return run(text.replace("      start:\n        ", "      start:\n        "), scenario)


def test_play_a_catalogue_sound_a_file_and_tts_with_the_default_voice():
    t = steps("{play: {sound: hello}}", "{play: {sound: bye, loop: 2}}", "{play: {file: 'https://x.example/a.wav'}}",
              "{play: {tts: Hi, language: fr-FR}}",
              extra="defaults: {tts: {voice: Joanna, engine: neural}}\n"
                    "sounds: {hello: {file: hello.wav}, bye: {tts: Bye, voice: Matthew}}")
    plays = [e for e in t.events if e["op"] in ("play", "say")]
    assert [(e["op"], e.get("url") or e.get("text"), e.get("voice"), e.get("engine"), e.get("language"))
            for e in plays] == [
        ("play", "hello.wav", None, None, None),
        ("say", "Bye", "Matthew", "neural", None), ("say", "Bye", "Matthew", "neural", None),
        ("play", "https://x.example/a.wav", None, None, None),
        ("say", "Hi", "Joanna", "neural", "fr-FR"),
    ]


def test_play_with_prosody_is_ssml():
    t = steps("{play: {tts: 'Soft & slow', prosody: {volume: soft, rate: slow}}}")
    say = ev(t, "say")[0]
    assert say["text"] == '<speak><prosody volume="soft" rate="slow">Soft &amp; slow</prosody></speak>'
    assert say["ssml"] is True


def test_play_sound_var_plays_the_variables_file_when_it_is_set():
    flow = ["{play: {sound: menu, sound_var: greeting_file}}"]
    extra = "sounds: {menu: {file: menu.wav}}"
    unset = steps(*flow, extra=extra)
    set_ = steps(*flow, extra=extra, scenario={"call": {"variables": {"greeting_file": "vip.wav"}}})
    assert [e["url"] for e in ev(unset, "play")] == ["menu.wav"]
    assert [e["url"] for e in ev(set_, "play")] == ["vip.wav"]


def test_silence_and_say_digits():
    t = steps("{silence: {ms: 1500}}", "{say_digits: {digits: '123'}}",
              "{say_digits: {var: account, method: pronounced}}",
              scenario={"call": {"variables": {"account": "4711"}}})
    assert brief(t)[1:4] == ["silence 1.5", "say_digits 123", "say_digits 4711"]
    assert [e["method"] for e in ev(t, "say_digits")] == ["iterated", "pronounced"]


def test_collect_sets_its_variable_and_empty_when_too_few_digits():
    flow = ["{collect: {var: pin, max_digits: 4, min_digits: 4, terminator: '#', timeout_ms: 3000, "
            "prompt: {tts: 'Your PIN?'}}}", "{play: {tts: 'PIN ${pin}'}}"]
    ok = steps(*flow, scenario={"caller": ["1234"]})
    short = steps(*flow, scenario={"caller": ["12#"]})
    assert brief(ok)[1:5] == ["say Your PIN?", "collect '1234' max_digits", "set pin=1234", "say PIN 1234"]
    assert ev(ok, "collect")[0]["timeout"] == 3 and ev(ok, "collect")[0]["finish_on_key"] == "#"
    assert brief(short)[2:5] == ["collect '12' finish_key", "set pin=", "say PIN"]


def test_set_var_assigns_in_order_with_interpolation():
    t = steps("{set_var: {first: a, second: '${first}b', third: '${caller_id_number}'}}",
              scenario={"call": {"from": "+15550001"}})
    assert brief(t)[1:4] == ["set first=a", "set second=ab", "set third=+15550001"]


def test_set_caller_id_is_what_later_transfers_present():
    t = steps("{set_caller_id: {name: Acme, number: '+15550009999'}}", "{transfer: {to: ['101']}}",
              scenario={"dial": {"*": "answer"}})
    dial = ev(t, "dial")[0]
    assert (dial["caller_id"], dial["caller_name"]) == ("+15550009999", "Acme")
    assert not ev(t, "set")


def test_transfer_rings_all_destinations_together_with_its_caller_id_and_timeout():
    t = steps("{transfer: {to: ['101', '+15551234567', 'sip:ops@pbx.example.com'], timeout_s: 12, "
              "caller_id: {number: '+15550001111'}}}", scenario={"dial": {"sip:ops@pbx.example.com": "answer"}})
    dial = ev(t, "dial")[0]
    assert dial["targets"] == ["101", "+15551234567", "sip:ops@pbx.example.com"]
    assert (dial["timeout"], dial["caller_id"], dial["answered_by"]) == (12, "+15550001111", "sip:ops@pbx.example.com")


def test_transfer_from_a_variable_and_the_default_timeout():
    t = steps("{transfer: {var: agent}}", extra="defaults: {transfer_timeout_s: 45}",
              scenario={"call": {"variables": {"agent": "205"}}, "dial": {"*": "answer"}})
    assert (ev(t, "dial")[0]["targets"], ev(t, "dial")[0]["timeout"]) == (["205"], 45)


def test_transfer_on_answer_plays_to_the_answered_party_before_the_bridge():
    t = steps("{transfer: {to: ['101'], on_answer: [{play: {tts: 'Call from the IVR'}}, {send_dtmf: {digits: '1w2'}}]}}",
              scenario={"dial": {"*": "answer"}})
    assert [(e["op"], e["leg"]) for e in t.events][1:5] == [("dial", "A"), ("say", "B"), ("send_dtmf", "B"),
                                                            ("bridge", "A")]


def test_transfer_on_agent_hangup_runs_when_the_agent_ends_the_call():
    flow = "{transfer: {to: ['101'], on_agent_hangup: [{play: {tts: 'Anything else?'}}]}}"
    agent_ends = steps(flow, scenario={"dial": {"*": {"status": "answer", "hangup": "callee"}}})
    caller_ends = steps(flow, scenario={"dial": {"*": {"status": "answer", "hangup": "caller"}}})
    assert brief(agent_ends)[-3:] == ["say Anything else?", "hangup flow normal", "end hangup"]
    assert "say Anything else?" not in brief(caller_ends)


def test_send_dtmf():
    t = steps("{send_dtmf: {digits: '12#W3'}}")
    assert ev(t, "send_dtmf")[0]["digits"] == "12#W3" and ev(t, "send_dtmf")[0]["t"] == 2.0  # 0.25 s a key, W = 1 s


def test_queue_answered_ends_the_call_and_its_handlers_run_on_other_outcomes():
    flow = ("{queue: {name: support, max_wait_s: 90, exit_key: '9', on_timeout: [{play: {tts: busy}}], "
            "on_no_agents: [{play: {tts: nobody}}], on_exit_key: [{play: {tts: left}}]}}")
    after = "{play: {tts: after}}"
    answered = steps(flow, after, scenario={"queue": {"support": "answered"}})
    timeout = steps(flow, after, scenario={"queue": {"support": "timeout"}})
    nobody = steps(flow, after, scenario={"queue": {"support": "no_agents"}})
    left = steps(flow, after, scenario={"queue": {"support": "exit:9"}})
    assert brief(answered)[1:] == ["queue support answered", "hangup flow normal", "end hangup"]
    assert ev(timeout, "queue")[0]["t"] == 90  # waited max_wait_s
    assert [e["text"] for e in ev(timeout, "say")] == ["busy", "after"]
    assert [e["text"] for e in ev(nobody, "say")] == ["nobody", "after"]
    assert [e["text"] for e in ev(left, "say")] == ["left", "after"]


def test_queue_without_a_handler_is_a_failed_dial_for_final_and_call_status():
    t = steps("{final: false, queue: {name: sales}}", "{when: {call_status: no_answer}, play: {tts: 'no answer'}}",
              "{when: {call_status: failed}, play: {tts: 'failed'}}", scenario={"queue": {"sales": "timeout"}})
    assert [e["text"] for e in ev(t, "say")] == ["no answer"]


def test_voicemail_greets_records_logs_and_hangs_up():
    t = steps("{voicemail: {box: sales, greeting: vm, profile: record_silence, mailto: s@example.com, attach_file: false}}",
              "{play: {tts: never}}", extra="sounds: {vm: {tts: 'Leave a message.'}}",
              scenario={"caller": [{"record": 8}]})
    assert brief(t)[1:5] == ["say Leave a message.", "record",
                             "log voicemail box=sales mailto=s@example.com attach_file=false url=https://rec.example/rec_001.wav",
                             "hangup flow normal"]
    record = ev(t, "record")[0]
    assert (record["beep"], record["duration"], record["reason"]) == (True, 8, "silence")
    assert record["t"] == round(ev(t, "say")[0]["t"] + 8 + 3, 3)  # record_silence: 3 s of silence ends it


def test_hangup_with_a_cause():
    assert brief(steps("{hangup: {cause: busy}}"))[-2] == "hangup flow busy"


def test_webhook_get_sends_the_core_fields_and_params_as_a_query():
    t = steps("{webhook: {url: 'https://crm.example.com/hook', params: {lang: '${lang}'}}}", extra="vars: {lang: de}")
    http = ev(t, "http")[0]
    assert http["method"] == "GET" and "body" not in http
    assert http["params"] == {"event": "call_interactive", "call_id": "00000000-0000-4000-8000-000000000001",
                              "caller_id_number": "+15550000001", "caller_id_name": "", "called_number": "+15550000002",
                              "ivr": "t", "context": "main", "option": "start", "digits": "", "lang": "de"}


def test_webhook_post_sends_json_with_all_variables():
    t = steps("{set_var: {tier: gold}}", "{webhook: {url: 'https://crm.example.com/hook', method: POST, params: {a: b}}}",
              extra="vars: {lang: de}")
    body = json.loads(ev(t, "http")[0]["body"])
    assert body["vars"] == {"lang": "de", "tier": "gold"} and body["params"] == {"a": "b"}
    assert body["event"] == "call_interactive" and body["context"] == "main"


def test_record_starts_and_stops_background_recording():
    t = steps("{record: {legs: caller}}", "{play: {tts: hi}}", "{record: {action: stop}}")
    assert [e["op"] for e in t.events][1:4] == ["record_start", "say", "record_stop"]


def test_survey_sets_the_rating_and_thanks():
    t = steps("{survey: {var: score, max_rate: 3, attempts: 1, prompt: {tts: 'Rate 1 to 3'}, finish_sound: thanks}}",
              extra="sounds: {thanks: {tts: Thanks}}", scenario={"caller": ["3"]})
    assert brief(t)[1:5] == ["say Rate 1 to 3", "collect '3' max_digits", "set score=3", "say Thanks"]


def test_speech_menu_routes_by_phrase_and_falls_back_to_keys():
    flow = """
entry: main
contexts:
  main:
    options:
      start:
        - speech_menu:
            prompt: {tts: "Say sales or support."}
            rules:
              - {phrases: [sales, "buy something"], goto: {context: sales}}
              - {phrases: [support], goto: {context: main, option: "2"}}
        - play: {tts: "Press 2 for support."}
      "2": [{play: {tts: "support"}}]
  sales:
    options: {start: [{play: {tts: "sales"}}]}
"""
    said = run(flow, {"caller": [{"speech": "I want to buy something now"}]})
    keyed = run(flow, {"caller": ["2"]})
    silent = run(flow, {"caller": ["timeout", "hangup"]})
    assert ev(said, "speech")[0]["text"] == "I want to buy something now" and ev(said, "say")[-1]["text"] == "sales"
    assert ev(said, "speech")[0]["hints"] == ["sales", "buy something", "support"]
    assert ev(keyed, "say")[-1]["text"] == "support"
    # nothing heard: the next step (the menu, whose prompt the caller hangs up on) runs
    assert [e["text"] for e in ev(silent, "say")] == ["Say sales or support."]
    assert brief(silent)[-3:] == ["collect '' hangup", "hangup caller", "end caller_hangup"]
