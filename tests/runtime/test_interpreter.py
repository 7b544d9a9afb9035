"""The interpreter's run model: answering, ends, handlers, budgets, frames and legs, documents."""

import json

from tests.helpers import make_flow, ops, run, strip

from flowengine.formats import compile_text
from flowengine.testing.runner import simulate

SAY = {"op": "say", "text": "Hi"}  # 0.133 s


def ev(t, op):
    return [e for e in t.events if e["op"] == op]


# -- answering and ending ---------------------------------------------------------------------------


def test_lazy_answer_before_the_first_media_op():
    t = run({"l": {"op": "log", "message": "start", "next": "s"}, "s": SAY})
    assert ops(t) == ["log", "answer", "say", "hangup", "end"]
    assert t.events[-2] == {"t": 0.133, "leg": "A", "op": "hangup", "by": "flow"}
    assert t.events[-1]["reason"] == "flow_end"


def test_answer_at_start_and_manual():
    assert ops(run({"l": {"op": "log", "message": "x"}}, answer="start"))[:2] == ["answer", "log"]
    assert "answer" not in ops(run({"s": SAY}, answer="manual"))


def test_reject_first_never_answers():
    t = run({"r": {"op": "reject", "reason": "busy"}})
    assert strip(t.events, "t") == [{"leg": "A", "op": "reject", "reason": "busy"},
                                    {"leg": "A", "op": "end", "reason": "rejected"}]


def test_reject_after_answer_hangs_up():
    t = run({"s": {**SAY, "next": "r"}, "r": {"op": "reject"}})
    assert t.events[-2] == {"t": 0.133, "leg": "A", "op": "hangup", "by": "flow", "cause": "rejected"}


def test_hangup_op_with_cause():
    t = run({"s": {**SAY, "next": "h"}, "h": {"op": "hangup", "cause": 17}})
    assert t.events[-2:] == [{"t": 0.133, "leg": "A", "op": "hangup", "by": "flow", "cause": 17},
                             {"t": 0.133, "leg": "A", "op": "end", "reason": "hangup"}]


def test_no_entry_for_the_trigger():
    t = run({"s": SAY}, {"call": {"trigger": "api"}}, entry={"inbound-call": "s"})
    assert [e["op"] for e in t.events] == ["error", "end"]
    assert t.events[0]["code"] == "E_NO_ENTRY_FOR_TRIGGER"


# -- handlers -----------------------------------------------------------------------------------------


def test_hangup_handler_runs_after_legs_are_down_without_a_leg():
    flow = {"s": SAY, "bye": {"op": "log", "message": "done", "next": "talk"}, "talk": SAY}
    t = run(flow, handlers={"hangup": "bye"})
    assert ops(t) == ["answer", "say", "hangup", "log", "error", "end"]
    assert ev(t, "error")[0]["code"] == "E_NO_CALL"


def test_caller_hangup_mid_operation_runs_the_hangup_handler():
    flow = {"s": {"op": "say", "text": "x" * 300}, "bye": {"op": "set", "name": "gone", "value": True}}
    t = run(flow, {"hangup_at": 2}, handlers={"hangup": "bye"})
    assert ops(t) == ["answer", "say", "hangup", "set", "end"]
    assert t.events[-1]["reason"] == "caller_hangup"


def test_error_handler_after_a_runtime_error():
    text = json.dumps({"entry": "f", "handlers": {"error": "sorry"}, "states": {
        "f": {"op": "fail", "code": "E_LOOKUP", "message": "no CRM"}, "sorry": SAY}}, indent=1)
    t = simulate(compile_text(text, "err.flow.json"), {})
    error = ev(t, "error")[0]
    assert (error["code"], error["message"]) == ("E_LOOKUP", "no CRM")
    assert error["source"] == "err.flow.json:7:3"  # the state key "f"
    assert ops(t)[-4:] == ["answer", "say", "hangup", "end"]


