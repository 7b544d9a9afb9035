"""Each action of the catalogue (digest §4.6): parameters, defaults, result objects, transcripts."""

import pytest

from tests.formats.actions10._a10 import brief, ev, ops, run, script


def main(*lines: str, head: str = "", extra: str = "") -> str:
    body = "\n".join("      " + line for line in lines)
    return f"{head}branches:\n  inbound-call:\n    actions:\n{body}\n{extra}"


def log_of(name: str) -> str:
    return "- {action: log@v1, params: {message: '${{ JSON.stringify(" + name + ") }}'}}"


def logged(t) -> list:
    import json

    return [json.loads(e["message"]) for e in ev(t, "log")]


def test_answer_ringing_hangup():
    t = run(main("- action: ringing@v1", "- action: answer@v1", "- action: answer@v1",
                 "- action: hangup@v1", "  params: {cause: 17}", "- action: say@v2", "  params: {what: never}",
                 head="defaults: {autoAnswer: false}\n"))
    assert brief(t) == [
        {"leg": "A", "op": "ringing"}, {"leg": "A", "op": "answer"},
        {"leg": "A", "op": "hangup", "by": "flow", "cause": 17}, {"leg": "A", "op": "end", "reason": "hangup"}]


@pytest.mark.parametrize("params, head, language, voice", [
    ("{what: ' Hi  '}", "", "en-US", None),
    ("{what: Hi, language: de-DE}", "defaults: {language: fr-FR}\n", "de-DE", None),
    ("{what: Hi, voice: TTS_EN-GB_SERENA}", "defaults: {language: fr-FR}\n", "en-GB", "TTS_EN-GB_SERENA"),
    ("{what: Hi}", "defaults: {language: fr-FR, voice: TTS_IT-IT_PAOLO}\n", "it-IT", "TTS_IT-IT_PAOLO"),
    ("{what: Hi, voice: '${{ \"TTS_NL-BE_\" + \"ELLEN\" }}'}", "", "nl-BE", "TTS_NL-BE_ELLEN"),
    ("{what: Hi, voice: custom}", "defaults: {language: fr-FR}\n", "fr-FR", "custom"),
])
def test_say_language_rules(params, head, language, voice):
    say = ev(run(main("- action: say@v2", f"  params: {params}", head=head)), "say")[0]
    assert (say["text"], say["language"], say.get("voice")) == ("Hi", language, voice)


def test_say_text_is_always_text_and_trimmed():
    t = run(main("- action: say@v2", "  params:", "    what: |", "      ${{ 6 * 7 }}", ""))
    assert ev(t, "say")[0]["text"] == "42"


def test_play_media_id_url_loop_and_dynamic():
    t = run(main("- action: play@v1", "  params: {media: 131, loop: 2}",
                 "- action: play@v1", "  params: {media: 'https://cdn.example/a.mp3'}",
                 "- action: play@v1", "  params: {media: '${{ 100 + 32 }}'}"),
            {"media": {"131": 1.5}})
    assert [(e["url"], e["t"]) for e in ev(t, "play")] == [("131", 1.5), ("131", 3.0),
                                                            ("https://cdn.example/a.mp3", 6.0), ("132", 9.0)]


@pytest.mark.parametrize("keys, params, result", [
    ("42", "{maxDigits: 2}", {"ok": True, "digits": "42", "reason": "maxDigits"}),
    ("4#", "{maxDigits: 4, minDigits: 2}", {"ok": False, "digits": "4", "reason": "finishOnKey"}),
    ("123*", "{maxDigits: 8, finishOnKey: '*'}", {"ok": True, "digits": "123", "reason": "finishOnKey"}),
    ("timeout", "{maxDigits: 4}", {"ok": False, "digits": "", "reason": "timeout"}),
])
def test_gather_result(keys, params, result):
    t = run(main("- action: gather@v2", f"  params: {params}", "  result: $g", log_of("$g")), {"caller": [keys]})
    assert logged(t) == [result]


def test_gather_prompt_timeout_and_no_finish_key():
    t = run(main("- action: gather@v2",
                 "  params: {maxDigits: 3, timeout: 7, finishOnKey: '', prompt: {what: Code?, language: fr-FR}}"),
            {"caller": ["12"]})
    assert brief(t)[1:3] == [
        {"leg": "A", "op": "say", "text": "Code?", "language": "fr-FR"},
        {"leg": "A", "op": "collect", "max_digits": 3, "timeout": 7, "digits": "12", "reason": "timeout"}]
    assert ev(t, "collect")[0]["t"] == 0.333 + 7


def test_record_result_and_defaults():
    t = run(main("- action: record@v1", "  result: $r", log_of("$r")), {"caller": [{"record": 7, "keys": "#"}]})
    assert brief(t)[1] == {"leg": "A", "op": "record", "max_length": 120, "finish_on_key": "#", "beep": True,
                           "duration": 7, "url": "https://rec.example/rec_001.wav", "reason": "finish_key"}
    assert logged(t) == [{"ok": True, "duration": 7, "sid": "rec_001", "url": "https://rec.example/rec_001.wav"}]
    t = run(main("- action: record@v1", "  params: {maxDuration: 5, beep: false}", "  result: $r", log_of("$r.ok")),
            {"caller": ["timeout"]})
    assert logged(t) == [False]


