import pytest

from flowengine.errors import IRError
from flowengine.expr import Expr
from flowengine.ir.model import OPS, Branch, Case, Collect, Dial, Flow, Say, Set, State
from flowengine.ir.values import FrozenDict


def test_every_op_is_registered_by_kind():
    assert {"say", "play", "collect", "dial", "bridge", "queue", "http", "document", "branch", "set"} <= set(OPS)
    assert all(cls.kind == kind for kind, cls in OPS.items())


def test_ops_are_frozen_and_keyword_only():
    op = Say(text="hi")
    with pytest.raises(Exception):
        op.text = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Say("hi")  # type: ignore[misc]


def test_Collect_rejects_zero_digits():
    with pytest.raises(IRError) as exc:
        Collect(max_digits=0)
    assert exc.value.field == "max_digits"


def test_field_types_are_checked_against_annotations():
    with pytest.raises(IRError) as exc:
        Say(text=5)
    assert "expected a string" in exc.value.message
    with pytest.raises(IRError):
        Dial(targets="+1555")  # a list is required
    with pytest.raises(IRError):
        Say(text="x", loop=True)  # bool is not an integer


def test_expressions_are_allowed_in_params_but_not_static_fields():
    op = Say(text=Expr("template", "Hi ${name}"))
    assert op.is_dynamic and op._dynamic == ("text",)
    with pytest.raises(IRError):
        Set(name=Expr("var", "x"), value=1)


def test_lists_and_dicts_are_frozen():
    op = Dial(targets=["+1", "+2"])
    assert op.targets == ("+1", "+2")
    from flowengine.ir.model import Http

    http = Http(url="https://x", params={"a": [1, 2]})
    assert isinstance(http.params, FrozenDict) and http.params["a"] == (1, 2)
    with pytest.raises(TypeError):
        http.params["b"] = 1


def test_outcomes_include_choices_and_cases():
    collect = Collect(choices=["1", "2"])
    assert collect.outcomes() == {"ok", "timeout", "invalid", "match:1", "match:2"}
    branch = Branch(cases=[Case("vip", True)])
    assert branch.outcomes() == {"ok", "match:vip"}


def test_dial_on_answer_is_a_state_reference():
    assert Dial(targets=["+1"], on_answer="whisper").refs() == {"on_answer": "whisper"}


def test_flow_entry_string_means_any_trigger():
    flow = Flow(name="f", states={"a": State("a", Say(text="x"))}, entry="a")
    assert flow.entry_for("inbound-call") == "a" and flow.entry_for("api") == "a"


def test_op_json_omits_defaults():
    assert Say(text="hi").to_json() == {"op": "say", "text": "hi"}
    assert Collect(prompts=[Say(text="p")], max_digits=None).to_json() == {
        "op": "collect", "prompts": [{"op": "say", "text": "p"}], "max_digits": None}