def test_runtime_error_without_handler_ends_with_reason_error():
    t = run({"f": {"op": "fail"}})
    assert t.events[-1]["reason"] == "error"


def test_expression_yielding_the_wrong_type_is_E_PARAM_TYPE():
    t = run({"s": {"op": "say", "text": {"$expr": "calc", "src": "1 + 1"}}})
    assert ev(t, "error")[0]["code"] == "E_PARAM_TYPE"


def test_set_and_reserved_names():
    t = run({"a": {"op": "set", "name": "n", "value": {"$expr": "calc", "src": "n + 5"}, "next": "b"},
             "b": {"op": "set", "name": "call", "value": 1}}, variables={"n": 1})
    assert ev(t, "set")[0] == {"t": 0.0, "leg": "A", "op": "set", "name": "n", "value": 6}
    assert ev(t, "error")[0]["code"] == "E_RESERVED_ASSIGN"


def test_start_variables_override_declared_ones():
    t = run({"s": {"op": "say", "text": {"$expr": "template", "src": "${lang}"}}},
            {"call": {"variables": {"lang": "fr"}}}, variables={"lang": "en"})
    assert ev(t, "say")[0]["text"] == "fr"


# -- budgets --------------------------------------------------------------------------------------------


def test_a_loop_without_input_ends_at_the_step_budget():
    t = run({"a": {"op": "goto", "next": "b"}, "b": {"op": "log", "message": "x", "next": "a"}, "h": SAY},
            {"limits": {"max_steps": 50}}, handlers={"hangup": "h"})
    error = ev(t, "error")[0]
    assert error["code"] == "E_MAX_STEPS"
    assert ops(t)[-3:] == ["error", "hangup", "end"]  # handlers are skipped after a budget stop
    assert t.events[-1]["reason"] == "error"


def test_max_time_interrupts_a_long_operation():
    t = run({"s": {"op": "say", "text": "x" * 35, "loop": 0}}, {"limits": {"max_time": 10}})
    assert ev(t, "error")[0]["code"] == "E_MAX_TIME"
    assert ev(t, "say")[-1] == {"t": 10.0, "leg": "A", "op": "say", "text": "x" * 35, "interrupted": True}
    assert len(ev(t, "say")) == 5


def test_document_fetch_budget():
    flow = {"d": {"op": "document", "url": "https://x/doc.json", "format": "ir", "mode": "call", "next": "d"}}
    doc = {"entry": "s", "states": {"s": {"op": "log", "message": "in doc"}}}
    t = run(flow, {"http": {"*": {"status": 200, "body": json.dumps(doc)}}, "limits": {"max_fetches": 3}})
    assert len(ev(t, "http")) == 3 and ev(t, "error")[0]["code"] == "E_MAX_FETCHES"


# -- lifetime -------------------------------------------------------------------------------------------


def test_lifetime_interrupts_and_runs_its_handler():
    flow = {"s": {"op": "say", "text": "x" * 150}, "late": {"op": "say", "text": "Time is up"}}
    t = run(flow, lifetime=4, handlers={"lifetime": "late"})
    assert strip(t.events, "leg")[1:4] == [
        {"t": 4.0, "op": "say", "text": "x" * 150, "interrupted": True},
        {"t": 4.0, "op": "lifetime_expired", "seconds": 4.0},
        {"t": 4.667, "op": "say", "text": "Time is up"},
    ]


def test_lifetime_without_handler_ends_the_call():
    t = run({"s": {"op": "say", "text": "x" * 150}}, lifetime=2)
    assert t.events[-1]["reason"] == "lifetime" and ops(t)[-2] == "hangup"


# -- legs and frames ------------------------------------------------------------------------------------

WHISPER = {
    "d": {"op": "dial", "targets": ["+1"], "on_answer": "w", "edges": {"answered": "after"}},
    "w": {"op": "say", "leg": "B", "text": "Call for you"},
    "after": {"op": "say", "text": "Back on A"},
}