def test_dial_tries_targets_in_order_with_a_leg_each():
    t = run(main("- action: dial@v1",
                 "  params: {targets: [{number: '+15550000011', timeout: 10}, {number: '+15550000012'}]}",
                 "  result: $d", log_of("$d")),
            {"dial": {"+15550000011": "no-answer", "+15550000012": {"status": "answer", "after": 3, "talk": 20}}})
    assert brief(t)[:5] == [
        {"leg": "A", "op": "answer"},
        {"leg": "A", "op": "dial", "targets": ["+15550000011"], "caller_id": "+33639980042", "timeout": 10,
         "status": "no-answer", "new_leg": "B"},
        {"leg": "A", "op": "dial", "targets": ["+15550000012"], "caller_id": "+33639980042", "timeout": 30,
         "status": "answered", "answered_by": "+15550000012", "new_leg": "C"},
        {"leg": "A", "op": "bridge", "with": "C", "duration": 20.0, "ended_by": "C"},
        {"leg": "C", "op": "hangup", "by": "callee"}]
    result = logged(t)[0]
    assert {k: result[k] for k in ("ok", "status", "number", "attempts", "duration")} == \
        {"ok": True, "status": "ANSWER", "number": "+15550000012", "attempts": 2, "duration": 20}
    assert result["cdr"]["callee"] == "+15550000012" and result["cdr"]["durationAnswered"] == 20


@pytest.mark.parametrize("world, status", [("busy", "BUSY"), ("no-answer", "NOANSWER"), ("failed", "CHANUNAVAIL")])
def test_dial_failure_statuses(world, status):
    t = run(main("- action: dial@v1", "  params: {targets: [{number: '+15550000011'}], cli: BLOCKED}",
                 "  result: $d", log_of("[$d.ok, $d.status, $d.number, $d.attempts]")), {"dial": {"*": world}})
    assert logged(t) == [[False, status, "+15550000011", 1]]
    assert ev(t, "dial")[0]["caller_id"] == "BLOCKED"


def test_dial_answer_on_branch_binds_the_result_first_then_completes():
    t = run(main("- action: dial@v1",
                 "  params: {targets: [{number: '+15550000011'}], answerOnBranch: up}",
                 "  result: $d", log_of('["after", $d.status]'),
                 extra="  up:\n    actions:\n      - action: say@v2\n        params: {what: 'for ${{ $d.number }}'}\n"
                       "      - action: bridge@v1\n"),
            {"dial": {"*": {"status": "answer", "talk": 10}}})
    assert [(e["op"], e["leg"]) for e in t.events] == [
        ("answer", "A"), ("dial", "A"), ("say", "B"), ("bridge", "B"), ("hangup", "B"), ("log", "A"),
        ("hangup", "A"), ("end", "A")]
    assert ev(t, "say")[0]["text"] == "for +15550000011"
    assert logged(t) == [["after", "ANSWER"]]


def test_dial_from_an_api_run_gives_the_frame_its_focus():
    t = run("branches:\n  api-initiated:\n    actions:\n"
            "      - action: dial@v1\n        params: {targets: [{number: '+15550000011'}]}\n"
            "      - action: say@v2\n        params: {what: Hello}\n", {"call": {"trigger": "api"},
                                                                      "dial": {"*": "answer"}})
    assert [(e["op"], e["leg"]) for e in t.events] == [("dial", "A"), ("say", "A"), ("hangup", "A"), ("end", "A")]
    assert ev(t, "dial")[0]["caller_id"] == "BLOCKED"


def test_dial_targets_from_an_expression():
    t = run(main("- action: dial@v1", "  params: {targets: '${{ $team }}'}", "  result: $d", log_of("$d.attempts"),
                 head="variables:\n  $team: [{number: '+15550000011', timeout: 5}, {number: '+15550000012'}]\n"),
            {"dial": {"+15550000011": "busy", "+15550000012": "answer"}})
    assert [(e["targets"], e["timeout"], e["status"], e["new_leg"]) for e in ev(t, "dial")] == [
        (["+15550000011"], 5, "busy", "B"), (["+15550000012"], 30, "answered", "C")]
    assert logged(t) == [2]
    t = run(main("- action: dial@v1", "  params: {targets: '${{ $team }}'}", "  result: $d",
                 log_of("[$d.ok, $d.attempts]"), head="variables:\n  $team: [{number: '+15550000011'}]\n"),
            {"dial": {"*": "busy"}})
    assert logged(t) == [[False, 1]]


def test_bridge_without_a_parent_is_fatal():
    t = run(main("- action: bridge@v1", "- action: say@v2", "  params: {what: never}"))
    error = ev(t, "error")[0]
    assert error["code"] == "E_NO_PARENT" and error["source"] == "t.actions.yaml:4:9"
    assert ops(t) == ["answer", "error", "hangup", "end"]


