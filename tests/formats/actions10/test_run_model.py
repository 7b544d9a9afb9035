"""The run model M1-M12 (digest §4.3), variables and start options (§4.4), runtime error codes."""

import pytest

from tests.formats.actions10._a10 import brief, ev, ops, run, script

LOG = "- {action: log@v1, params: {message: '%s'}}"


def branch(name: str, *lines: str) -> str:
    return f"  {name}:\n    actions:\n" + "".join(f"      {line}\n" for line in lines)


def test_m1_triggers_pick_their_entry_branch_and_run_type():
    text = "branches:\n" + "".join(branch(n, LOG % "${{ run.type }} ${{ typeof call }} ${{ typeof sms }}")
                                   for n in ("inbound-call", "api-initiated", "inbound-sms"))
    assert ev(run(text), "log")[0]["message"] == "inbound-call object undefined"
    assert ev(run(text, {"call": {"trigger": "api"}}), "log")[0]["message"] == "api undefined undefined"
    t = run(text, {"call": {"trigger": "inbound-sms", "sms": {"body": "hi"}}})
    assert ev(t, "log")[0]["message"] == "inbound-sms undefined object"
    assert "answer" not in ops(t) and "hangup" not in ops(t)


@pytest.mark.parametrize("trigger, expected", [
    ("api", ["error", "end"]), ("inbound-sms", ["error", "end"]), ("inbound-call", ["error", "hangup", "end"])])
def test_m2_missing_entry_branch_refuses_the_run(trigger, expected):
    text = "branches:\n" + branch("api-initiated" if trigger == "inbound-call" else "inbound-call", LOG % "x") \
        + branch("hangup", LOG % "never")
    t = run(text, {"call": {"trigger": trigger, "sms": {"body": "x"}} if trigger == "inbound-sms" else
                   {"trigger": trigger}})
    assert ops(t) == expected and t.events[0]["code"] == "E_NO_ENTRY_FOR_TRIGGER"


def test_m3_auto_answer_default_true_and_false_answers_lazily():
    assert ops(run("branches:\n" + branch("inbound-call", LOG % "x")))[:2] == ["answer", "log"]
    t = run("defaults: {autoAnswer: false}\nbranches:\n" +
            branch("inbound-call", LOG % "x", "- {action: say@v2, params: {what: Hi}}"))
    assert ops(t) == ["log", "answer", "say", "hangup", "end"]
    assert ops(run("defaults: {autoAnswer: false}\nbranches:\n" + branch("inbound-call", LOG % "x"))) == \
        ["log", "hangup", "end"]


def test_m4_goto_never_returns():
    t = run("branches:\n" + branch("inbound-call", "- goto: {branch: b}", LOG % "never") + branch("b", LOG % "b"))
    assert [e["message"] for e in ev(t, "log")] == ["b"]


def test_m5_m6_frames_focus_the_answered_leg_and_return_after_the_dial():
    t = run("branches:\n" + branch(
        "inbound-call", "- {action: dial@v1, params: {targets: [{number: '+15550000011'}], answerOnBranch: up}}",
        "- {action: say@v2, params: {what: back on A}}")
        + branch("up", "- {action: say@v2, params: {what: to B}}", "- goto: {branch: up2}")
        + branch("up2", "- {action: say@v2, params: {what: still B}}"), {"dial": {"*": "answer"}})
    assert [(e["leg"], e["text"]) for e in ev(t, "say")] == [("B", "to B"), ("B", "still B"), ("A", "back on A")]
    assert [e["leg"] for e in ev(t, "hangup")] == ["A", "B"]  # M8: B stayed up until the end, hung up in order


