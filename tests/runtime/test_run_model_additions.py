"""Generic interpreter capabilities added for ACTIONS10 (usable by any dialect): the `assign` op,
`record_start.on_ready`, the `max_jumps` loop guard, start-variable refusals, the `legs` and `flow`
built-ins, bridging an unanswered caller, and the HTTP status text."""

from tests.helpers import make_flow, ops, run

from flowengine.ir import decode, encode
from flowengine.testing.runner import simulate

SAY = {"op": "say", "text": "Hi"}  # 0.133 s


def ev(t, op):
    return [e for e in t.events if e["op"] == op]


def test_assign_sets_several_variables_with_set_events():
    t = run({"a": {"op": "assign", "values": {"x": 1, "y": {"$expr": "var", "src": "call.to"}}}})
    assert [(e["name"], e["value"]) for e in ev(t, "set")] == [("x", 1), ("y", "+15550000002")]
    assert t.variables["x"] == 1


def test_assign_from_an_expression_object_and_silently():
    t = run({"a": {"op": "assign", "values": {"$expr": "js", "src": "({n: 2, s: 'x'})"}, "silent": True,
                   "next": "l"},
             "l": {"op": "log", "message": {"$expr": "js", "src": "n + s"}}})
    assert ev(t, "set") == []
    assert ev(t, "log")[0]["message"] == "2x"


def test_assign_refuses_a_reserved_name_and_a_non_object():
    t = run({"a": {"op": "assign", "values": {"$expr": "js", "src": "({call: 1})"}}})
    assert ev(t, "error")[0]["code"] == "E_RESERVED_ASSIGN"
    t = run({"a": {"op": "assign", "values": {"$expr": "js", "src": "5"}}})
    assert ev(t, "error")[0]["code"] == "E_PARAM_TYPE"


def test_record_start_on_ready_runs_after_the_hangup_handler_with_the_recording():
    flow = {
        "d": {"op": "dial", "targets": ["+1"], "on_answer": "rec", "bridge": False},
        "rec": {"op": "record_start", "transcribe": "en-US", "on_ready": "ready", "next": "b"},
        "b": {"op": "bridge"},
        "ready": {"op": "log", "message": {"$expr": "js", "src": "recording.url + ' ' + recording.duration"}},
        "bye": {"op": "log", "message": "hangup handler"},
    }
    t = run(flow, {"dial": {"+1": {"status": "answer", "talk": 42}}}, handlers={"hangup": "bye"})
    assert ops(t)[-5:] == ["hangup", "hangup", "log", "log", "end"]
    assert ev(t, "record_start")[0] == {"t": 2.0, "leg": "B", "op": "record_start",
                                        "url": "https://rec.example/rec_001.wav", "transcription": "en-US"}
    assert [e["message"] for e in ev(t, "log")] == ["hangup handler", "https://rec.example/rec_001.wav 42"]


def test_record_stop_ends_the_ready_recordings_duration():
    flow = {"r": {"op": "record_start", "on_ready": "ready", "next": "s"}, "s": {**SAY, "next": "x"},
            "x": {"op": "record_stop", "next": "t"}, "t": {"op": "say", "text": "x" * 30},
            "ready": {"op": "log", "message": {"$expr": "var", "src": "recording.duration"}}}
    assert ev(run(flow), "log")[0]["message"] == "0.133"


def test_max_jumps_guards_loops_without_channel_operations():
    flow = {"g": {"op": "goto", "next": "g"}}
    t = run(flow, max_jumps=5)
    assert ev(t, "error")[0]["code"] == "E_LOOP_LIMIT"
    assert ops(t)[-2:] == ["hangup", "end"]


def test_a_channel_operation_resets_the_jump_count():
    flow = {"a": {"op": "assign", "values": {"$expr": "js", "src": "({n: (typeof n === 'undefined' ? 0 : n) + 1})"},
                  "silent": True, "next": "c"},
            "c": {"op": "branch", "cases": [{"key": "stop", "when": {"$expr": "js", "src": "n >= 8"}}],
                  "edges": {"ok": "s"}},
            "s": {**SAY, "next": "g"}, "g": {"op": "goto", "next": "a"}}
    t = run(flow, max_jumps=1)
    assert len(ev(t, "say")) == 7 and not ev(t, "error")


def test_start_variables_are_checked_against_declared_and_pattern():
    top = {"declared": ["$a"], "start_pattern": r"^\$\w+$", "variables": {"$a": 1}}
    t = run({"s": SAY}, {"call": {"variables": {"b": 1}}}, **top)
    assert [e["op"] for e in t.events] == ["error", "hangup", "end"]
    assert t.events[0]["code"] == "E_START_VAR_NAME"
    t = run({"s": SAY}, {"call": {"variables": {"$b": 1}}}, **top)
    assert t.events[0]["code"] == "E_START_UNDECLARED"
    t = run({"s": {"op": "log", "message": {"$expr": "js", "src": "JSON.stringify($a)"}}},
            {"call": {"variables": {"$a": [1, "x"]}}}, **top)
    assert ev(t, "log")[0]["message"] == '[1,"x"]'


def test_a_refused_start_runs_no_handler():
    t = run({"s": SAY, "h": {"op": "log", "message": "h"}}, {"call": {"trigger": "api"}},
            entry={"inbound-call": "s"}, handlers={"hangup": "h"})
    assert ops(t) == ["error", "end"]


def test_new_flow_fields_round_trip():
    flow = make_flow({"s": SAY}, declared=["$a"], start_pattern="^x$", max_jumps=3)
    assert decode(encode(flow)) == flow
    assert encode(flow)["max_jumps"] == 3


def test_legs_built_in_keeps_answer_and_end_times():
    flow = {"s": {**SAY, "next": "d"}, "d": {"op": "dial", "targets": ["+1"]},
            "h": {"op": "log", "message": {"$expr": "js", "src": "JSON.stringify([call.cdr.durationAnswered, "
                                                                "call.cdr.hangupSource])"}}}
    t = run(flow, {"dial": {"+1": {"status": "answer", "talk": 10}}}, handlers={"hangup": "h"})
    assert ev(t, "log")[0]["message"] == '[12,"system"]'


def test_bridge_answers_an_unanswered_caller_first():
    flow = {"d": {"op": "dial", "targets": ["+1"], "on_answer": "b", "bridge": False}, "b": {"op": "bridge"}}
    t = run(flow, {"dial": {"+1": "answer"}})
    assert ops(t)[:3] == ["dial", "answer", "bridge"]


def test_http_result_has_the_status_text():
    flow = {"h": {"op": "http", "url": "https://x/", "result": "r", "edges": {"ok": "l", "error": "l"}},
            "l": {"op": "log", "message": {"$expr": "var", "src": "r.status_text"}}}
    t = simulate(make_flow(flow), {"http": {"*": {"status": 418}}})
    assert ev(t, "log")[0]["message"] == "I'm a Teapot"
