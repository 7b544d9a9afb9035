"""Every invalid input of the grammar gives exactly one clear diagnostic, at the author's line."""

import pytest

from tests.formats.actions10._a10 import one_problem, script


def steps(*lines: str) -> str:
    body = "\n".join("      " + line for line in lines)
    return "variables: {$x: 1}\nbranches:\n  inbound-call:\n    actions:\n" + body + "\n  other: {actions: []}\n"


CASES = [
    # (name, script, code, line, words in the message)
    ("unknown top key", "descripton: x\nbranches: {inbound-call: {actions: []}}\n", "E_UNKNOWN_KEY", 1, "did you mean 'description'"),
    ("no branches", "description: x\n", "E_SHAPE", 1, "branches"),
    ("branches not a mapping", "branches: [1]\n", "E_SHAPE", 1, "branches"),
    ("variable without $", "variables: {target: 1}\nbranches: {inbound-call: {actions: []}}\n", "E_VAR_NAME", 1, "target"),
    ("bad branch name", "branches:\n  inbound-call: {actions: []}\n  'my branch': {actions: []}\n", "E_BRANCH_NAME", 3, "my branch"),
    ("no entry branch", "branches:\n  menu: {actions: []}\n", "E_NO_ENTRY", 1, "entry"),
    ("unknown branch key", "branches:\n  inbound-call: {steps: []}\n", "E_UNKNOWN_KEY", 2, "steps"),
    ("unknown defaults key", "defaults: {autoanswer: false}\nbranches: {inbound-call: {actions: []}}\n", "E_UNKNOWN_KEY", 1,
     "autoAnswer"),
    ("bad default language", "defaults: {language: English}\nbranches: {inbound-call: {actions: []}}\n", "E_PARAM_VALUE", 1,
     "language"),
    ("bad compat", "compat: {version: soon}\nbranches: {inbound-call: {actions: []}}\n", "E_SHAPE", 1, "YYYY-MM-DD"),
    ("unknown step key", steps("- action: answer@v1", "  param: {}"), "E_UNKNOWN_KEY", 6, "did you mean 'params'"),
    ("two kinds", steps("- action: answer@v1", "  goto: {branch: other}"), "E_STEP_SHAPE", 5, "exactly one"),
    ("no kind", steps("- if: true"), "E_STEP_SHAPE", 5, "exactly one"),
    ("params on goto", steps("- goto: {branch: other}", "  params: {}"), "E_STEP_SHAPE", 6, "params"),
    ("else without then", steps("- action: answer@v1", "  else: []"), "E_STEP_SHAPE", 6, "else"),
    ("then without if", steps("- then: []"), "E_STEP_SHAPE", 5, "if"),
    ("goto shape", steps("- goto: other"), "E_STEP_SHAPE", 5, "branch"),
    ("unknown goto target", steps("- goto: {branch: othre}"), "E_UNKNOWN_BRANCH", 5, "did you mean 'other'"),
    ("unknown answerOnBranch", steps("- action: dial@v1",
                                     "  params: {targets: [{number: '+15551112222'}], answerOnBranch: nope}"),
     "E_UNKNOWN_BRANCH", 6, "nope"),
    ("unknown action", steps("- action: sya@v2"), "E_UNKNOWN_ACTION", 5, "did you mean 'say@v2'"),
    ("unknown version", steps("- action: say@v1"), "E_UNKNOWN_ACTION", 5, "say@v2"),
    ("malformed action id", steps("- action: say"), "E_UNKNOWN_ACTION", 5, "name@vN"),
    ("memcache", steps("- action: memcache@v1"), "E_UNSUPPORTED_ACTION", 5, "plugin"),
    ("voicebot", steps("- action: voicebot@v1"), "E_UNSUPPORTED_ACTION", 5, "plugin"),
    ("unknown param", steps("- action: say@v2", "  params: {wht: Hi}"), "E_UNKNOWN_KEY", 6, "did you mean 'what'"),
    ("missing param", steps("- action: say@v2"), "E_MISSING_PARAM", 5, "what"),
    ("phone as a number", steps("- action: dial@v1", "  params: {targets: [{number: +33612345678}]}"),
     "E_PARAM_TYPE", 6, "E.164"),
    ("bad phone", steps("- action: sms@v1", "  params: {to: ['0612'], body: x}"), "E_PARAM_VALUE", 6, "0612"),
    ("timeout out of range", steps("- action: dial@v1", "  params: {targets: [{number: '+15551112222', timeout: 2}]}"),
     "E_PARAM_VALUE", 6, "5..300"),
    ("no targets", steps("- action: dial@v1", "  params: {targets: []}"), "E_PARAM_VALUE", 6, "items"),
    ("maxDigits 0", steps("- action: gather@v2", "  params: {maxDigits: 0}"), "E_PARAM_VALUE", 6, "1..32"),
    ("bool as text", steps("- action: record@v1", "  params: {beep: 'no'}"), "E_PARAM_TYPE", 6, "true or false"),
    ("bad method", steps("- action: fetch@v2", "  params: {url: 'https://x', method: FETCH}"), "E_PARAM_VALUE", 6,
     "GET"),
    ("bad url", steps("- action: fetch@v2", "  params: {url: 'ftp://x'}"), "E_PARAM_VALUE", 6, "URL"),
    ("mixed text where one expression is needed", steps("- action: play@v1", "  params: {media: 1, loop: 'a${{ 1 }}'}"),
     "E_PARAM_TYPE", 6, "exactly one"),
    ("unterminated template", steps("- action: say@v2", "  params: {what: 'Hi ${{ $x'}"), "E_TEMPLATE", 6, "never closed"),
    ("template syntax", steps("- action: say@v2", "  params: {what: 'Hi ${{ $x + }}'}"), "E_EXPR_SYNTAX", 6, "Syntax"),
    ("if syntax", steps("- if: '$x >'", "  goto: {branch: other}"), "E_EXPR_SYNTAX", 5, "Syntax"),
    ("if type", steps("- if: 3", "  goto: {branch: other}"), "E_STEP_SHAPE", 5, "JavaScript"),
    ("script syntax", steps("- action: javascript@v1", "  params: {code: '$x = '}"), "E_EXPR_SYNTAX", 6, "Syntax"),
    ("script assigns call", steps("- action: javascript@v1", "  params: {code: 'call = 1'}"), "E_RESERVED_ASSIGN", 6,
     "call"),
    ("result on an action without one", steps("- action: say@v2", "  params: {what: x}", "  result: $r"),
     "E_STEP_SHAPE", 7, "no result"),
    ("result without $", steps("- action: gather@v2", "  params: {maxDigits: 1}", "  result: r"), "E_VAR_NAME", 7, "$"),
    ("unknown event", steps("- action: startRecording@v1", "  events: {done: []}"), "E_UNKNOWN_EVENT", 6, "ready"),
    ("event on an action without events", steps("- action: dial@v1",
                                                 "  params: {targets: [{number: '+15551112222'}]}",
                                                 "  events: {ready: []}"), "E_UNKNOWN_EVENT", 7, "none"),
    ("params not a mapping", steps("- action: say@v2", "  params: [1]"), "E_PARAM_TYPE", 6, "mapping"),
    ("nested prompt key", steps("- action: gather@v2", "  params: {maxDigits: 1, prompt: {text: x}}"),
     "E_UNKNOWN_KEY", 6, "what"),
]


