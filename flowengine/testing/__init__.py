"""Testing call logic without a phone line: scenarios, transcripts, flow tests, the pytest plugin."""

from .runner import assert_transcript, match_events, run_test_file, simulate, simulate_async
from .scenario import Scenario, load_scenario
from .transcript import Transcript

__all__ = [
    "assert_transcript", "match_events", "run_test_file", "simulate", "simulate_async", "Scenario",
    "load_scenario", "Transcript",
]
