"""Lint (flowengine/ir/analysis.py): one fixture per finding, the checks' edges, suppression, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine import formats
from flowengine.cli import main
from flowengine.errors import FlowError
from flowengine.expr import Expr, register_language
from flowengine.expr.conditions import Cond, register_condition
from flowengine.ir import decode
from flowengine.ir.analysis import RULES, lint, static_truth
from flowengine.ir.dataflow import BUILTIN_NAMES
from flowengine.ir.flowgraph import possible_outcomes
from flowengine.ir.model import Flow, Say, State
from flowengine.runtime.interpreter import RESERVED
from flowengine.testing.runner import simulate
from tests.ir.flowgen import flows

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def codes(data: dict, **kwargs) -> list[str]:
    return lint(decode(data), **kwargs).codes()


def fixture_name(code: str) -> str:
    return code.removeprefix("L_").lower().replace("_", "-") + ".flow.json"


# -- one fixture per finding -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(RULES))
def test_each_finding_has_a_fixture_that_produces_exactly_it(code):
    result = lint(formats.load(FIXTURES / fixture_name(code)))
    assert result.codes() and set(result.codes()) == {code}, [f.message for f in result.findings]
    for finding in result.findings:
        assert finding.severity == RULES[code].severity
        assert finding.hint and finding.message and "\n" not in finding.message
        assert finding.span is not None and finding.span.file.endswith(fixture_name(code))


DIALECTS = {"actions10": ".actions.yaml", "ivr": ".ivr.yaml", "inboundxml": ".xml"}
CANNOT_ARISE = {  # (dialect, code): why no source in that dialect can produce the finding
    ("actions10", "L_DEAD_EDGE"): "the compiler writes its own edges; a dialect's dead edge is reported only "
                                  "when it hides states, and every ACTIONS10 step continues with the next",
    ("actions10", "L_DEAD_END"): "gather@v2 continues with the next step whatever the caller does",
    ("actions10", "L_UNUSED_SOUND"): "ACTIONS10 has no sound catalogue",
    ("actions10", "L_NEVER_ACTIVE"): "`if:` conditions are JavaScript, which lint does not evaluate",
    ("actions10", "L_DIAL_NO_ANSWER"): "dial@v1 continues with the next step on every outcome",
    ("ivr", "L_DEAD_EDGE"): "the compiler writes every edge to a state that also runs another way",
    ("ivr", "L_DEAD_END"): "a menu's timeout and invalid options always exist (default: replay the menu)",
    ("ivr", "L_UNUSED_RESULT"): "collect and survey store into the author's `var`, reported as a variable",
    ("ivr", "L_DIAL_NO_ANSWER"): "transfer handles every outcome (final: hang up; otherwise the next step)",
    ("inboundxml", "L_UNREACHABLE"): "verbs form one sequence: a verb nothing reaches comes after a hand-off",
    ("inboundxml", "L_UNUSED_BRANCH"): "a document has no branches; fetched documents are not in the flow",
    ("inboundxml", "L_DEAD_EDGE"): "the compiler writes every edge to a state that also runs another way",
    ("inboundxml", "L_DEAD_END"): "<Gather> goes on with the next verb on no input",
    ("inboundxml", "L_ENDLESS_LOOP"): "a document has no loops; <Redirect> leaves the flow",
    ("inboundxml", "L_UNBOUNDED_LOOP"): "a document has no loops; <Redirect> leaves the flow",
    ("inboundxml", "L_UNSET_VARIABLE"): "documents have no variables of their own",
    ("inboundxml", "L_UNUSED_VARIABLE"): "documents have no variables of their own",
    ("inboundxml", "L_UNUSED_RESULT"): "documents have no variables of their own",
    ("inboundxml", "L_UNUSED_SOUND"): "InboundXML has no sound catalogue",
    ("inboundxml", "L_NEVER_ACTIVE"): "InboundXML has no conditions",
    ("inboundxml", "L_DIAL_NO_ANSWER"): "<Dial> goes on with the next verb on every outcome",
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_each_finding_has_a_dialect_fixture_or_cannot_arise(dialect):
    for code in RULES:
        path = FIXTURES / dialect / fixture_name(code).replace(".flow.json", DIALECTS[dialect])
        assert path.exists() != ((dialect, code) in CANNOT_ARISE), (dialect, code)


def dialect_fixtures() -> list[Path]:
    return sorted(p for d in DIALECTS for p in (FIXTURES / d).iterdir())


@pytest.mark.parametrize("path", dialect_fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dialect_fixture(path):
    slug = path.name.split(".")[0]
    if slug == "missing-target":  # the dialect reports its own missing targets when it compiles
        with pytest.raises(FlowError) as exc:
            formats.load(path)
        assert "did you mean" in exc.value.diagnostics[0].message
        return
    result = lint(formats.load(path))
    expected = set()
    if slug != "clean":
        expected.add("L_" + slug.upper().replace("-", "_"))
    also = re.search(r"expect-also: ([A-Z_, ]+)", path.read_text())
    if also:
        expected |= {code.strip() for code in also.group(1).split(",")}
    assert set(result.codes()) == expected, [f.diagnostic().render() for f in result.findings]
    for finding in result.findings:
        assert finding.span is not None and finding.span.file == str(path)


def test_clean_fixture_has_no_findings():
    result = lint(formats.load(FIXTURES / "clean.flow.json"))
    assert result.findings == [] and result.suppressed == []


def test_every_code_is_documented_with_an_example_and_a_fix():
    docs = (ROOT / "docs" / "lint.md").read_text()
    for code in RULES:
        section = docs.split(f"### {code}", 1)
        assert len(section) == 2, f"docs/lint.md has no section for {code}"
        body = section[1].split("\n### ", 1)[0]
        assert "```" in body and "Fix" in body, f"{code}: the docs need an example and a fix"


def test_missing_target_is_reported_with_the_validators_code():
    flow = Flow(name="raw", states={"a": State("a", Say(text="hi"), {"ok": "goodby"}), "goodbye": State("goodbye", Say(text="x"))},
                entry="a")
    result = lint(flow)
    assert "E_UNKNOWN_STATE" in result.codes() and result.has_errors
    assert "did you mean 'goodbye'" in next(f.message for f in result.findings if f.code == "E_UNKNOWN_STATE")


def test_builtin_names_are_the_interpreters_reserved_names():
    assert BUILTIN_NAMES == RESERVED


# -- reachability ----------------------------------------------------------------------------------------


def test_unreachable_region_is_reported_once_at_its_head():
    result = lint(formats.load(FIXTURES / "unreachable.flow.json"))
    assert len(result.findings) == 1
    assert result.findings[0].state == "old_promo" and "and the 1 state after it" in result.findings[0].message


def test_unreachable_cycle_is_reported_once():
    found = lint(decode({"entry": "a", "states": {
        "a": {"op": "hangup"},
        "b": {"op": "say", "text": "x", "next": "c"},
        "c": {"op": "say", "text": "y", "next": "b"},
    }})).findings
    assert [f.code for f in found] == ["L_UNREACHABLE"] and "1 state after it" in found[0].message


def test_states_reached_only_through_a_subroutine_are_reachable():
    assert codes({"entry": "a", "states": {
        "a": {"op": "call", "entry": "sub", "next": "end"},
        "sub": {"op": "say", "text": "in the subroutine"},
        "end": {"op": "hangup"},
    }}) == []


def test_in_a_dialect_steps_written_after_a_hangup_are_after_a_handoff():
    data = {"entry": "a", "dialect": "inboundxml", "states": {
        "a": {"op": "say", "text": "bye", "next": "b", "span": {"file": "x.xml", "line": 2, "col": 3}},
        "b": {"op": "hangup", "span": {"file": "x.xml", "line": 3, "col": 3}},
        "c": {"op": "say", "text": "never", "span": {"file": "x.xml", "line": 4, "col": 3}},
    }}
    found = lint(decode(data)).findings
    assert [f.code for f in found] == ["L_AFTER_HANDOFF"] and "after the hangup in 'b'" in found[0].message
    data["dialect"] = "ir"  # in IR JSON, states are a map: order in the file means nothing
    assert [f.code for f in lint(decode(data)).findings] == ["L_UNREACHABLE"]


def test_dead_edge_target_is_not_reported_twice():
    result = lint(formats.load(FIXTURES / "dead-edge.flow.json"))
    assert result.codes() == ["L_DEAD_EDGE"]  # 'sales' is only reachable through the dead edge


def test_possible_outcomes_of_collect():
    def collect(**kw):
        return decode({"entry": "c", "states": {"c": {"op": "collect", **kw}}}).states["c"].op

    assert possible_outcomes(collect()) == {"ok", "timeout"}
    assert possible_outcomes(collect(min_digits=2, max_digits=4)) == {"ok", "timeout", "invalid"}
    assert possible_outcomes(collect(choices=["1"])) == {"match:1", "timeout", "invalid"}
    assert possible_outcomes(collect(min_digits={"$expr": "var", "src": "n"})) == {"ok", "timeout", "invalid"}


@settings(max_examples=60, deadline=None)
@given(choices=st.one_of(st.none(), st.lists(st.sampled_from(["1", "2", "12"]), min_size=1, max_size=3, unique=True)),
       min_digits=st.integers(0, 3), keys=st.sampled_from(["", "1", "2", "12", "123", "9#"]))
def test_possible_outcomes_agrees_with_the_interpreter(choices, min_digits, keys):
    op = {"op": "collect", "max_digits": 3, "min_digits": min_digits, "timeout": 2}
    if choices is not None:
        op["choices"] = choices
    flow = decode({"entry": "c", "states": {"c": op}})
    transcript = simulate(flow, {"caller": [keys or "timeout"]})
    (outcome,) = [o for name, sid, o in transcript.steps if sid == "c"]
    assert outcome in possible_outcomes(flow.states["c"].op)


# -- dead ends and dials ---------------------------------------------------------------------------------


def test_dead_end_needs_only_the_outcomes_the_op_can_produce():
    # without choices and with min_digits 1, input is never invalid: timeout alone is enough
    assert codes({"entry": "c", "states": {
        "c": {"op": "collect", "edges": {"ok": "bye", "timeout": "bye"}}, "bye": {"op": "hangup"}}}) == []
    assert codes({"entry": "c", "states": {
        "c": {"op": "collect", "choices": ["1"], "edges": {"match:1": "bye", "timeout": "bye"}},
        "bye": {"op": "hangup"}}}) == ["L_DEAD_END"]


def test_a_last_recording_without_edges_is_not_a_dead_end():
    assert codes({"entry": "r", "states": {"r": {"op": "record"}}}) == []
    assert codes({"entry": "r", "states": {"r": {"op": "record", "edges": {"ok": "bye"}}, "bye": {"op": "hangup"}}}) \
        == ["L_DEAD_END"]


def test_dial_without_edges_ends_the_flow_on_purpose():
    assert codes({"entry": "d", "states": {"d": {"op": "dial", "targets": ["+15551112222"]}}}) == []


# -- loops -----------------------------------------------------------------------------------------------


MENU_LOOP = {
    "menu": {"op": "collect", "choices": ["1"], "edges": {"match:1": "bye", "timeout": "count", "invalid": "count"}},
    "count": {"op": "set", "name": "tries", "value": {"$expr": "calc", "src": "tries + 1"}, "next": "check"},
    "check": {"op": "branch", "cases": [{"key": "out", "when": {"$expr": "calc", "src": "tries >= 3"}}],
              "edges": {"match:out": "bye", "ok": "menu"}},
    "bye": {"op": "hangup"},
}


def test_a_counted_retry_loop_is_fine():
    assert codes({"entry": "menu", "variables": {"tries": 0}, "states": MENU_LOOP}) == []


def test_a_loop_that_tests_a_variable_it_never_changes_is_unbounded():
    states = json.loads(json.dumps(MENU_LOOP))
    states["count"] = {"op": "log", "message": "again", "next": "check"}
    assert codes({"entry": "menu", "variables": {"tries": 0}, "states": states}) == ["L_UNBOUNDED_LOOP"]


def test_a_lifetime_bounds_a_loop_that_plays_media():
    data = json.loads((FIXTURES / "endless-loop.flow.json").read_text())
    assert codes(data) == ["L_ENDLESS_LOOP"]
    data["lifetime"] = 600
    assert codes(data) == []


def test_a_lifetime_does_not_bound_a_loop_where_no_time_passes():
    data = {"entry": "a", "lifetime": 600, "states": {"a": {"op": "goto", "next": "a"}}}
    assert codes(data) == ["L_ENDLESS_LOOP"]


def test_polling_without_a_counter_is_unbounded():
    assert codes({"entry": "poll", "states": {
        "poll": {"op": "http", "url": "https://example.com/ready", "edges": {"ok": "wait", "error": "bye"}},
        "wait": {"op": "silence", "seconds": 5, "next": "poll"},
        "bye": {"op": "hangup"},
    }}) == ["L_UNBOUNDED_LOOP"]


def test_a_menu_that_loops_only_on_input_is_fine():
    # pressing 9 replays the menu: that needs the caller to press a key every time
    assert codes({"entry": "menu", "states": {
        "menu": {"op": "collect", "choices": ["1", "9"],
                 "edges": {"match:1": "bye", "match:9": "menu", "timeout": "bye", "invalid": "bye"}},
        "bye": {"op": "hangup"},
    }}) == []


def test_a_menu_every_key_of_which_loops_back_is_endless():
    found = codes({"entry": "menu", "states": {
        "menu": {"op": "collect", "choices": ["9"], "edges": {"match:9": "menu", "timeout": "menu", "invalid": "menu"}},
    }})
    assert found == ["L_ENDLESS_LOOP"]


def test_a_redirect_leaves_a_loop():
    assert codes({"entry": "a", "states": {
        "a": {"op": "say", "text": "x", "next": "doc"},
        "doc": {"op": "document", "url": "https://example.com/x.xml", "edges": {"error": "a"}},
    }}) == ["L_UNBOUNDED_LOOP"]  # repeats while fetching fails, but it is not endless


# -- conditions ------------------------------------------------------------------------------------------


@register_condition("_lint_test_interval")
class _Interval(Cond):
    """A stand-in for a dialect's time interval: it knows statically whether it can ever be active."""

    def __init__(self, window: str):
        self.window = window

    @classmethod
    def parse(cls, arg, parse, path):
        return cls(arg)

    def evaluate(self, scope):
        return False

    def to_json(self):
        return {"_lint_test_interval": self.window}

    def static_truth(self):
        return False if self.window == "18:00-18:00" else None

    def never_reason(self):
        return "the interval 18:00-18:00 is empty"

    def __eq__(self, other):
        return isinstance(other, _Interval) and other.window == self.window

    def __hash__(self):
        return hash(self.window)


