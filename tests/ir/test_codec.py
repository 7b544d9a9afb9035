import json

import pytest

from flowengine.errors import FlowError
from flowengine.formats import compile_text
from flowengine.ir import decode, encode

MENU = {
    "name": "menu",
    "entry": {"inbound-call": "hello", "api": "hello"},
    "variables": {"tries": 0},
    "handlers": {"hangup": "bye"},
    "lifetime": 300,
    "states": {
        "hello": {"op": "say", "text": "Hello", "next": "menu"},
        "menu": {"op": "collect", "choices": ["1", "2"], "prompts": [{"op": "play", "url": "x.wav"}],
                 "result": "c", "edges": {"match:1": "hello", "timeout": "menu"}},
        "bye": {"op": "log", "message": {"$expr": "template", "src": "bye ${c.digits}"}},
        "check": {"op": "branch", "cases": [{"key": "vip", "when": {"eq": [{"$expr": "var", "src": "c.digits"}, "1"]}}]},
    },
}


def diags(data, text=None, filename="f.flow.json"):
    with pytest.raises(FlowError) as exc:
        if text is not None:
            compile_text(text, filename)
        else:
            decode(data)
    return exc.value.diagnostics


def test_round_trip_is_exact():
    flow = decode(MENU)
    again = decode(json.loads(json.dumps(encode(flow))))
    assert again == flow
    assert encode(again) == encode(flow)


def test_spans_point_at_state_keys_in_the_file():
    text = json.dumps(MENU, indent=2)
    flow = compile_text(text, "menu.flow.json")
    line = text.splitlines().index('    "menu": {') + 1
    assert flow.states["menu"].span.line == line and flow.states["menu"].span.file == "menu.flow.json"


def test_unknown_op_suggests_the_closest():
    (d,) = diags({"entry": "a", "states": {"a": {"op": "sya", "text": "x"}}})
    assert d.code == "E_UNKNOWN_OP" and "did you mean 'say'" in d.message


def test_unknown_field_suggests_the_closest():
    (d,) = diags({"entry": "a", "states": {"a": {"op": "collect", "max_digit": 3}}})
    assert d.code == "E_UNKNOWN_FIELD" and "max_digits" in d.message


def test_missing_required_field():
    (d,) = diags({"entry": "a", "states": {"a": {"op": "say"}}})
    assert d.code == "E_MISSING_FIELD" and "'text'" in d.message


def test_bad_outcome_and_unknown_target_are_reported_together():
    found = diags({"entry": "a", "states": {"a": {"op": "say", "text": "x", "edges": {"timeout": "a", "ok": "zz"}}}})
    codes = sorted(d.code for d in found)
    assert codes == ["E_BAD_OUTCOME", "E_UNKNOWN_STATE"]


def test_terminal_op_cannot_continue():
    (d,) = diags({"entry": "a", "states": {"a": {"op": "reject", "next": "a"}}})
    assert d.code == "E_BAD_OUTCOME" and "never continues" in d.message


def test_unknown_entry_and_handler_targets():
    found = diags({"entry": "nope", "handlers": {"hangup": "gone", "oops": "a"}, "states": {"a": {"op": "goto"}}})
    messages = " ".join(d.message for d in found)
    assert "entry names unknown state 'nope'" in messages
    assert "handler 'hangup' names unknown state 'gone'" in messages
    assert "unknown handler 'oops'" in messages
    assert all(d.hint == "point it at a state of this flow, or add a state with that id"
               for d in found if d.code == "E_UNKNOWN_STATE")


def test_expression_syntax_error_has_the_line_of_the_field():
    text = '{\n "entry": "a",\n "states": {\n  "a": {"op": "say",\n   "text": {"$expr": "calc", "src": "1 +"}}\n }\n}'
    (d,) = diags(None, text)
    assert d.code == "E_EXPR_SYNTAX" and d.span.line == 5


def test_wrong_type_reports_expected_and_got():
    (d,) = diags({"entry": "a", "states": {"a": {"op": "collect", "timeout": "5"}}})
    assert d.code == "E_FIELD_TYPE" and "expected a number" in d.message and "'5'" in d.message


def test_bad_condition_in_a_case():
    (d,) = diags({"entry": "a", "states": {"a": {"op": "branch", "cases": [{"key": "k", "when": {"equals": [1, 1]}}]}}})
    assert d.code == "E_COND" and "unknown condition 'equals'" in d.message and "eq" in d.message


def test_not_an_object():
    (d,) = diags([1, 2])
    assert d.code == "E_IR_SHAPE"


def test_unsupported_ir_version():
    found = diags({"flowengine": "ir/9", "entry": "a", "states": {"a": {"op": "goto"}}})
    assert found[0].code == "E_IR_VERSION"
