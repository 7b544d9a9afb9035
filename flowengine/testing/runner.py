"""Simulate flows on the fake channel, and run flow test files (`*.test.yaml`, simulation spec §6).

    transcript = simulate("flows/menu.flow.json", {"caller": ["1"], "dial": {"*": "answer"}})
    problems = match_events(transcript.events, expect=[{"op": "dial", "status": "answered"}])
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import formats
from ..channels.fake import FakeChannel, FakeHttp, FakeSms, InputSource
from ..diagnostics import Diagnostic
from ..errors import FlowError, ScenarioError
from ..expr.conditions import json_equal
from ..ir.model import Flow
from ..runtime.clock import VirtualClock
from ..runtime.ids import SequentialIds
from ..runtime.interpreter import Interpreter
from ..schema import validate
from ..structured import Document, load_file
from .scenario import Scenario, load_scenario
from .transcript import Transcript, event_text

FlowSource = Flow | str | Path


def load_flow(source: FlowSource, format: str | None = None) -> Flow:
    return source if isinstance(source, Flow) else formats.load(str(source), format)


async def simulate_async(
    flow: FlowSource,
    scenario: Scenario | dict | str | Path | None = None,
    *,
    format: str | None = None,
    on_event: Callable[[dict], None] | None = None,
    inputs: InputSource | None = None,
) -> Transcript:
    """Run one call of `flow` in the fake world of `scenario`; returns its transcript."""
    flow = load_flow(flow, format)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    ids = SequentialIds()
    clock = VirtualClock(scenario.call.at)
    channel = FakeChannel(scenario.world, clock, inputs=inputs, ids=ids)
    interpreter = Interpreter(
        flow, channel, call=scenario.call, clock=clock, http=FakeHttp(scenario.world, clock),
        sms=FakeSms(ids), loader=formats.load_document, limits=scenario.limits, ids=ids, on_event=on_event,
    )
    result = await interpreter.run()
    return Transcript(result.events, result.steps, result.reason, result.variables)


def simulate(flow: FlowSource, scenario: Scenario | dict | str | Path | None = None, **kwargs: Any) -> Transcript:
    """Synchronous `simulate_async` (for scripts and tests)."""
    return asyncio.run(simulate_async(flow, scenario, **kwargs))


# -- matching (spec §6) ------------------------------------------------------------------------------


def field_matches(expected: Any, actual: Any) -> bool:
    """A field matches when equal as JSON; a string written /…/ is a regex over the whole value."""
    if isinstance(expected, str) and len(expected) >= 2 and expected.startswith("/") and expected.endswith("/"):
        if actual is None:
            return False
        text = actual if isinstance(actual, str) else _json_text(actual)
        return re.fullmatch(expected[1:-1], text) is not None  # load_test_file checked the pattern
    return json_equal(expected, actual)


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def event_matches(expected: dict, event: dict) -> bool:
    return all(key in event and field_matches(value, event[key]) for key, value in expected.items())


@dataclass
class MatchFailure:
    message: str
    context: list[str] = field(default_factory=list)

    def render(self) -> str:
        return "\n".join([self.message, *self.context])


def match_events(events: list[dict], expect: list[dict] = (), forbid: list[dict] = ()) -> list[MatchFailure]:
    """Check an ordered subsequence (`expect`) and absent events (`forbid`); [] when it all holds."""
    failures = []
    position = 0
    for number, expected in enumerate(expect, 1):
        found = next((i for i in range(position, len(events)) if event_matches(expected, events[i])), None)
        if found is None:
            failures.append(MatchFailure(
                f"expected event #{number} {_show(expected)} not found "
                + (f"after transcript line {position}" if position else "in the transcript"),
                _context(events, position, expected),
            ))
            break
        position = found + 1
    for forbidden in forbid:
        for index, event in enumerate(events):
            if event_matches(forbidden, event):
                failures.append(MatchFailure(
                    f"forbidden event {_show(forbidden)} appears at transcript line {index + 1}",
                    _around(events, index, index),
                ))
                break
    return failures


def _show(expected: dict) -> str:
    import json

    return json.dumps(expected, ensure_ascii=False)


def _context(events: list[dict], position: int, expected: dict) -> list[str]:
    """The transcript from where matching stopped, marking events of the expected op."""
    lines = ["  transcript from there:" if position else "  transcript:"]
    start = max(0, position - 2)
    for index in range(start, min(len(events), position + 12)):
        event = events[index]
        marker = ">" if event.get("op") == expected.get("op") and index >= position else " "
        lines.append(f"  {marker}{index + 1:3d} {event_text(event)}")
    if position + 12 < len(events):
        lines.append(f"    … {len(events) - position - 12} more")
    return lines


def _around(events: list[dict], first: int, last: int) -> list[str]:
    lines = []
    for index in range(max(0, first - 2), min(len(events), last + 3)):
        marker = ">" if first <= index <= last else " "
        lines.append(f"  {marker}{index + 1:3d} {event_text(events[index])}")
    return lines


def assert_transcript(transcript: Transcript | list[dict], expect: list[dict] = (), forbid: list[dict] = ()) -> None:
    """Raise AssertionError, with the spec's failure report, unless the events match."""
    events = transcript.events if isinstance(transcript, Transcript) else transcript
    failures = match_events(events, list(expect), list(forbid))
    if failures:
        raise AssertionError("\n".join(f.render() for f in failures))


