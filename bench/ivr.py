"""IVR menus: compile time of a 200-context menu, and simulated calls of a 3-level menu.

1. Compiling a 200-context `*.ivr.yaml` (YAML load, schema, checks, IR, flow validation) against a bare
   ruamel.yaml load of the same text, in this process (target: <= 3x).
2. Simulated calls/s of a 3-level menu (main -> support -> billing -> transfer) against a hand-written
   floor: the same channel operations on the same fake channel from one coroutine, no IR. bench/
   interpreter.py's floor is written for its own flow, so this floor is measured here the same way.

    .venv/bin/python bench/ivr.py [--calls N] [--contexts N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time

from ruamel.yaml import YAML

from flowengine import formats
from flowengine.channels.fake import FakeChannel, World
from flowengine.formats.ivr.writer import dump_menu
from flowengine.runtime.channel import CollectRequest, DialRequest, Prompt
from flowengine.runtime.clock import VirtualClock
from flowengine.runtime.ids import SequentialIds
from flowengine.runtime.interpreter import CallInfo, Interpreter
from flowengine.testing.scenario import load_scenario


def big_menu(contexts: int) -> str:
    """A menu of `contexts` contexts, each with prompts, conditions, transfers, a queue and gotos."""
    data: dict = {"kind": "ivr", "version": 1, "name": "big", "entry": "c0", "timezone": "Europe/London",
                  "sounds": {"welcome": {"file": "welcome.wav"}, "closed": {"tts": "We are closed."}},
                  "intervals": {"office": {"conditions": [{"days": "mon-fri", "time": "08:30-18:00"}]}},
                  "contexts": {}}
    for i in range(contexts):
        nxt, prev = f"c{(i + 1) % contexts}", f"c{(i - 1) % contexts}"
        data["contexts"][f"c{i}"] = {"digit_len": 2, "options": {
            "start": [{"when": {"interval": "office"}, "play": {"sound": "welcome"}},
                      {"play": {"tts": f"Menu {i}. Press 1 for next, 2 for previous, 3 for sales, 4 for support."}}],
            "1": [{"goto": {"context": nxt}}],
            "2": [{"goto": {"context": prev}}],
            "3": [{"set_var": {"dept": "sales"}}, {"final": False, "transfer": {"to": ["+15551112222"], "timeout_s": 20}},
                  {"voicemail": {"box": f"box{i}"}}],
            "4": [{"queue": {"name": "support", "on_timeout": [{"play": {"sound": "closed"}}]}}],
            "42": [{"say_digits": {"digits": str(i)}}, {"goto": {"context": f"c{i}"}}],
            "timeout": [{"play": {"tts": "Sorry?"}}, {"goto": {"context": f"c{i}"}}],
        }}
    return dump_menu(data)


THREE_LEVELS = """
kind: ivr
version: 1
entry: main
contexts:
  main:
    options:
      start: [{play: {tts: "Welcome to Acme. Press 1 for support."}}]
      "1": [{goto: {context: support}}]
  support:
    options:
      start: [{play: {tts: "Support. Press 2 for billing."}}]
      "2": [{goto: {context: billing}}]
  billing:
    options:
      start: [{play: {tts: "Billing. Press 3 for an agent."}}]
      "3": [{transfer: {to: ["+15551112222"], timeout_s: 20}}]
"""
SCENARIO = {"caller": ["1", "2", "3"], "dial": {"+15551112222": {"status": "answer", "after": 3, "talk": 20}}}


def measure(fn, repeat: int = 3) -> float:
    """Best seconds of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


async def interpreted(flow, scenario, n: int) -> None:
    for _ in range(n):
        clock = VirtualClock(scenario.call.at)
        world = World(caller=list(scenario.world.caller), dial=scenario.world.dial)
        await Interpreter(flow, FakeChannel(world, clock, ids=SequentialIds()), call=CallInfo(call_id="bench"),
                          clock=clock).run()


async def floor(scenario, n: int) -> None:
    """The same primitives in the same order, straight on the channel."""
    menus = [CollectRequest(prompts=(Prompt("say", text),), choices=(key,), early_match=True, timeout=5,
                            inter_digit_timeout=2, finish_on_key="")
             for text, key in (("Welcome to Acme. Press 1 for support.", "1"), ("Support. Press 2 for billing.", "2"),
                               ("Billing. Press 3 for an agent.", "3"))]
    dial = DialRequest(targets=("+15551112222",), timeout=20)
    for _ in range(n):
        clock = VirtualClock(scenario.call.at)
        world = World(caller=list(scenario.world.caller), dial=scenario.world.dial)
        channel = FakeChannel(world, clock, ids=SequentialIds())
        await channel.answer("A")
        for request in menus:
            await channel.collect("A", request)
        if (await channel.dial("A", "B", dial)).status == "answered":
            await channel.bridge("A", "B")
        await channel.hangup("A")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--contexts", type=int, default=200)
    args = parser.parse_args()

    text = big_menu(args.contexts)
    yaml = YAML(typ="rt", pure=True)
    load = measure(lambda: yaml.load(io.StringIO(text)))
    compiled = measure(lambda: formats.compile_text(text, "big.ivr.yaml"))
    flow = formats.compile_text(text, "big.ivr.yaml")
    print(f"{args.contexts}-context menu: {len(text) // 1024} KiB of YAML, {len(flow.states)} IR states")
    print(f"  bare ruamel.yaml load : {load * 1000:8.1f} ms")
    print(f"  flowengine compile    : {compiled * 1000:8.1f} ms   = {compiled / load:.2f}x the load (target <= 3x)")

    flow = formats.compile_text(THREE_LEVELS, "three.ivr.yaml")
    scenario = load_scenario(SCENARIO)
    asyncio.run(interpreted(flow, scenario, 200))  # warm up
    asyncio.run(floor(scenario, 200))
    floor_s = measure(lambda: asyncio.run(floor(scenario, args.calls)))
    interp_s = measure(lambda: asyncio.run(interpreted(flow, scenario, args.calls)))
    print(f"3-level menu, {args.calls} simulated calls:")
    print(f"  hand-written floor    : {args.calls / floor_s:8.0f} calls/s")
    print(f"  compiled IVR          : {args.calls / interp_s:8.0f} calls/s   = {interp_s / floor_s:.2f}x the floor's time")


if __name__ == "__main__":
    main()
