"""The `js`, `js-template` and `js-script` languages: scanning, typing, the sandbox and its limits."""

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from flowengine.expr import Expr, ExprError, Scope, expr_names
from flowengine.expr import js
from flowengine.expr.js import TemplatePart, single_expression, split_template

AT = datetime(2025, 3, 31, 9, 15, tzinfo=timezone.utc)
CALL = {"id": "c-1", "trigger": "inbound-call", "from": "+33639980042", "to": "+33199001234",
        "at": "2025-03-31T09:15:00Z"}


def scope(vars=None, trigger="inbound-call", declared=(), **builtins):
    return Scope(dict(vars or {}), {"call": {**CALL, "trigger": trigger}, **builtins}, now=lambda: AT,
                 declared=declared)


def ev(src, sc=None, lang="js"):
    return Expr(lang, src).evaluate(sc or scope())


# -- scanning ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, parts", [
    ("plain", ["plain"]),
    ("a ${{ 1 }} b", ["a ", "1", " b"]),
    ("${{ JSON.stringify({a: {b: 1}}) }}", ["JSON.stringify({a: {b: 1}})"]),
    ("${{ '}}' + \"}}\" }}!", ["'}}' + \"}}\"", "!"]),
    ("${{ /}}/.test(x) }}", ["/}}/.test(x)"]),
    ("${{ `a${ {b: 1}.b }}` }}", ["`a${ {b: 1}.b }}`"]),
    ("${{ a /* }} */ }}", ["a /* }} */"]),
    ("${{ a / b }}${{c}}", ["a / b", "c"]),
])
def test_split_template_finds_the_closing_braces_at_depth_zero(text, parts):
    got = [p.src if isinstance(p, TemplatePart) else p for p in split_template(text)]
    assert got == parts


@pytest.mark.parametrize("text, code", [
    ("${{ 1 ", "E_TEMPLATE"), ("a ${{ ( }}", "E_EXPR_SYNTAX"), ("${{ 'x }}", "E_EXPR_SYNTAX"),
    ("${{ ) }}", "E_EXPR_SYNTAX"), ("${{ /* }}", "E_EXPR_SYNTAX"),
])
def test_split_template_errors(text, code):
    with pytest.raises(ExprError) as info:
        split_template(text)
    assert info.value.code == code


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("${}()[]'\"`/\\*ab \n+;")), max_size=40) | st.text(max_size=40))
def test_the_template_scanner_never_crashes(text):
    try:
        split_template(text)
        js.read_names(text)
    except ExprError as exc:
        assert exc.code in ("E_TEMPLATE", "E_EXPR_SYNTAX")


def test_single_expression():
    assert single_expression("  ${{ $a }} ") == "$a"
    assert single_expression("x${{ $a }}") is None
    assert single_expression("${{ $a }}${{ $b }}") is None


def test_compile_time_syntax_errors_carry_offsets():
    with pytest.raises(ExprError) as info:
        Expr("js-template", "Hi ${{ 1 + }}")
    assert info.value.code == "E_EXPR_SYNTAX" and info.value.offset == 10  # just after "1 +"
    with pytest.raises(ExprError) as info:
        Expr("js", "a; b")
    assert info.value.code == "E_EXPR_SYNTAX"
    with pytest.raises(ExprError):
        Expr("js", "1) + (2")  # cannot break out of the expression wrapper
    with pytest.raises(ExprError) as info:
        Expr("js-script", "$a = 1;\ncall.x = 2")
    assert info.value.code == "E_RESERVED_ASSIGN" and info.value.offset == 8


# -- values --------------------------------------------------------------------------------------------


