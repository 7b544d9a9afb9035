"""pytest plugin (registered through the `pytest11` entry point).

* Collects `*.test.yaml` flow test files: one pytest item per case.
* Fixture `simulate_flow(flow, scenario=None) -> Transcript` runs a call on the fake channel.
* Fixture `assert_transcript(transcript, expect=[...], forbid=[...])` applies the flow-test matching
  rules (ordered subsequence, `/regex/` strings) and fails with the same report as `flowengine test`.
* `--flow-coverage` reports which states and edges the flow tests (and `simulate_flow` calls) exercised;
  `--flow-coverage-html DIR` also writes DIR/index.html with each flow coloured by coverage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..errors import FlowError
from .coverage import Coverage
from .runner import TestFile, assert_transcript as _assert_transcript, load_flow, load_test_file, run_case, simulate

_COVERAGE = pytest.StashKey[Coverage]()


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("flowengine")
    group.addoption("--flow-coverage", action="store_true",
                    help="report the states and edges of each flow that the flow tests exercised")
    group.addoption("--flow-coverage-html", metavar="DIR",
                    help="also write DIR/index.html with each flow coloured by coverage")


def pytest_configure(config: Any) -> None:
    if config.getoption("flow_coverage", False) or config.getoption("flow_coverage_html", None):
        config.stash[_COVERAGE] = Coverage()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    coverage = config.stash.get(_COVERAGE, None)
    if coverage is None:
        return
    terminalreporter.section("flow coverage")
    for line in coverage.report().splitlines()[1:]:  # without the title: the section says it
        terminalreporter.write_line(line[2:])
    target = config.getoption("flow_coverage_html", None)
    if target:
        terminalreporter.write_line(f"coverage page: {coverage.write_html(target)}")


def pytest_collect_file(parent: Any, file_path: Path):
    if file_path.name.endswith(".test.yaml"):
        return FlowTestFile.from_parent(parent, path=file_path)
    return None


class FlowTestFailure(Exception):
    pass


class FlowTestFile(pytest.File):
    def collect(self):
        try:
            test = load_test_file(self.path)
        except FlowError as exc:
            yield BrokenFlowTest.from_parent(self, name="(test file)", diagnostics=exc.diagnostics)
            return
        for index, case in enumerate(test.cases):
            yield FlowTestItem.from_parent(self, name=case["name"], test=test, index=index)


class BrokenFlowTest(pytest.Item):
    def __init__(self, *, diagnostics, **kwargs):
        super().__init__(**kwargs)
        self.diagnostics = diagnostics

    def runtest(self) -> None:
        raise FlowTestFailure("\n".join(d.render() for d in self.diagnostics))

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}: invalid test file"


_FLOWS: dict[str, Any] = {}


class FlowTestItem(pytest.Item):
    def __init__(self, *, test: TestFile, index: int, **kwargs):
        super().__init__(**kwargs)
        self.test = test
        self.index = index

    def runtest(self) -> None:
        key = self.test.flow_path()
        try:
            if key not in _FLOWS:
                _FLOWS[key] = load_flow(key)
            flow = _FLOWS[key]
            result = run_case(self.test, self.index, flow)
            coverage = self.config.stash.get(_COVERAGE, None)
            if coverage is not None and result.transcript is not None:
                coverage.record(flow, result.transcript.steps)
        except FlowError as exc:
            raise FlowTestFailure("\n".join(d.render() for d in exc.diagnostics)) from None
        if not result.passed:
            raise FlowTestFailure("\n".join(result.failures))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, FlowTestFailure):
            return f"{self.path}: {self.name}\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}: {self.name}"


@pytest.fixture
def simulate_flow(request: Any):
    """Run one simulated call: `simulate_flow("flows/menu.flow.json", {"caller": ["1"]})`."""
    coverage = request.config.stash.get(_COVERAGE, None)
    if coverage is None:
        return simulate

    def simulate_and_count(flow: Any, scenario: Any = None, *, format: str | None = None, **kwargs: Any):
        compiled = load_flow(flow, format)
        transcript = simulate(compiled, scenario, **kwargs)
        coverage.record(compiled, transcript.steps)
        return transcript

    return simulate_and_count


@pytest.fixture
def assert_transcript():
    """Check a transcript like a flow test case: `assert_transcript(t, expect=[...], forbid=[...])`."""
    return _assert_transcript