def test_a_condition_kind_can_say_it_is_never_active():
    found = lint(decode({"entry": "b", "states": {
        "b": {"op": "branch", "cases": [{"key": "open", "when": {"_lint_test_interval": "18:00-18:00"}},
                                        {"key": "day", "when": {"_lint_test_interval": "09:00-17:00"}}],
              "edges": {"match:open": "x", "match:day": "x", "ok": "x"}},
        "x": {"op": "hangup"},
    }})).findings
    assert [f.code for f in found] == ["L_NEVER_ACTIVE"]
    assert "case 'open'" in found[0].message and "18:00-18:00 is empty" in found[0].message


@pytest.mark.parametrize("cond, truth", [
    (True, True), (False, False), ({"not": True}, False), ({"all": [True, {"eq": [1, 1.0]}]}, True),
    ({"any": [False, {"eq": ["a", "b"]}]}, False), ({"match": ["+1900555", "\\+1900.*"]}, True),
    ({"eq": [{"$expr": "var", "src": "x"}, 1]}, None), ({"all": [False, {"$expr": "var", "src": "x"}]}, False),
])
def test_static_truth(cond, truth):
    flow = decode({"entry": "b", "states": {"b": {"op": "branch", "cases": [{"key": "k", "when": cond}]}}})
    assert static_truth(flow.states["b"].op.cases[0].when) is truth