def test_one_expression_keeps_its_type_a_template_is_text():
    sc = scope({"$n": 2, "$o": {"a": [1, 2]}, "$u": None})
    assert ev("$n * 2", sc) == 4
    assert ev("$o", sc) == {"a": [1, 2]}
    assert ev("[$n, true, null]", sc) == [2, True, None]
    assert ev("n=${{ $n }} o=${{ $o }} a=${{ $o.a }} u=${{ undefined }} z=${{ $u }}", sc, "js-template") == \
        "n=2 o=[object Object] a=1,2 u=undefined z=null"
    assert ev("1.5") == 1.5 and isinstance(ev("2 ** 40"), int)


def test_declared_but_unset_is_undefined_and_undeclared_is_a_reference_error():
    sc = scope({}, declared=("$user",))
    assert ev("typeof $user", sc) == "undefined"
    with pytest.raises(ExprError) as info:
        ev("$nobody", sc)
    assert info.value.code == "E_EXPR_RUNTIME" and "ReferenceError" in info.value.message


def test_variables_changed_by_the_run_are_seen():
    sc = scope({"$n": 1, "$o": {"k": 1}})
    assert ev("$n + $o.k", sc) == 2
    sc.vars["$n"] = 10
    sc.vars["$o"]["k"] = 5  # changed in place: still noticed
    assert ev("$n + $o.k", sc) == 15
    del sc.vars["$n"]
    with pytest.raises(ExprError):
        ev("$n", sc)


def test_expressions_cannot_change_variables_or_pre_defined_objects():
    sc = scope({"$n": 1, "$l": [1]})
    for src, code in (("$n = 2", "E_EXPR_RUNTIME"), ("$l.push(2)", "E_EXPR_RUNTIME"),
                      ("call.fromNumber = ''", "E_RESERVED_ASSIGN")):
        with pytest.raises(ExprError) as info:
            ev(src, sc)
        assert info.value.code == code
    assert ev("[$n, $l]", sc) == [1, [1]]


def test_a_script_returns_what_it_changed():
    sc = scope({"$n": 1, "$l": [1], "$same": "x"})
    changed = ev("$n++; $l.push(2); $new = {a: 1}; $same = 'x'; let local = 5", sc, "js-script")
    assert changed == {"$n": 2, "$l": [1, 2], "$new": {"a": 1}}
    sc.vars.update(changed)
    assert ev("[$n, $l, $new.a]", sc) == [2, [1, 2], 1]


def test_a_failed_script_leaves_no_half_writes():
    sc = scope({"$n": 1})
    with pytest.raises(ExprError):
        ev("$n = 5; $m = 1; throw new Error('boom')", sc, "js-script")
    assert ev("$n", sc) == 1
    assert ev("typeof $m", sc) == "undefined"


def test_a_script_cannot_assign_pre_defined_objects_at_run_time():
    with pytest.raises(ExprError) as info:
        ev("const c = call; c.cdr.callid = 1", scope(), "js-script")
    assert info.value.code == "E_RESERVED_ASSIGN"


# -- the sandbox ---------------------------------------------------------------------------------------


def test_no_host_access():
    assert ev("[typeof std, typeof os, typeof require, typeof fetch, typeof process, typeof performance]") == \
        ["undefined"] * 6
    with pytest.raises(ExprError):
        ev("load('/etc/passwd')")


def test_time_is_the_runs_clock_and_local_time_is_utc():
    assert ev("now.toISOString()") == "2025-03-31T09:15:00.000Z"
    assert ev("[new Date().getTime() === now.getTime(), Date.now() === now.getTime()]") == [True, True]
    assert ev("[now.getHours(), now.getDay(), now.getTimezoneOffset()]") == [9, 1, 0]
    assert ev("new Date('2025-01-02T03:04:05').toISOString()") == "2025-01-02T03:04:05.000Z"
    assert ev("new Date(2025, 0, 2, 3).toISOString()") == "2025-01-02T03:00:00.000Z"


def test_math_random_is_seeded_by_the_call():
    a, b = ev("[Math.random(), Math.random()]"), ev("[Math.random(), Math.random()]")
    assert a == b and a[0] != a[1]


