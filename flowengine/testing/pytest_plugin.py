"""pytest plugin (registered through the `pytest11` entry point).

* Collects `*.test.yaml` flow test files: one pytest item per case.
* Fixture `simulate_flow(flow, scenario=None) -> Transcript` runs a call on the fake channel.
* Fixture `assert_transcript(transcript, expect=[...], forbid=[...])` applies the flow-test matching
  rules (ordered subsequence, `/regex/` strings) and fails with the same report as `flowengine test`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..errors import FlowError
from .runner import TestFile, assert_transcript as _assert_transcript, load_flow, load_test_file, run_case, simulate


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
def simulate_flow():
    """Run one simulated call: `simulate_flow("flows/menu.flow.json", {"caller": ["1"]})`."""
    return simulate


@pytest.fixture
def assert_transcript():
    """Check a transcript like a flow test case: `assert_transcript(t, expect=[...], forbid=[...])`."""
    return _assert_transcript