def test_start_recording_feeds_transcription_and_ready_handler_after_the_hangup_branch():
    text = main("- action: startRecording@v1", "  params: {feeds: leg_a, transcription: {language: fr-FR}}",
                "  events:", "    ready:", "      " + log_of("recording"),
                "- action: say@v2", "  params: {what: Bonjour tout le monde}",
                extra="  hangup:\n    actions:\n      - action: log@v1\n        params: {message: '\"hangup\"'}\n")
    t = run(text)
    assert ops(t) == ["answer", "record_start", "say", "hangup", "log", "log", "end"]
    assert ev(t, "record_start")[0]["transcription"] == "fr-FR"
    assert logged(t) == ["hangup", {"sid": "rec_001", "duration": 1, "url": "https://rec.example/rec_001.wav",
                                    "transcription": {"language": "fr-FR"}}]
    assert script(text).states["inbound-call.0"].op.legs == "caller"


def test_fetch_v2_json_status_text_and_body():
    t = run(main("- action: fetch@v2",
                 "  params:",
                 "    url: https://api.example/users?from=${{ encodeURIComponent(call.fromNumber) }}",
                 "    method: post",
                 "    headers: {X-Token: abc, X-N: 5}",
                 "    body: |",
                 "      {\"n\": ${{ 1 + 1 }}}",
                 "    timeout: 4",
                 "  result: $api", log_of("$api")),
            {"http": {"POST https://api.example/users?from=%2B33639980042": {"status": 200, "json": {"vip": True}}}})
    http = ev(t, "http")[0]
    assert (http["method"], http["url"], http["body"], http["status"]) == \
        ("POST", "https://api.example/users?from=%2B33639980042", '{"n": 2}', 200)
    assert logged(t) == [{"ok": True, "status": 200, "statusText": "OK",
                          "headers": {"content-type": "application/json"}, "body": '{"vip":true}',
                          "json": {"vip": True}}]
    state = script(main("- action: fetch@v2", "  params: {url: 'https://x', headers: {X-N: 5}, timeout: 4}")) \
        .states["inbound-call.0"].op
    assert (state.timeout, dict(state.headers)) == (4, {"X-N": "5"})


@pytest.mark.parametrize("fixture, expected", [
    ({"status": 500, "body": "oops"}, {"ok": False, "status": 500, "statusText": "Internal Server Error",
                                       "headers": {}, "body": "oops"}),
    ({"timeout": True}, {"ok": False, "status": 0, "statusText": "timeout", "headers": {}, "body": ""}),
])
def test_fetch_failures_are_results_not_errors(fixture, expected):
    t = run(main("- action: fetch@v1", "  params: {url: 'https://x.example/'}", "  result: $r", log_of("$r")),
            {"http": {"*": fixture}})
    assert logged(t) == [expected] and not ev(t, "error")


def test_sms_result_to_from_and_trimmed_body():
    t = run(main("- action: sms@v1", "  params: {to: '+15550000011', from: Acme, body: '  Hi ${{ 1 }} '}",
                 "  result: $s", log_of("$s")))
    assert brief(t)[1] == {"leg": "A", "op": "sms", "to": ["+15550000011"], "from": "Acme", "body": "Hi 1"}
    assert logged(t) == [{"ok": True, "sid": "sms_001", "status": "sent"}]


def test_log_is_trimmed_text():
    t = run(main("- action: log@v1", "  params: {message: '  ${{ [1, 2] }}  '}"))
    assert ev(t, "log")[0]["message"] == "1,2"


def test_javascript_assigns_variables_with_set_events():
    t = run(main("- action: javascript@v1", "  params:", "    code: |",
                 "      $n += 2", "      $list.push(call.toNumber)", "      $fresh = typeof $unset",
                 head="variables:\n  $n: 1\n  $list: []\n  $unset: undefined\n"))
    assert [(e["name"], e["value"]) for e in ev(t, "set")] == [
        ("$n", 3), ("$list", ["+33199001234"]), ("$fresh", "undefined")]
    assert t.variables["$n"] == 3 and "$unset" not in t.variables


def test_plugins_add_actions_through_the_entry_point_group(monkeypatch):
    from flowengine.formats.actions10 import catalogue
    from flowengine.formats.actions10.catalogue import Action
    from flowengine.formats.actions10.params import Param, Text
    from flowengine.ir.model import Assign
    from flowengine.expr import Expr

    def memcache(step):
        return step.single(Assign, values={step.params["key"]: step.params["value"]})

    action = Action("memcache", 1, memcache, {"key": Param(Text(), required=True), "value": Param(Text())})

    class EntryPoint:
        def load(self):
            return lambda: [action]

    monkeypatch.setattr(catalogue, "_plugins_loaded", False)
    monkeypatch.setattr(catalogue, "entry_points", lambda group: [EntryPoint()] if group == "flowengine.actions10" else [])
    monkeypatch.setitem(catalogue.ACTIONS, ("memcache", 1), catalogue.ACTIONS.get(("memcache", 1)))
    t = run(main("- action: memcache@v1", "  params: {key: $k, value: '${{ 2 + 3 }}'}", log_of("$k"),
                 head="variables: {$k: 0}\n"))
    assert logged(t) == ["5"]
    assert isinstance(Expr("js", "1"), Expr)