def test_an_endless_loop_is_stopped_and_the_context_stays_usable(monkeypatch):
    monkeypatch.setattr(js, "LIMITS", js.JsLimits(time=0.02))
    sc = scope({"$n": 1})
    with pytest.raises(ExprError) as info:
        ev("while (true) {}", sc, "js-script")
    assert info.value.code == "E_EXPR_TIMEOUT"
    assert ev("$n + 1", sc) == 2


def test_memory_is_limited(monkeypatch):
    monkeypatch.setattr(js, "LIMITS", js.JsLimits(memory=4 * 1024 * 1024))
    sc = scope({"$n": 1})
    with pytest.raises(ExprError) as info:
        ev("(() => { const a = []; while (true) a.push('x'.repeat(1000) + a.length); })()", sc)
    assert info.value.code == "E_EXPR_MEMORY"
    assert ev("$n", sc) == 1  # a fresh context, variables copied in again


def test_deep_recursion_is_an_error_not_a_crash():
    with pytest.raises(ExprError) as info:
        ev("(function f() { return f(); })()")
    assert info.value.code == "E_EXPR_RUNTIME"


def test_functions_are_not_values():
    with pytest.raises(ExprError):
        ev("() => 1")


# -- pre-defined objects -------------------------------------------------------------------------------


def test_call_from_the_neutral_built_ins():
    call = ev("call")
    assert call["fromNumber"] == "+33639980042" and call["toNumber"] == "+33199001234"
    assert call["fromCountry"] == "FR" and call["toType"] == "FIXED_LINE"
    assert call["cdr"]["callerRestricted"] is False and call["cdr"]["started"] == "2025-03-31T09:15:00.000Z"
    hidden = Scope({}, {"call": {**CALL, "from": "anonymous"}}, now=lambda: AT)
    assert ev("[call.fromNumber, call.cdr.callerRestricted, call.cdr.callerNumber]", hidden) == ["", True, ""]


def test_cdr_follows_the_legs():
    legs = {"A": {"started_at": 0.0, "answered_at": 1.5, "ended_at": 61.5, "ended_by": "caller", "cause": None}}
    cdr = ev("call.cdr", scope(legs=legs))
    assert (cdr["answered"], cdr["ended"], cdr["durationAnswered"], cdr["durationTotal"], cdr["hangupSource"],
            cdr["hangupCause"], cdr["status"]) == \
        ("2025-03-31T09:15:01.500Z", "2025-03-31T09:16:01.500Z", 60, 62, "caller", 16, "ANSWER")


def test_objects_exist_only_for_their_trigger():
    assert ev("[typeof call, typeof sms, run.type]", scope(trigger="api")) == ["undefined", "undefined", "api"]
    sms = scope(trigger="inbound-sms", sms={"from": "+33639980042", "to": "+33199001234", "body": "é" * 71})
    assert ev("[sms.bodyText.length, sms.encoding, sms.parts, sms.fromNumber, run.id]", sms) == \
        [71, "gsm", 1, "+33639980042", "inbound-sms:c-1"]
    assert ev("sms.encoding", scope(trigger="inbound-sms", sms={"body": "€ 😀"})) == "unicode"
    assert ev("[typeof recording, scenario.name, app.package]", scope(flow={"name": "demo"})) == \
        ["undefined", "demo", "ACTIONS10"]
    rec = scope(recording={"url": "https://rec.example/rec_007.wav", "duration": 41.6, "transcribe": "fr-FR"})
    assert ev("recording", rec) == {"sid": "rec_007", "duration": 42, "url": "https://rec.example/rec_007.wav",
                                    "transcription": {"language": "fr-FR"}}


def test_names_lists_top_level_reads():
    assert expr_names(Expr("js", "$a.b + call.fromNumber + f({k: $c})")) >= {"$a", "call", "f", "$c"}
    assert "b" not in expr_names(Expr("js", "$a.b"))
    assert expr_names(Expr("js-template", "x ${{ $a }} ${{ $b.c }}")) == {"$a", "$b"}