# -- variables -------------------------------------------------------------------------------------------


def test_a_dial_result_is_set_before_on_answer_runs():
    assert codes({"entry": "d", "states": {
        "d": {"op": "dial", "targets": ["+1555"], "result": "dial", "on_answer": "whisper",
              "edges": {"answered": "bye", "no-answer": "bye", "busy": "bye", "failed": "bye"}},
        "whisper": {"op": "say", "text": {"$expr": "template", "src": "status ${dial.status}"}},
        "bye": {"op": "hangup"},
    }}) == []


def test_what_a_subroutine_always_sets_is_set_after_the_call():
    states = {
        "a": {"op": "call", "entry": "sub", "next": "use"},
        "sub": {"op": "set", "name": "x", "value": 1},
        "use": {"op": "say", "text": {"$expr": "template", "src": "${x}"}, "next": "bye"},
        "bye": {"op": "hangup"},
    }
    assert codes({"entry": "a", "states": states}) == []
    states["sub"] = {"op": "branch", "cases": [{"key": "k", "when": {"$expr": "var", "src": "call.from"}}],
                     "edges": {"match:k": "set_x"}}
    states["set_x"] = {"op": "set", "name": "x", "value": 1}
    assert codes({"entry": "a", "states": states}) == ["L_UNSET_VARIABLE"]