def test_m7_a_leg_hanging_up_aborts_its_frames():
    text = "branches:\n" + branch(
        "inbound-call", "- {action: dial@v1, params: {targets: [{number: '+15550000011'}], answerOnBranch: up}}",
        LOG % "A continues") + branch("up", "- {action: gather@v2, params: {maxDigits: 1}}", LOG % "never")
    t = run(text, {"dial": {"*": {"status": "answer", "inputs": ["hangup"]}}})
    assert [e["message"] for e in ev(t, "log")] == ["A continues"]
    t = run(text, {"hangup_at": 3, "dial": {"*": {"status": "answer", "inputs": [{"keys": "1", "at": 5}]}}})
    assert ev(t, "log") == [] and t.events[-1]["reason"] == "caller_hangup"


def test_m7_hangup_action_on_the_focus_leg():
    text = "branches:\n" + branch(
        "inbound-call", "- {action: dial@v1, params: {targets: [{number: '+15550000011'}], answerOnBranch: up}}",
        LOG % "after") + branch("up", "- action: hangup@v1", LOG % "never")
    t = run(text, {"dial": {"*": "answer"}})
    assert [(e["op"], e["leg"]) for e in t.events][1:5] == [("dial", "A"), ("hangup", "B"), ("log", "A"),
                                                             ("hangup", "A")]


def test_m8_run_end_order_legs_then_hangup_branch_then_ready_handlers():
    text = "branches:\n" + branch(
        "inbound-call", "- {action: dial@v1, params: {targets: [{number: '+15550000011'}], answerOnBranch: up}}") \
        + branch("up", "- action: startRecording@v1", "  events:", "    ready:", "      " + LOG % "ready 1",
                 "- action: startRecording@v1", "  events:", "    ready:", "      " + LOG % "ready 2") \
        + branch("hangup", LOG % "hangup branch")
    t = run(text, {"dial": {"*": "answer"}})
    assert brief(t)[-6:] == [
        {"leg": "A", "op": "hangup", "by": "flow"}, {"leg": "B", "op": "hangup", "by": "flow"},
        {"leg": "A", "op": "log", "message": "hangup branch"}, {"leg": "A", "op": "log", "message": "ready 1"},
        {"leg": "A", "op": "log", "message": "ready 2"}, {"leg": "A", "op": "end", "reason": "flow_end"}]


def test_m8_hangup_branch_runs_for_inbound_calls_only():
    text = "branches:\n" + branch("api-initiated", LOG % "api") + branch("hangup", LOG % "hangup")
    assert [e["message"] for e in ev(run(text, {"call": {"trigger": "api"}}), "log")] == ["api"]


def test_m9_media_without_a_call_is_logged_and_skipped():
    t = run("branches:\n" + branch("api-initiated", "- {action: say@v2, params: {what: x}}", "- action: answer@v1",
                                   LOG % "goes on"), {"call": {"trigger": "api"}})
    assert [e.get("code") for e in ev(t, "error")] == ["E_NO_CALL", "E_NO_CALL"] and ev(t, "log")


def test_m10_bridge_answers_the_caller():
    t = run("defaults: {autoAnswer: false}\nbranches:\n" + branch(
        "inbound-call", "- {action: dial@v1, params: {targets: [{number: '+15550000011'}], answerOnBranch: up}}")
        + branch("up", "- action: bridge@v1"), {"dial": {"*": {"status": "answer", "after": 4}}})
    assert [(e["op"], e["leg"], e["t"]) for e in t.events][:3] == [("dial", "A", 4.0), ("answer", "A", 4.0),
                                                                    ("bridge", "B", 34.0)]


def test_m11_loop_guard():
    t = run("variables: {$n: 0}\nbranches:\n" + branch(
        "inbound-call", "- {action: javascript@v1, params: {code: $n++}}", "- goto: {branch: inbound-call}")
        + branch("hangup", LOG % "${{ $n }}"))
    error = ev(t, "error")[0]
    assert error["code"] == "E_LOOP_LIMIT" and error["source"] == "t.actions.yaml:6:9"
    assert ev(t, "log")[0]["message"] == "101"