# -- flow test files -------------------------------------------------------------------------------


@dataclass
class CaseResult:
    file: str
    name: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    transcript: Transcript | None = None
    flow: Flow | None = None  # the flow the case ran (coverage needs its states and edges)


@dataclass
class TestFile:
    path: Path
    doc: Document
    flow_source: str
    cases: list[dict]
    defaults: dict

    def flow_path(self) -> str:
        if formats.is_url(self.flow_source):
            return self.flow_source
        return str(self.path.parent / self.flow_source)


def load_test_file(path: str | Path) -> TestFile:
    path = Path(path)
    doc = load_file(path, error_cls=ScenarioError)
    data = doc.data
    problems = validate("flowtest.schema.json", data, doc, "E_TEST_FILE") or _bad_patterns(data, doc)
    if problems:
        raise ScenarioError(problems)
    return TestFile(path, doc, data["flow"], data["cases"], data.get("scenario") or {})


def _bad_patterns(data: dict, doc: Document) -> list[Diagnostic]:
    """A /regex/ in expect or forbid that does not compile: an error when the file loads (it would never
    match, and a `forbid` with a typo would always pass)."""
    problems = []
    for index, case in enumerate(data["cases"]):
        for section in ("expect", "forbid"):
            for position, event in enumerate(case.get(section, [])):
                for key, expected in event.items():
                    if not (isinstance(expected, str) and len(expected) >= 2 and expected[0] == expected[-1] == "/"):
                        continue
                    try:
                        re.compile(expected[1:-1])
                    except re.error as exc:
                        problems.append(Diagnostic(
                            "E_TEST_FILE", f"{section} {position + 1}: {key}: {expected} is not a valid regular "
                            f"expression ({exc})", doc.span(("cases", index, section, position, key))))
    return problems


def _merged(defaults: dict, case: dict) -> dict:
    out = dict(defaults)
    for key, value in case.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def case_scenario(test: TestFile, index: int) -> Scenario:
    case = test.cases[index]
    raw = case.get("scenario", {})
    if isinstance(raw, str):
        return load_scenario(test.path.parent / raw)
    path = ("cases", index, "scenario") if "scenario" in case else ()
    return load_scenario(_merged(test.defaults, raw), doc=test.doc, path=path)


def run_case(test: TestFile, index: int, flow: Flow) -> CaseResult:
    case = test.cases[index]
    name = case["name"]
    scenario = case_scenario(test, index)
    transcript = simulate(flow, scenario)
    failures = match_events(transcript.events, case.get("expect", []), case.get("forbid", []))
    return CaseResult(str(test.path), name, not failures, [f.render() for f in failures], transcript, flow)


def run_test_file(path: str | Path) -> list[CaseResult]:
    """Run every case of one test file. A broken flow or test file fails each of its cases."""
    try:
        test = load_test_file(path)
    except FlowError as exc:
        return [CaseResult(str(path), "(test file)", False, [d.render() for d in exc.diagnostics])]
    try:
        flow = load_flow(test.flow_path())
    except FlowError as exc:
        return [CaseResult(str(path), case.get("name", f"case {i + 1}"), False,
                           ["the flow does not compile:", *(d.render() for d in exc.diagnostics)])
                for i, case in enumerate(test.cases)]
    results = []
    for index in range(len(test.cases)):
        try:
            results.append(run_case(test, index, flow))
        except FlowError as exc:
            results.append(CaseResult(str(path), test.cases[index]["name"], False,
                                      [d.render() for d in exc.diagnostics]))
    return results


SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".hypothesis", ".pytest_cache", "build"}


def find_test_files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths or ["."]:
        path = Path(raw)
        if path.is_file():
            found.append(path)
            continue
        if not path.exists():
            raise ScenarioError([Diagnostic("E_IO", "no such file or directory", file=str(path))])
        for candidate in sorted(path.rglob("*.test.yaml")):
            if not any(part in SKIP_DIRS or part.startswith(".") and part not in (".", "..")
                       for part in candidate.relative_to(path).parts[:-1]):
                found.append(candidate)
    return found