def test_reads_in_the_hangup_handler_are_reports_but_the_error_handler_is_checked():
    states = {
        "a": {"op": "collect", "result": "choice", "edges": {"ok": "bye", "timeout": "bye"}},
        "bye": {"op": "hangup"},
        "report": {"op": "log", "message": {"$expr": "var", "src": "choice.digits"}},
    }
    assert codes({"entry": "a", "handlers": {"hangup": "report"}, "states": states}) == []
    assert codes({"entry": "a", "handlers": {"error": "report"}, "states": states}) == ["L_UNSET_VARIABLE"]


def test_unset_variable_is_reported_at_the_read():
    found = lint(formats.load(FIXTURES / "unset-variable.flow.json")).findings
    assert [(f.state, f.code) for f in found] == [("greet", "L_UNSET_VARIABLE")] and "'kind'" in found[0].message


class _Opaque:
    """An expression language that cannot list the names it reads (like `js` before it has a `names` hook)."""

    name = "_lint_test_opaque"

    def compile(self, src):
        return src

    def evaluate(self, compiled, scope):
        return None


register_language(_Opaque())


def test_unknown_reads_switch_off_the_unused_variable_checks():
    data = json.loads((FIXTURES / "unused-variable.flow.json").read_text())
    assert codes(data) == ["L_UNUSED_VARIABLE", "L_UNUSED_VARIABLE"]
    data["states"]["hello"]["text"] = {"$expr": "_lint_test_opaque", "src": "$department + 1"}
    assert codes(data) == []
    assert Expr("_lint_test_opaque", "x").lang == "_lint_test_opaque"