@pytest.mark.parametrize("name, text, code, line, words", CASES, ids=[c[0] for c in CASES])
def test_one_clear_diagnostic(name, text, code, line, words):
    diag = one_problem(text)
    assert diag.code == code, diag.render()
    assert diag.span.line == line, diag.render()
    assert words in diag.message or words in (diag.hint or ""), diag.render()
    assert diag.render().startswith(f"t.actions.yaml:{line}:")


def test_several_problems_are_all_reported_in_file_order():
    from tests.formats.actions10._a10 import problems

    found = problems(steps("- action: sya@v2", "- goto: {branch: nope}", "- action: say@v2"))
    assert [(d.code, d.span.line) for d in found] == [
        ("E_UNKNOWN_ACTION", 5), ("E_UNKNOWN_BRANCH", 6), ("E_MISSING_PARAM", 7)]


def test_a_bad_result_does_not_hide_the_steps_other_problems():
    from tests.formats.actions10._a10 import problems

    found = problems(steps("- action: dial@v1",
                           "  params: {targets: [{number: '+15551112222'}], answerOnBranch: nope}",
                           "  result: x"))
    assert [(d.code, d.span.line) for d in found] == [("E_UNKNOWN_BRANCH", 6), ("E_VAR_NAME", 7)]


def test_warnings_do_not_stop_the_compile():
    flow = script("branches:\n  inbound-call:\n    - action: say@v2\n      params: {what: '${{ $who }}'}\n")
    assert [(w["code"], w["line"]) for w in flow.meta["warnings"]] == [("W_BRANCH_SHORTHAND", 2),
                                                                        ("W_UNDECLARED_VAR", 4)]


def test_assigned_or_result_variables_are_not_undeclared():
    flow = script(steps("- action: gather@v2", "  params: {maxDigits: 1}", "  result: $g",
                        "- action: javascript@v1", "  params: {code: '$n = $g.digits'}",
                        "- action: say@v2", "  params: {what: '${{ $n }} ${{ $x }}'}"))
    assert "warnings" not in flow.meta