def test_on_answer_runs_on_the_new_leg_before_the_bridge():
    t = run(WHISPER, {"dial": {"*": {"status": "answer", "talk": 5}}})
    assert [(e["leg"], e["op"]) for e in t.events] == [
        ("A", "dial"), ("B", "say"), ("A", "answer"), ("A", "bridge"), ("B", "hangup"),
        ("A", "say"), ("A", "hangup"), ("A", "end")]


def test_callee_hanging_up_in_its_frame_returns_to_the_dialling_frame():
    flow = {
        "d": {"op": "dial", "targets": ["+1"], "on_answer": "w", "result": "r", "edges": {"answered": "after"}},
        "w": {"op": "collect", "prompts": [{"op": "say", "text": "Press 1"}]},
        "after": {"op": "say", "text": {"$expr": "template", "src": "status ${r.status}"}},
    }
    t = run(flow, {"dial": {"*": {"status": "answer", "inputs": []}}})
    assert [(e["leg"], e["op"]) for e in t.events] == [
        ("A", "dial"), ("B", "collect"), ("B", "hangup"), ("A", "answer"), ("A", "say"), ("A", "hangup"), ("A", "end")]
    assert ev(t, "say")[0]["text"] == "status answered"


def test_caller_hanging_up_aborts_every_frame():
    t = run(WHISPER, {"dial": {"*": "answer"}, "hangup_at": 2.5})
    assert [(e["leg"], e["op"]) for e in t.events] == [
        ("A", "dial"), ("B", "say"), ("A", "hangup"), ("B", "hangup"), ("A", "end")]
    assert ev(t, "hangup")[1]["by"] == "flow"


def test_bridge_op_connects_focus_and_parent():
    flow = {
        "d": {"op": "dial", "targets": ["+1"], "on_answer": "b", "bridge": False, "edges": {"answered": "bye"}},
        "b": {"op": "bridge"},
        "bye": SAY,
    }
    t = run(flow, {"dial": {"*": {"status": "answer", "talk": 7}}})
    bridge = ev(t, "bridge")[0]
    assert (bridge["leg"], bridge["with"], bridge["duration"]) == ("B", "A", 7.0)


def test_bridge_without_parent_is_an_error():
    t = run({"b": {"op": "bridge"}})
    assert ev(t, "error")[0]["code"] == "E_NO_PARENT"


def test_api_run_dial_creates_leg_A_and_focuses_it():
    flow = {"agent": {"op": "dial", "targets": ["+agent"], "edges": {"answered": "hello"}},
            "hello": {"op": "say", "text": "Connecting"}}
    t = run(flow, {"call": {"trigger": "api"}, "dial": {"+agent": "answer"}})
    assert [(e["leg"], e["op"]) for e in t.events] == [("A", "dial"), ("A", "say"), ("A", "hangup"), ("A", "end")]
    assert ev(t, "dial")[0]["new_leg"] == "A"


def test_failed_attempts_take_leg_letters():
    flow = {"one": {"op": "dial", "targets": ["+1"], "edges": {"busy": "two"}},
            "two": {"op": "dial", "targets": ["+2"]}}
    t = run(flow, {"dial": {"+1": "busy", "+2": "answer"}})
    assert [e["new_leg"] for e in ev(t, "dial")] == ["B", "C"]


def test_time_limit_ends_the_bridge_by_the_flow():
    t = run({"d": {"op": "dial", "targets": ["+1"], "time_limit": 10}}, {"dial": {"*": {"status": "answer", "talk": 60}}})
    assert ev(t, "bridge")[0]["duration"] == 10.0
    assert {"t": 12.0, "leg": "B", "op": "hangup", "by": "flow"} in t.events


# -- services -------------------------------------------------------------------------------------------