def test_a_flow_that_fetches_documents_has_no_unused_variable_findings():
    data = json.loads((FIXTURES / "unused-variable.flow.json").read_text())
    data["states"]["bye"] = {"op": "document", "url": "https://example.com/next.xml"}
    assert codes(data) == []


# -- suppression -----------------------------------------------------------------------------------------


def test_file_comment_suppresses_with_a_reason(tmp_path):
    path = tmp_path / "dial.flow.json"
    path.write_text((FIXTURES / "dial-no-answer.flow.json").read_text())
    flow = formats.load(path)
    text = "# flowengine-lint: disable=L_DIAL_NO_ANSWER -- the desk always answers\n"
    result = lint(flow, sources={str(path): text})
    assert result.findings == []
    ((finding, why),) = result.suppressed
    assert finding.code == "L_DIAL_NO_ANSWER" and why.reason == "the desk always answers"
    assert why.origin == f"{path}:1"
    # a comment in another file does not apply here
    assert lint(flow, sources={"other.xml": text}).codes() == ["L_DIAL_NO_ANSWER"]


def test_xml_comment_with_a_state_and_an_unknown_code(tmp_path):
    flow = decode({"entry": "a", "states": {
        "a": {"op": "dial", "targets": ["+1"], "edges": {"answered": "b"}, "span": {"file": "m.xml", "line": 3, "col": 1}},
        "b": {"op": "dial", "targets": ["+2"], "edges": {"answered": "c"}, "span": {"file": "m.xml", "line": 4, "col": 1}},
        "c": {"op": "hangup", "span": {"file": "m.xml", "line": 5, "col": 1}},
    }})
    text = "<Response>\n<!-- flowengine-lint: disable=L_DIAL_NO_ANSWER@a,L_DAIL_NO_ANSWER reason here -->\n"
    result = lint(flow, sources={"m.xml": text})
    assert [(f.code, f.state) for f in result.findings] == [("L_BAD_SUPPRESSION", None), ("L_DIAL_NO_ANSWER", "b")]
    assert "did you mean 'L_DIAL_NO_ANSWER'" in result.findings[0].message
    assert str(result.findings[0].span) == "m.xml:2:6"
    assert result.suppressed[0][1].reason == "reason here"


