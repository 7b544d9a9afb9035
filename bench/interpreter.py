"""Interpreter overhead: simulated calls of a 10-state menu flow against a hand-written floor.

The floor issues the same channel operations on the same fake channel from one hand-written coroutine
(no IR, no edges, no events, no expressions): what any engine must at least pay for this channel.
Both run in this process, on one core, one call after another. Prints calls/s and the ratio.

    .venv/bin/python bench/interpreter.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from flowengine.channels.fake import FakeChannel, FakeHttp, World
from flowengine.ir import decode
from flowengine.runtime.channel import CollectRequest, DialRequest, Prompt
from flowengine.runtime.clock import VirtualClock
from flowengine.runtime.ids import SequentialIds
from flowengine.runtime.interpreter import CallInfo, Interpreter
from flowengine.testing.scenario import load_scenario

MENU = {
    "entry": "welcome",
    "states": {
        "welcome": {"op": "say", "text": "Welcome to Acme.", "next": "menu"},
        "menu": {"op": "collect", "prompts": [{"op": "say", "text": "Press 1 for sales, 2 for support."}],
                 "choices": ["1", "2"], "result": "choice",
                 "edges": {"match:1": "sales", "match:2": "support", "timeout": "bye", "invalid": "bye"}},
        "sales": {"op": "set", "name": "department", "value": "sales", "next": "log"},
        "log": {"op": "log", "message": "to sales", "next": "dial"},
        "dial": {"op": "dial", "targets": ["+15551112222"], "timeout": 20,
                 "edges": {"answered": "thanks", "busy": "bye", "no-answer": "bye", "failed": "bye"}},
        "support": {"op": "queue", "name": "support", "edges": {"answered": "bye"}},
        "thanks": {"op": "say", "text": "Thank you for calling.", "next": "check"},
        "check": {"op": "branch", "cases": [{"key": "s", "when": {"eq": [{"$expr": "var", "src": "department"}, "sales"]}}],
                  "edges": {"match:s": "bye", "ok": "bye"}},
        "bye": {"op": "say", "text": "Goodbye.", "next": "end"},
        "end": {"op": "hangup"},
    },
}
SCENARIO = {"caller": ["1"], "dial": {"+15551112222": {"status": "answer", "after": 3, "talk": 20}}}


async def interpreted_calls(n: int) -> None:
    flow = decode(MENU)
    scenario = load_scenario(SCENARIO)
    for _ in range(n):
        clock = VirtualClock(scenario.call.at)
        ids = SequentialIds()
        world = World(caller=list(scenario.world.caller), dial=scenario.world.dial)
        channel = FakeChannel(world, clock, ids=ids)
        call = CallInfo(call_id="bench")
        result = await Interpreter(flow, channel, call=call, clock=clock, http=FakeHttp(world, clock), ids=ids).run()
        assert result.reason == "hangup", result.reason


async def hand_written_calls(n: int, transcript: bool = False) -> None:
    """The same primitives in the same order, straight on the channel: the floor. With `transcript`,
    it also builds the transcript's event dicts, which the interpreter must produce too."""
    scenario = load_scenario(SCENARIO)
    welcome, bye, thanks = Prompt("say", "Welcome to Acme."), Prompt("say", "Goodbye."), Prompt("say", "Thank you for calling.")
    menu = CollectRequest(prompts=(Prompt("say", "Press 1 for sales, 2 for support."),), choices=("1", "2"))
    dial = DialRequest(targets=("+15551112222",), timeout=20)
    for _ in range(n):
        clock = VirtualClock(scenario.call.at)
        world = World(caller=list(scenario.world.caller), dial=scenario.world.dial)
        channel = FakeChannel(world, clock, ids=SequentialIds())
        events: list[dict] = []
        note = (lambda op, **fields: events.append({"t": clock.now(), "leg": "A", "op": op, **fields})) \
            if transcript else (lambda op, **fields: None)
        await channel.answer("A")
        note("answer")
        await channel.play("A", welcome)
        note("say", text=welcome.text)
        result = await channel.collect("A", menu)
        note("say", text=menu.prompts[0].text)
        note("collect", max_digits=1, timeout=5.0, digits=result.digits, reason=result.reason)
        if result.digits == "1":
            note("set", name="department", value="sales")
            note("log", message="to sales")
            answered = await channel.dial("A", "B", dial)
            note("dial", targets=["+15551112222"], timeout=20.0, status=answered.status, new_leg="B")
            if answered.status == "answered":
                bridged = await channel.bridge("A", "B")
                note("bridge", duration=bridged.duration, ended_by=bridged.ended_by)
                note("hangup", by="callee")
                await channel.play("A", thanks)
                note("say", text=thanks.text)
        await channel.play("A", bye)
        note("say", text=bye.text)
        await channel.hangup("A")
        note("hangup", by="flow")
        note("end", reason="hangup")


def measure(fn, n: int) -> float:
    start = time.perf_counter()
    asyncio.run(fn(n))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    measure(interpreted_calls, 200)  # warm up
    measure(hand_written_calls, 200)
    floor = max(measure(hand_written_calls, args.calls) for _ in range(3))
    floor_events = max(measure(lambda n: hand_written_calls(n, transcript=True), args.calls) for _ in range(3))
    interp = max(measure(interpreted_calls, args.calls) for _ in range(3))
    print(f"hand-written floor            : {floor:10.0f} calls/s")
    print(f"hand-written, with transcript : {floor_events:10.0f} calls/s")
    print(f"interpreter                   : {interp:10.0f} calls/s   (target >= 2000)")
    print(f"overhead                      : {floor / interp:10.2f}x the floor (target <= 2x); "
          f"{floor_events / interp:.2f}x the floor that also writes the transcript")
    print(f"per call                      : {1e6 / floor:10.1f} µs floor, {1e6 / floor_events:.1f} µs with transcript, "
          f"{1e6 / interp:.1f} µs interpreter ({1e6 / interp - 1e6 / floor_events:.1f} µs beyond the transcript floor)")


if __name__ == "__main__":
    main()