def test_m11_a_menu_loop_with_input_is_not_a_loop():
    t = run("variables: {$n: 0}\nbranches:\n" + branch(
        "inbound-call", "- {action: gather@v2, params: {maxDigits: 1, timeout: 1}}",
        "- {action: javascript@v1, params: {code: $n++}}", "- if: $n < 150", "  goto: {branch: inbound-call}"),
        {"caller": ["timeout"] * 150})
    assert not ev(t, "error") and len(ev(t, "collect")) == 150


@pytest.mark.parametrize("code, line, expected", [
    ("$nobody + 1", "- {action: log@v1, params: {message: '${{ $nobody + 1 }}'}}", "E_EXPR_RUNTIME"),
    ("loop", "- {action: javascript@v1, params: {code: 'while (true) {}'}}", "E_EXPR_TIMEOUT"),
    ("type", "- {action: play@v1, params: {media: 1, loop: '${{ \"many\" }}'}}", "E_PARAM_TYPE"),
    ("range", "- {action: gather@v2, params: {maxDigits: '${{ 99 }}'}}", "E_PARAM_VALUE"),
    ("reserved", "- {action: javascript@v1, params: {code: 'const c = call; c.fromNumber = 1'}}", "E_RESERVED_ASSIGN"),
])
def test_m12_fatal_errors_end_the_run_and_the_hangup_branch_still_runs(code, line, expected):
    t = run("branches:\n" + branch("inbound-call", line, LOG % "never") + branch("hangup", LOG % "hangup"))
    assert ev(t, "error")[0]["code"] == expected
    assert [e["message"] for e in ev(t, "log")] == ["hangup"]
    assert ops(t)[-4:] == ["error", "hangup", "log", "end"]


def test_m12_an_error_in_the_hangup_branch_is_reported_once():
    t = run("branches:\n" + branch("inbound-call", LOG % "x") + branch("hangup", LOG % "${{ $nope }}", LOG % "never"))
    assert ops(t)[-3:] == ["hangup", "error", "end"]


def test_start_options_override_declared_values_and_keep_their_type():
    text = "variables: {$n: 1, $list: [], $user: undefined}\nbranches:\n" + branch(
        "api-initiated", LOG % "${{ JSON.stringify([$n, $list, typeof $user]) }}")
    t = run(text, {"call": {"trigger": "api", "variables": {"$n": "7", "$list": [1, {"a": None}]}}})
    assert ev(t, "log")[0]["message"] == '["7",[1,{"a":null}],"undefined"]'


@pytest.mark.parametrize("variables, code", [({"n": 1}, "E_START_VAR_NAME"), ({"$m": 1}, "E_START_UNDECLARED")])
def test_refused_start_options(variables, code):
    t = run("variables: {$n: 1}\nbranches:\n" + branch("api-initiated", LOG % "x") + branch("hangup", LOG % "h"),
            {"call": {"trigger": "api", "variables": variables}})
    assert brief(t)[0]["code"] == code and ops(t) == ["error", "end"]


def test_pre_defined_objects_from_the_scenario():
    text = "branches:\n" + branch("inbound-call", LOG % "${{ [now.toISOString(), call.fromNumber, "
                                  "call.cdr.callerRestricted, call.toNumber].join(\" \") }}")
    t = run(text, {"call": {"from": "anonymous", "to": "+15550000002", "at": "2026-03-31T09:15:00Z"}})
    assert ev(t, "log")[0]["message"] == "2026-03-31T09:15:00.000Z  true +15550000002"


def test_now_advances_with_the_call():
    t = run("branches:\n" + branch("inbound-call", "- {action: say@v2, params: {what: '%s'}}" % ("x" * 30),
                                   LOG % "${{ now.toISOString() }}"))
    assert ev(t, "log")[0]["message"] == "2025-03-31T09:15:02.000Z"


def test_compile_is_deterministic_and_round_trips_through_ir_json():
    from flowengine.ir import decode, encode

    text = open("flows/ivr-retries.actions.yaml").read()
    first = script(text)
    assert decode(encode(first)) == first == script(text)
