"""The pytest plugin: *.test.yaml collection and the simulate_flow / assert_transcript fixtures."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUIET = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning")
FLOW = (ROOT / "flows" / "demo-menu.flow.json").read_text()


def test_flow_test_files_are_collected_one_item_per_case(pytester):
    pytester.makefile(".flow.json", menu=FLOW)
    pytester.makefile(".test.yaml", menu="""
flow: menu.flow.json
cases:
  - name: support
    scenario: {caller: ["2"], queue: {support: timeout}}
    expect: [{op: queue, name: support, status: timeout}]
  - name: wrong expectation
    scenario: {caller: ["2"]}
    expect: [{op: queue, name: sales}]
""")
    result = pytester.runpytest(*QUIET, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*menu.test.yaml::support PASSED*", "*menu.test.yaml::wrong expectation FAILED*",
                                 '*expected event #1 {"op": "queue", "name": "sales"} not found*'])


def test_a_broken_test_file_fails_with_its_diagnostic(pytester):
    pytester.makefile(".test.yaml", broken="flow: x.flow.json\ncases: []\n")
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*broken.test.yaml:2:8: error*E_TEST_FILE*cases*non-empty*"])


def test_fixtures(pytester):
    pytester.makefile(".flow.json", menu=FLOW)
    pytester.makepyfile(test_menu="""
import pytest

def test_sales(simulate_flow, assert_transcript):
    t = simulate_flow("menu.flow.json", {"caller": ["1"], "dial": {"*": "answer"}})
    assert_transcript(t, expect=[{"op": "dial", "status": "answered"}], forbid=[{"op": "error"}])

def test_failure_message(simulate_flow, assert_transcript):
    t = simulate_flow("menu.flow.json", {"caller": ["1"]})
    with pytest.raises(AssertionError, match="expected event #1"):
        assert_transcript(t, expect=[{"op": "queue"}])
""")
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(passed=2)