def test_http_result_feeds_a_branch():
    flow = {
        "lookup": {"op": "http", "url": "https://crm/x", "result": "crm", "edges": {"ok": "vip?", "error": "std"}},
        "vip?": {"op": "branch", "cases": [{"key": "yes", "when": {"eq": [{"$expr": "var", "src": "crm.json.vip"}, True]}}],
                 "edges": {"match:yes": "vip", "ok": "std"}},
        "vip": {"op": "say", "text": "VIP"},
        "std": {"op": "say", "text": "Standard"},
    }
    assert ev(run(flow, {"http": {"*": {"json": {"vip": True}}}}), "say")[0]["text"] == "VIP"
    assert ev(run(flow, {"http": {"*": {"json": {"vip": 1}}}}), "say")[0]["text"] == "Standard"
    assert ev(run(flow, {"http": {"*": {"status": 503}}}), "say")[0]["text"] == "Standard"


def test_http_json_body():
    t = run({"h": {"op": "http", "method": "POST", "url": "https://x", "json": {"a": [1]}}}, {"http": {"*": {}}})
    assert ev(t, "http")[0]["body"] == '{"a":[1]}'


def test_sms():
    t = run({"m": {"op": "sms", "to": ["+1", "+2"], "from": "+3", "body": "Hi", "result": "s",
                   "next": "l"}, "l": {"op": "log", "message": {"$expr": "var", "src": "s.sid"}}})
    assert ev(t, "sms")[0] == {"t": 0.0, "leg": "A", "op": "sms", "to": ["+1", "+2"], "from": "+3", "body": "Hi"}
    assert ev(t, "log")[0]["message"] == "sms_001"


# -- documents ------------------------------------------------------------------------------------------


def doc(states, entry=None):
    return json.dumps({"entry": entry or next(iter(states)), "states": states})


def test_document_replace_switches_to_the_fetched_flow():
    flow = {"d": {"op": "document", "url": "https://x/next.json", "format": "ir",
                  "params": {"From": {"$expr": "var", "src": "call.from"}}, "next": "never"},
            "never": {"op": "say", "text": "not reached"}}
    t = run(flow, {"http": {"POST https://x/next.json": {"body": doc({"s": {"op": "say", "text": "Fetched"}})}}})
    assert [e["op"] for e in t.events] == ["http", "answer", "say", "hangup", "end"]
    assert ev(t, "http")[0]["params"] == {"From": "+15550000001"}
    assert ev(t, "say")[0]["text"] == "Fetched"


def test_document_fetch_failure_takes_the_error_edge():
    flow = {"d": {"op": "document", "url": "https://x/a", "format": "ir", "edges": {"error": "sorry"}},
            "sorry": {"op": "say", "text": "Sorry"}}
    t = run(flow, {"http": {"*": {"status": 500}}})
    assert ev(t, "error")[0]["code"] == "E_FETCH" and ev(t, "say")[0]["text"] == "Sorry"


def test_invalid_document_is_an_error_event():
    flow = {"d": {"op": "document", "url": "https://x/a", "format": "ir", "edges": {"error": "sorry"}},
            "sorry": {"op": "say", "text": "Sorry"}}
    t = run(flow, {"http": {"*": {"body": '{"entry": "x", "states": {"x": {"op": "nope"}}}'}}})
    error = ev(t, "error")[0]
    assert error["code"] == "E_DOCUMENT" and "E_UNKNOWN_OP" in error["message"]


def test_loop_zero_in_a_prompt_is_capped():
    flow = {"c": {"op": "collect", "prompts": [{"op": "say", "text": "Hi", "loop": 0}]}}
    t = run(flow, {"caller": [{"keys": "1", "at": 1.0}]})
    assert len(ev(t, "say")) == 8 and ev(t, "say")[-1]["interrupted"] is True


def test_transcripts_are_identical_across_runs():
    flow = make_flow({**WHISPER})
    scenario = {"dial": {"*": {"status": "answer", "talk": 5}}}
    assert simulate(flow, scenario).to_jsonl() == simulate(flow, scenario).to_jsonl()
