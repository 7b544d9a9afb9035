"""Same flow + same caller behaviour = the same flow-level events on the fake channel, the fake Asterisk and
the fake FreeSWITCH, for every case of every example flow test (flows/*.test.yaml) and of the built-in
flows (flows/builtin/*.test.yaml, started as the control API starts them).

Transcript times are left out (the fake channel's clock is virtual, the fake switches' is real). A case that a
backend cannot run must say so clearly: an E_CHANNEL error naming the backend ("… is not supported on
FreeSWITCH"); such a case is reported (see `refusals` below), never compared as if it had run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.testing.fake_asterisk import run_on_fake_asterisk
from flowengine.testing.fake_freeswitch import run_on_fake_freeswitch
from flowengine.testing.runner import case_scenario, load_flow, load_test_file, simulate_async

from .support import run

FLOWS = Path(__file__).resolve().parents[3] / "flows"
TEST_FILES = sorted([*FLOWS.glob("*.test.yaml"), *FLOWS.glob("builtin/*.test.yaml")])
CASES = [(path, index, case["name"]) for path in TEST_FILES for index, case in enumerate(load_test_file(path).cases)]
BACKENDS = {"FreeSWITCH": run_on_fake_freeswitch, "Asterisk": run_on_fake_asterisk}


def params():
    return [pytest.param(path, index, backend, id=f"{backend}-{path.name.split('.')[0]}: {name}")
            for path, index, name in CASES for backend in BACKENDS]


REFERENCES: dict[tuple[Path, int], list[dict]] = {}
"""The fake channel's events per case, computed once for both backends."""


def without_time(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in event.items() if k != "t"} for event in events]


def refusal(events: list[dict], backend: str) -> str | None:
    for event in events:
        if event["op"] == "error" and event["code"] == "E_CHANNEL" and "not supported" in event["message"]:
            assert backend in event["message"], event["message"]  # a clear refusal names the backend
            return event["message"]
    return None


@pytest.mark.parametrize("path, index, backend", params())
@run
async def test_example_flow_case_gives_the_same_events_as_the_fake_channel(path, index, backend):
    test = load_test_file(path)
    flow = load_flow(test.flow_path())
    scenario = case_scenario(test, index)
    if (path, index) not in REFERENCES:
        REFERENCES[path, index] = without_time((await simulate_async(flow, scenario)).events)
    reference = REFERENCES[path, index]
    transcript, _ = await BACKENDS[backend](flow, scenario)
    events = without_time(transcript.events)
    why = refusal(events, backend)
    if why is not None:
        pytest.skip(f"refused, clearly: {why}")
    assert events == reference