def test_flow_meta_suppression_list_and_mapping():
    data = json.loads((FIXTURES / "unused-variable.flow.json").read_text())
    data["meta"] = {"lint": {"disable": ["L_UNUSED_VARIABLE@mark"]}}
    assert codes(data) == ["L_UNUSED_VARIABLE"]
    data["meta"] = {"lint": {"disable": {"L_UNUSED_VARIABLE": "kept for the reporting job"}}}
    result = lint(decode(data))
    assert result.findings == [] and {s.reason for _, s in result.suppressed} == {"kept for the reporting job"}


def test_disable_argument():
    data = json.loads((FIXTURES / "unused-result.flow.json").read_text())
    assert codes(data, disable=["L_UNUSED_RESULT"]) == []
    with pytest.raises(ValueError, match="unknown code"):
        lint(decode(data), disable=["L_NOPE"])


# -- never crash -----------------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(flows())
def test_lint_never_raises_and_reports_only_known_codes(flow):
    result = lint(flow)
    for finding in result.findings:
        assert finding.code in RULES
        assert finding.message and finding.severity in ("error", "warning", "note")
        assert finding.state is None or finding.state in flow.states


@settings(max_examples=40, deadline=None)
@given(flows(dialect="ivr"))
def test_lint_never_raises_on_dialect_flows(flow):
    lint(flow)


# -- the examples and the command ------------------------------------------------------------------------


def example_flows() -> list[Path]:
    """Every flow in flows/, whatever its dialect: everything but flow tests and scenarios."""
    return sorted(p for p in (ROOT / "flows").iterdir()
                  if p.is_file() and not p.name.endswith((".test.yaml", ".scenario.yaml", ".md")))


@pytest.mark.parametrize("path", example_flows(), ids=lambda p: p.name)
def test_examples_lint_without_errors(path, capsys):
    assert main(["lint", str(path)]) == 0, capsys.readouterr().out


def test_cli_lint_exit_codes_and_text(capsys):
    assert main(["lint", str(FIXTURES / "clean.flow.json")]) == 0
    assert "0 errors, 0 warnings, 0 notes" in capsys.readouterr().out
    assert main(["lint", str(FIXTURES / "endless-loop.flow.json")]) == 1
    out = capsys.readouterr().out
    assert "endless-loop.flow.json:6:5: error[L_ENDLESS_LOOP]:" in out and "= hint:" in out
    assert main(["lint", str(FIXTURES / "missing-target.flow.json")]) == 1
    out = capsys.readouterr().out
    assert "error[E_UNKNOWN_STATE]" in out and "does not compile" in out
    assert main(["lint", "--disable", "L_NOPE", str(FIXTURES / "clean.flow.json")]) == 2
    assert "unknown finding code 'L_NOPE'" in capsys.readouterr().err


def test_cli_lint_json(capsys):
    assert main(["lint", "--format", "json", "--disable", "L_UNUSED_RESULT",
                 str(FIXTURES / "dead-end.flow.json"), str(FIXTURES / "unused-result.flow.json")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["flow"] for r in report] == ["dead-end", "unused-result"]
    (finding,) = report[0]["findings"]
    assert finding["code"] == "L_DEAD_END" and finding["state"] == "pin" and finding["line"] == 6
    assert finding["severity"] == "warning" and finding["hint"]
    assert report[1]["findings"] == [] and report[1]["suppressed"][0]["suppressed_by"]["origin"] == "command line"
