"""Call-path coverage (flowengine/testing/coverage.py), `flowengine test --coverage` and the pytest option."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowengine import formats
from flowengine.cli import main
from flowengine.ir import decode
from flowengine.testing.coverage import Coverage, flow_key
from flowengine.testing.runner import run_test_file, simulate

HERE = Path(__file__).parent / "fixtures" / "coverage"
FLOW = HERE / "menu.flow.json"
TESTS = HERE / "menu.test.yaml"
UNTESTED = [
    ("menu", "timeout", "retry"), ("menu", "invalid", "retry"), ("retry", "ok", "check"),
    ("check", "match:enough", "bye"), ("check", "ok", "menu"), ("sales", "no-answer", "sorry"),
    ("sales", "busy", "sorry"), ("sales", "failed", "sorry"), ("sorry", "ok", "bye"),
]


def covered_by_the_fixture_tests() -> Coverage:
    coverage = Coverage()
    results = run_test_file(TESTS)
    assert all(r.passed for r in results) and len(results) == 2
    for result in results:
        coverage.record(result.flow, result.transcript.steps)
    return coverage


def test_the_fixture_scenarios_leave_known_edges_untested():
    coverage = covered_by_the_fixture_tests()
    (cov,) = coverage.flows.values()
    assert cov.calls == 2
    assert sorted(cov.states) == ["bye", "menu", "sales", "support", "welcome"]
    assert [(e.state, e.outcome, e.target) for e in cov.untested_edges()] == UNTESTED
    assert cov.untested_states() == ["retry", "check", "sorry"]
    assert (len(cov.states), cov.state_total, cov.edges_covered, cov.edge_total) == (5, 8, 5, 14)


def test_report_gives_percentages_and_the_untested_edges_with_their_lines():
    report = covered_by_the_fixture_tests().report()
    lines = report.splitlines()
    assert lines[0] == "flow coverage:"
    assert lines[1].endswith("menu.flow.json (coverage-menu): states 5/8 (62.5%), edges 5/14 (35.7%), 2 calls")
    assert lines[2] == "    untested edges:"
    assert lines[3].endswith("menu.flow.json:8:5: menu --timeout--> retry")
    assert lines[11].endswith("menu.flow.json:23:5: sorry --ok--> bye")
    assert lines[12] == "    states never run: retry (line 13), check (line 14), sorry (line 23)"
    assert lines[13] == "  total: states 5/8 (62.5%), edges 5/14 (35.7%)"


def test_more_calls_cover_more():
    coverage = covered_by_the_fixture_tests()
    flow = formats.load(FLOW)
    coverage.record(flow, simulate(flow, {"caller": ["timeout", "1"], "dial": {"*": "busy"}}).steps)
    (cov,) = coverage.flows.values()
    assert [(e.state, e.outcome) for e in cov.untested_edges()] == [
        ("menu", "invalid"), ("check", "match:enough"), ("sales", "no-answer"), ("sales", "failed")]
    assert cov.calls == 3


def test_edges_that_can_never_be_taken_are_not_counted():
    flow = decode({"entry": "menu", "states": {
        "menu": {"op": "collect", "choices": ["1"], "edges": {"ok": "bye", "match:1": "bye", "timeout": "bye"}},
        "bye": {"op": "hangup"}}})
    coverage = Coverage()
    coverage.record(flow, simulate(flow, {"caller": ["1"]}).steps)
    (cov,) = coverage.flows.values()
    assert cov.edge_total == 2 and cov.edges_covered == 1  # `ok` never happens with choices


def test_steps_of_other_flows_and_unknown_states_are_ignored():
    flow = formats.load(FLOW)
    coverage = Coverage()
    coverage.record(flow, [("coverage-menu", "welcome", "ok"), ("fetched-doc", "menu", "timeout"),
                           ("coverage-menu", "nope", "ok"), ("coverage-menu", "menu", "\x00abort")])
    (cov,) = coverage.flows.values()
    assert cov.states == {"welcome", "menu"} and cov.edges == {("welcome", "ok")}
    assert flow_key(flow) == str(FLOW.resolve())


def test_no_flow_ran():
    assert Coverage().report() == "flow coverage: no flow ran\n"


def test_html_page_with_mermaid(tmp_path):
    page = covered_by_the_fixture_tests().write_html(tmp_path / "cov", graphs="mermaid")
    html = page.read_text()
    assert page == tmp_path / "cov" / "index.html"
    assert '<pre class="mermaid">flowchart TD' in html and "class s0,s1,s4,s5,s7 exercised" in html
    assert "mermaid.initialize" in html
    assert '<tr class="missed"><td>' in html and "<td>timeout</td><td>retry</td>" in html
    assert "edges 5/14 (35.7%)" in html


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_html_page_with_svg(tmp_path):
    html = covered_by_the_fixture_tests().write_html(tmp_path, graphs="svg").read_text()
    assert '<div class="graph"><svg' in html and "#c6efce" in html and "#ffc7ce" in html
    assert "mermaid" not in html


def test_cli_test_coverage(tmp_path, capsys):
    assert main(["test", str(HERE), "--coverage-html", str(tmp_path / "html")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "2 passed, 0 failed"  # the spec: `flowengine test` closes with this line
    assert out[-2] == f"coverage page: {tmp_path / 'html' / 'index.html'}"
    assert "flow coverage:" in out and any(line.endswith("menu --timeout--> retry") for line in out)
    assert (tmp_path / "html" / "index.html").exists()
    assert main(["test", str(HERE)]) == 0
    assert "flow coverage" not in capsys.readouterr().out


def test_pytest_option(tmp_path):
    for name in ("menu.flow.json", "menu.test.yaml"):
        shutil.copy(HERE / name, tmp_path / name)
    (tmp_path / "test_more.py").write_text(
        "def test_timeout(simulate_flow):\n"
        "    simulate_flow('menu.flow.json', {'caller': ['timeout', 'timeout']})\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--flow-coverage",
         "--flow-coverage-html", "html", "."],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "flow coverage" in out
    assert "menu.flow.json (coverage-menu): states 7/8 (87.5%), edges 9/14 (64.3%), 3 calls" in out
    assert "menu --timeout--> retry" not in out and "sales --busy--> sorry" in out
    assert (tmp_path / "html" / "index.html").exists()
