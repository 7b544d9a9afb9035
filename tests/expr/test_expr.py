import pytest

from flowengine.expr import Expr, ExprError, Scope, resolve, truthy
from flowengine.expr.conditions import CondError, json_equal, parse_cond


@pytest.fixture
def scope():
    return Scope({"tries": 2, "digits": "123", "crm": {"vip": True, "tags": ["a", "b"]}},
                 {"call": {"from": "+15551230000", "to": "+15559870000"}})


def test_var_paths(scope):
    assert Expr("var", "crm.vip").evaluate(scope) is True
    assert Expr("var", "crm.tags.1").evaluate(scope) == "b"
    assert Expr("var", "call.from").evaluate(scope) == "+15551230000"
    assert Expr("var", "nothing.here").evaluate(scope) is None


def test_template(scope):
    assert Expr("template", "Hi ${call.from}, ${tries} tries, ${missing}.").evaluate(scope) == \
        "Hi +15551230000, 2 tries, ."
    assert Expr("template", "literal $${x}").evaluate(scope) == "literal ${x}"
    assert Expr("template", "${crm.vip} ${crm.tags}").evaluate(scope) == 'true ["a","b"]'


def test_template_errors_at_compile_time():
    with pytest.raises(ExprError) as exc:
        Expr("template", "Hi ${call.from")
    assert exc.value.code == "E_EXPR_SYNTAX"
    with pytest.raises(ExprError):
        Expr("var", "not a path")


def test_calc(scope):
    assert Expr("calc", "tries + 1").evaluate(scope) == 3
    assert Expr("calc", "unset + 1").evaluate(scope) == 1
    assert Expr("calc", "call.from == '+15551230000' and tries >= 2").evaluate(scope) is True
    assert Expr("calc", "len(digits) == 3").evaluate(scope) is True
    assert Expr("calc", "'ext-' + digits").evaluate(scope) == "ext-123"
    assert Expr("calc", "'few' if tries < 3 else 'many'").evaluate(scope) == "few"
    assert Expr("calc", "1 < tries < 3").evaluate(scope) is True


@pytest.mark.parametrize("src", ["__import__('os')", "lambda: 1", "[1, 2]", "tries.bit_length()", "x = 1"])
def test_calc_refuses_anything_else(src):
    with pytest.raises(ExprError):
        Expr("calc", src)


def test_calc_runtime_type_error(scope):
    with pytest.raises(ExprError) as exc:
        Expr("calc", "crm - 1").evaluate(scope)
    assert exc.value.code == "E_EXPR_RUNTIME"


def test_unknown_language():
    with pytest.raises(ExprError) as exc:
        Expr("cobol", "x")
    assert exc.value.code == "E_EXPR_LANG"


def test_resolve_nested(scope):
    value = {"a": [Expr("var", "tries"), "x"], "b": Expr("template", "${digits}")}
    assert resolve(value, scope) == {"a": [2, "x"], "b": "123"}


@pytest.mark.parametrize("value,expected", [
    (None, False), (False, False), (0, False), (0.0, False), ("", False), (float("nan"), False),
    ([], True), ({}, True), ("0", True), (1, True), (True, True),
])
def test_truthiness_follows_javascript(value, expected):
    assert truthy(value) is expected


def test_conditions(scope):
    assert parse_cond({"eq": [{"$expr": "var", "src": "tries"}, 2]}).evaluate(scope)
    assert not parse_cond({"eq": [{"$expr": "var", "src": "crm.vip"}, 1]}).evaluate(scope)  # true is not 1
    assert parse_cond({"match": [{"$expr": "var", "src": "call.from"}, r"\+1555.*"]}).evaluate(scope)
    assert not parse_cond({"match": [{"$expr": "var", "src": "call.from"}, r"555"]}).evaluate(scope)  # full match
    assert parse_cond({"all": [True, {"not": False}, {"any": [False, {"$expr": "calc", "src": "tries > 1"}]}]}).evaluate(scope)


def test_condition_json_round_trip():
    data = {"all": [True, {"not": {"eq": [{"$expr": "var", "src": "a"}, "x"]}}, {"match": ["abc", "a.c"]}]}
    assert parse_cond(data).to_json() == data


@pytest.mark.parametrize("bad,where", [
    ({"eq": [1]}, ("eq",)),
    ({"match": ["x", "("]}, ("match", 1)),
    ({"all": {"x": 1}}, ("all",)),
    ({"a": 1, "b": 2}, ()),
    ("text", ()),
])
def test_malformed_conditions_say_where(bad, where):
    with pytest.raises(CondError) as exc:
        parse_cond(bad)
    assert exc.value.path == where


def test_json_equal():
    assert json_equal(1, 1.0) and not json_equal(True, 1) and json_equal([1, {"a": "b"}], (1, {"a": "b"}))
    assert not json_equal({"a": 1}, {"a": 1, "b": 2}) and not json_equal("1", 1)
