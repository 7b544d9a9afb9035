"""The webhook contract (spec 2.5): request, answer (vars, actions), errors and webhook_status."""

from __future__ import annotations

from tests.formats.ivr._ivr import brief, ev, menu, run

FLOW = """
entry: main
contexts:
  main:
    options:
      start:
        - webhook: {url: "https://crm.example.com/ivr", timeout_ms: 1500, ON_ERROR}
        - play: {tts: "after ${webhook_status} ${tier}"}
        - hangup: {}
      "1": [{play: {tts: "one"}}]
  vip:
    max_failures: 1
    options:
      start: [{play: {tts: "vip menu"}}]
      "1": [{play: {tts: "vip one"}}]
"""


def call(answer: dict, on_error: str = "", **scenario):
    flow = FLOW.replace(", ON_ERROR", f", on_error: {on_error}" if on_error else "")
    return run(flow, {"http": {"*": answer}, **scenario})


def test_vars_are_set_in_order_as_text_and_actions_run_in_place():
    t = call({"json": {"vars": {"tier": "gold", "n": 3, "ok": True, "none": None},
                       "actions": [{"play": {"tts": "hello ${tier}"}}]}})
    assert brief(t)[2:8] == ["set tier=gold", "set n=3", "set ok=true", "set none=", "say hello gold",
                             "say after 200 gold"]


def test_an_empty_body_is_an_empty_answer():
    t = call({"status": 204, "body": ""})
    assert [e["text"] for e in ev(t, "say")] == ["after 204 "]


def test_a_goto_in_the_answer_lands_in_the_flows_contexts():
    t = call({"json": {"actions": [{"goto": {"context": "vip"}}]}}, caller=["1"])
    assert [e["text"] for e in ev(t, "say")] == ["vip menu", "vip one"]


def test_a_goto_option_of_the_current_context_runs_it():
    t = call({"json": {"actions": [{"goto": {"option": "1"}}]}})
    assert [e["text"] for e in ev(t, "say")] == ["one"]


def test_errors_set_webhook_status_and_run_on_error_or_go_on():
    timeout = call({"timeout": True})
    server_error = call({"status": 503}, on_error="[{play: {tts: 'sorry'}}]")
    assert [e["text"] for e in ev(timeout, "say")] == ["after timeout "]
    assert ev(timeout, "http")[0]["t"] == 1.5 and ev(timeout, "say")[0]["t"] == round(1.5 + 14 / 15, 3)
    assert [e["text"] for e in ev(server_error, "say")] == ["sorry", "after 503 "]


def test_an_invalid_answer_is_an_error_at_its_position():
    not_json = call({"status": 200, "body": "<html>"}, on_error="[{play: {tts: 'sorry'}}]")
    bad_action = call({"json": {"actions": [{"transfer": {"to": ["nope"]}}]}})
    unknown_key = call({"json": {"vars": {}, "action": []}})
    assert ev(not_json, "error")[0]["code"] == "E_DOCUMENT" and "sorry" in brief(not_json)[-4]
    assert "E_IVR_DEST" in ev(bad_action, "error")[0]["message"]
    assert "unknown field 'action'" in ev(unknown_key, "error")[0]["message"]
    for answer, message in (([1, 2], "a webhook answer is a JSON object"), ({"vars": [1]}, "'vars' must be an object"),
                            ({"actions": {"play": {}}}, "'actions' must be a list of steps")):
        (error,) = ev(call({"json": answer}), "error")
        assert "E_IVR_WEBHOOK" in error["message"] and message in error["message"]


def test_webhook_answers_cannot_assign_builtins():
    t = call({"json": {"vars": {"digits": "1"}}})
    assert "E_IVR_READONLY" in ev(t, "error")[0]["message"]


def test_the_same_answer_twice_reuses_its_states():
    flow = menu(FLOW.replace(", ON_ERROR", "").replace('        - play: {tts: "after ${webhook_status} ${tier}"}\n        - hangup: {}',
                                                       '        - play: {tts: "again"}\n        - goto: {context: main}'))
    from flowengine.testing.runner import simulate

    t = simulate(flow, {"http": {"*": {"json": {"actions": [{"play": {"tts": "hi"}}]}}},
                        "limits": {"max_steps": 200}})
    says = [e["text"] for e in ev(t, "say")]
    assert says[:4] == ["hi", "again", "hi", "again"]
    assert ev(t, "error")[0]["code"] == "E_MAX_STEPS"  # an endless loop without input is still bounded
