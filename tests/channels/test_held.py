"""A dial's on_answer states on both fake switches: every path of a held leg gives the fake channel's events.

Each case runs the same flow and scenario through `simulate` and through the Asterisk and FreeSWITCH
channels against their fake switches (Dial's U() subroutine / the bridge's group confirmation hand the
answered leg to a session of its own), and compares the events without their times.
"""

from __future__ import annotations

import pytest

from flowengine.testing.fake_asterisk import run_on_fake_asterisk
from flowengine.testing.fake_freeswitch import run_on_fake_freeswitch
from flowengine.testing.runner import simulate_async
from tests.channels.freeswitch.support import run
from tests.helpers import make_flow, strip

BACKENDS = {"Asterisk": run_on_fake_asterisk, "FreeSWITCH": run_on_fake_freeswitch}

WHISPER = {
    "welcome": {"op": "say", "text": "Connecting you", "next": "d"},
    "d": {"op": "dial", "targets": ["+15551112222"], "timeout": 20, "on_answer": "w", "result": "r",
          "edges": {"answered": "after", "no-answer": "sorry", "busy": "sorry"}},
    "w": {"op": "say", "leg": "B", "text": "You have a call from the sales line"},  # 2.333 s
    "after": {"op": "say", "text": {"$expr": "template", "src": "Back on A after ${r.duration} s"}},
    "sorry": {"op": "say", "text": "Nobody answered"},
}

SCREEN = {  # call screening: the answered party must press 1, else it is hung up and the caller hears so
    "d": {"op": "dial", "targets": ["+15551112222"], "on_answer": "confirm", "time_limit": 20,
          "edges": {"answered": "after"}},
    "confirm": {"op": "collect", "prompts": [{"op": "say", "text": "Press 1 to take the call"}], "timeout": 4,
                "choices": ["1"], "edges": {"timeout": "refuse", "invalid": "refuse"}},
    "refuse": {"op": "hangup"},
    "after": {"op": "say", "text": "Goodbye"},
}

BRANCH = {  # ACTIONS10's answerOnBranch: bridge: false, and the branch bridges the leg with its parent
    "d": {"op": "dial", "targets": ["+15551112222"], "bridge": False, "on_answer": "hello",
          "edges": {"answered": "after"}},
    "hello": {"op": "say", "text": "Hello, connecting you", "next": "join"},
    "join": {"op": "bridge"},
    "after": {"op": "say", "text": "Back on A"},
}

ALONE = {  # bridge: false, and the branch does not bridge: the leg is let go, leg A goes on
    "d": {"op": "dial", "targets": ["+15551112222"], "bridge": False, "on_answer": "note", "send_digits": "12",
          "edges": {"answered": "after"}},
    "note": {"op": "say", "text": "This is a reminder"},
    "after": {"op": "say", "text": "Reminder delivered"},
}

CASES = {
    "answered: the whisper, then the bridge": (WHISPER, {"dial": {"*": {"status": "answer", "after": 3,
                                                                       "talk": 12}}}),
    "answered, the caller ends the bridge": (WHISPER, {"dial": {"*": {"status": "answer", "talk": 9, "hangup": "caller"}}}),
    "no answer: no leg session, the dial times out": (WHISPER, {"dial": {"*": "no-answer"}}),
    "busy": (WHISPER, {"dial": {"*": "busy"}}),
    "the caller hangs up while the leg rings": (WHISPER, {"dial": {"*": {"status": "answer", "after": 10}},
                                                          "hangup_at": 4}),
    "the caller hangs up during the whisper": (WHISPER, {"dial": {"*": "answer"}, "hangup_at": 4}),
    "the caller hangs up during the bridge": (WHISPER, {"dial": {"*": "answer"}, "hangup_at": 9}),
    "screening: the callee accepts": (SCREEN, {"dial": {"*": {"status": "answer", "inputs": ["1"], "talk": 15}}}),
    "screening: the callee presses another key": (SCREEN, {"dial": {"*": {"status": "answer", "inputs": ["7"]}}}),
    "screening: the callee times out": (SCREEN, {"dial": {"*": {"status": "answer", "inputs": ["timeout"]}}}),
    "screening: the callee hangs up in its states": (SCREEN, {"dial": {"*": {"status": "answer", "inputs": []}}}),
    "screening: the time limit ends the bridge": (SCREEN, {"dial": {"*": {"status": "answer", "inputs": ["1"],
                                                                          "talk": 60}}}),
    "screening: the caller hangs up while the callee listens": (SCREEN, {
        "dial": {"*": {"status": "answer", "inputs": [{"keys": "1", "at": 5}]}}, "hangup_at": 3.5}),
    "bridge: false, the branch bridges": (BRANCH, {"dial": {"*": {"status": "answer", "talk": 7}}}),
    "bridge: false, the callee ends the branch's bridge": (BRANCH, {"dial": {"*": {"status": "answer", "talk": 7,
                                                                                   "hangup": "caller"}}}),
    "bridge: false, the branch ends without a bridge": (ALONE, {"dial": {"*": "answer"}}),
}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name", list(CASES))
@run
async def test_held_leg_path_gives_the_fake_channels_events(name, backend):
    states, scenario = CASES[name]
    flow = make_flow(states)
    reference = strip((await simulate_async(flow, scenario)).events, "t")
    transcript, _ = await BACKENDS[backend](flow, scenario)
    assert strip(transcript.events, "t") == reference
