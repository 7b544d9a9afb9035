"""The `url-template`, `cond` and `vars` expression languages."""

from __future__ import annotations

import pytest

from flowengine.expr import Expr, ExprError, Scope


def test_url_template_percent_encodes_only_the_values():
    expr = Expr("url-template", "https://x.example/a b?c=${c}&d=${d.e}&e=${missing}")
    scope = Scope({"c": "+1 555/&?=", "d": {"e": 5}})
    assert expr.evaluate(scope) == "https://x.example/a b?c=%2B1%20555%2F%26%3F%3D&d=5&e="
    assert Expr("url-template", "$${literal}").evaluate(scope) == "${literal}"


def test_cond_evaluates_a_condition_as_a_boolean():
    expr = Expr("cond", '{"all": [{"eq": [{"$expr": "var", "src": "a"}, 1]}, {"not": {"match": ["x", "y"]}}]}')
    assert expr.evaluate(Scope({"a": 1})) is True and expr.evaluate(Scope({"a": 2})) is False
    with pytest.raises(ExprError):
        Expr("cond", "{not json")
    with pytest.raises(ExprError):
        Expr("cond", '{"eqq": [1, 1]}')


def test_vars_collects_the_variables_whose_names_match_sorted():
    expr = Expr("vars", "^[a-z_]+$")
    assert expr.evaluate(Scope({"zeta": "1", "IVR_f_main": 2, "alpha": "x"})) == {"alpha": "x", "zeta": "1"}
    with pytest.raises(ExprError):
        Expr("vars", "(")
