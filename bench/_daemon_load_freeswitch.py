"""The FreeSWITCH mode of bench/daemon_load.py (`--switch freeswitch`): N concurrent fake outbound-ESL calls
of the same menu (prompts, a collect, a dial) against the daemon's Event Socket listener, and against a
minimal hand-written genesis outbound handler sending the same apps and variables (the floor).

Three processes, as for Asterisk: the orchestrator; the server under test (`flowengine serve`, or the
genesis handler); and a load generator that keeps N calls live (each replaced when it ends) and plays
FreeSWITCH's side with flowengine's fake FreeSWITCH (the ESL codec in the server role, the captured event
layout, ~3 KB per event); the orchestration and the report are daemon_load.py's. Simulated time runs at
`--scale`. Measured per server and N, over `--seconds`:

  p99 turnaround  time from the switch writing an app's EXECUTE_COMPLETE (or the connect reply) to
                  receiving the next command of that call
  CPU per call    the server process's CPU seconds / calls completed
  memory per call (server RSS with N live - idle RSS) / N

    .venv/bin/python bench/daemon_load.py --switch freeswitch [--levels 100,200,400] [--seconds 8] [--scale 0.1]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from daemon_load import ROOT, SECONDS, compare, measure, percentiles, start_daemon, start_floor

sys.path.insert(0, str(ROOT))

CALL_SECONDS = sum(SECONDS.values()) + 2 + 20  # prompts, the dial's 2 s ring and 20 s talk (simulated)

# What the daemon sends for MENU after connect/myevents/linger, in order; the genesis floor sends these.
FLOOR_STEPS = [
    ("execute", "answer", None),
    ("api", "uuid_setvar {uuid} playback_terminators none", None),
    ("execute", "playback", "welcome"),
    ("api", "uuid_setvar_multi {uuid} flowengine_input=collect-1/1;playback_terminators=any", None),
    ("execute", "playback", "menu"),
    ("execute", "play_and_get_digits", "1 1 1 5000 # silence_stream://1 silence_stream://1 flowengine_digits .+ 5000"),
    ("api", "uuid_setvar_multi {uuid} hangup_after_bridge=false;continue_on_fail=true;"
            "ringback=%(2000,4000,440,480);bridge_terminate_key=none", None),
    ("execute", "bridge", "{leg_timeout=20,ignore_early_media=true}sofia/gateway/default/+15551112222"),
    ("execute", "hangup", "NORMAL_CLEARING"),
]


# -- the floor: a hand-written genesis outbound handler ----------------------------------------------------


def run_floor(port: int) -> None:
    from genesis import Outbound

    async def menu(session) -> None:
        for kind, name, data in FLOOR_STEPS:
            if kind == "api":
                await session.send(f"api {name.format(uuid=session.uuid)}")
                continue
            try:
                await session.sendmsg("execute", name, data, block=True, timeout=120)
            except Exception:  # the caller hung up: the handler ends, as a minimal one would
                return

    async def main() -> None:
        app = Outbound(menu, "127.0.0.1", port, events=True, linger=True)
        await app.start(block=False)
        print(json.dumps({"ready": port}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the load generator (the fake FreeSWITCH) -------------------------------------------------------------


def run_generator(port: int, level: int, seconds: float, scale: float) -> None:
    from flowengine.channels.fake import DialOutcome, World
    from flowengine.testing.fake_freeswitch import FakeFreeSwitch

    turnarounds: list[float] = []
    completed = failed = 0
    measuring = False
    waiting: dict[int, float] = {}  # id(call) -> when the switch completed what the engine waits for

    def on_wire(call, direction: str, message) -> None:
        kind = type(message).__name__
        if direction == "<<":
            if kind == "ChannelData" or (kind == "EslEvent" and message.name == "CHANNEL_EXECUTE_COMPLETE"):
                waiting[id(call)] = time.perf_counter()
        elif kind == "Command" and message.name in ("sendmsg", "api") and id(call) in waiting:
            if measuring:
                turnarounds.append(time.perf_counter() - waiting[id(call)])
            del waiting[id(call)]

    fake = FakeFreeSwitch(time_scale=scale, on_wire=on_wire, keep_wire=False)
    world = World(dial={"*": DialOutcome("answer", after=2, talk=20)}, media=dict(SECONDS))

    async def one_call() -> None:
        nonlocal completed, failed
        call = fake.call(("127.0.0.1", port), caller=["1"], world=world, destination="100")
        record = await call.finished
        fake.calls.remove(call)
        waiting.pop(id(call), None)
        if measuring:
            if record.error or record.hung_up_by != "flow":
                failed += 1
            else:
                completed += 1

    async def keep_level(stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task] = set()

        def start() -> None:
            task = asyncio.create_task(one_call())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        # arrivals spread over one call length (as real calls arrive), not N at once: identical calls
        # started together would stay in step and hit both processes in bursts of N
        for _ in range(level):
            start()
            await asyncio.sleep(CALL_SECONDS * scale / level)
        while not stop.is_set():
            while len(tasks) < level:
                start()
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def main() -> None:
        nonlocal measuring
        stop = asyncio.Event()
        runner = asyncio.create_task(keep_level(stop))
        await asyncio.sleep(max(3.0, 2 * CALL_SECONDS * scale))  # the ramp, then every stage of the menu is live
        print(json.dumps({"steady": True, "live": len(fake.calls)}), flush=True)
        measuring = True
        await asyncio.sleep(seconds)
        measuring = False
        print(json.dumps({"measured": True, "live": len(fake.calls)}), flush=True)
        stop.set()
        await runner
        print(json.dumps({"done": True, **percentiles(turnarounds), "completed": completed, "failed": failed}),
              flush=True)

    asyncio.run(main())


# -- the orchestrator ---------------------------------------------------------------------------------------


def start_server(kind: str, port: int, workdir: Path, level: int) -> subprocess.Popen:
    if kind == "genesis":
        return start_floor(__file__, port)
    listeners = f"[listeners.fastagi]\nenabled = false\n[listeners.esl]\nenabled = true\nport = {port}"
    return start_daemon(port, workdir, level, listeners, "default = true")


def run_level(kind: str, level: int, seconds: float, scale: float) -> dict:
    return measure(__file__, start_server, kind, level, seconds, scale, generator_cpu=True)


def main(levels: list[int], seconds: float, scale: float) -> None:
    compare(levels, seconds, scale, "genesis", run_level)


if __name__ == "__main__":
    if sys.argv[1] == "--generate":
        run_generator(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    elif sys.argv[1] == "--floor":
        run_floor(int(sys.argv[2]))
