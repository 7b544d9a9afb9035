"""Load on `flowengine serve`: N concurrent fake FastAGI calls of a menu (prompts, a collect, a dial),
against the daemon and against a minimal hand-written panoramisk FastAGI handler doing the same menu
with the same AGI commands (the floor).

Three processes: this orchestrator; the server under test (`flowengine serve`, or the panoramisk
handler); and a load generator that keeps N calls live (each call replaced when it ends) and plays
Asterisk's side with flowengine's AGI codec in the client role. Simulated time runs at `--scale` (0.1:
a 3 s prompt takes 0.3 s), so calls arrive 1/scale times faster than on a real switch: a conservative
load. Each simulated duration varies by ±50 % (seeded) and the first calls are spread over one call
length, so callers are not in lock step (lock-step bursts measure queueing, not the server). Measured per server and N, over `--seconds` of steady state:

  p99 turnaround  time from writing a reply (or the environment) to receiving the next command
  CPU per call    the server process's CPU seconds / calls completed
  memory per call (server RSS with N live - idle RSS) / N

    .venv/bin/python bench/daemon_load.py [--levels 250,500,1000,1500] [--seconds 8] [--scale 0.1]

Prints one line per run, then the ratio flowengine / panoramisk for CPU per call and the largest N each
sustains with p99 < 10 ms. The orchestrator and generator share the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
MENU = {
    "flowengine": "ir/1", "name": "bench-menu", "entry": "welcome",
    "states": {
        "welcome": {"op": "play", "url": "welcome", "next": "menu"},
        "menu": {"op": "collect", "prompts": [{"op": "play", "url": "menu"}], "max_digits": 1, "timeout": 5,
                 "choices": ["1", "2"], "edges": {"match:1": "sales", "match:2": "sales", "timeout": "bye"}},
        "sales": {"op": "dial", "targets": ["+15551112222"], "timeout": 20, "edges": {"answered": "bye"}},
        "bye": {"op": "hangup"},
    },
}
# What the daemon sends for MENU, in order; the panoramisk floor sends exactly these.
FLOOR_COMMANDS = ['ANSWER', 'STREAM FILE welcome ""', "SET VARIABLE FLOWENGINE_INPUT collect-1/1",
                  "STREAM FILE menu 0123456789*#", 'GET DATA "" 5000 1', "EXEC Dial PJSIP/+15551112222,20,g",
                  "GET FULL VARIABLE ${DIALSTATUS}|${ANSWEREDTIME_MS}|${ANSWEREDTIME}|${DIALEDPEERNUMBER}",
                  "EXEC Hangup 16"]
SECONDS = {"welcome": 3.0, "menu": 4.0}  # media lengths; the dial rings 2 s and talks 20 s


# -- the floor: a hand-written panoramisk FastAGI handler ------------------------------------------------


def run_floor(port: int) -> None:
    from panoramisk.fast_agi import Application

    async def menu(request) -> None:
        for command in FLOOR_COMMANDS:
            result = await request.send_command(command)
            if "error" in result and command.startswith("GET DATA"):
                break

    async def main() -> None:
        app = Application(loop=asyncio.get_running_loop())
        app.add_route("menu", menu)
        server = await asyncio.start_server(app.handler, "127.0.0.1", port, backlog=4096)
        print(json.dumps({"ready": port}), flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# -- the load generator -----------------------------------------------------------------------------------


def run_generator(port: int, level: int, seconds: float, scale: float) -> None:
    from flowengine.channels.asterisk.agi import CLIENT, NEED_DATA, AgiCodec, AgiEnvironment, AgiHangup, AgiReply

    turnarounds: list[float] = []
    jitter = random.Random(6)  # callers are not in step: each simulated duration varies by ±50 %
    by_command: dict[str, list[float]] = {}
    completed = 0
    failed = 0
    measuring = False
    live = 0
    numbers = iter(range(1, 10**9))

    def reply_for(command) -> tuple[AgiReply, float]:
        name, args = command.name, command.args
        if name == "STREAM FILE":
            return AgiReply(code=200, result="0", endpos=int(SECONDS.get(args[0], 3.0) * 8000)), SECONDS.get(args[0], 3.0)
        if name == "GET DATA":
            return AgiReply(code=200, result="1"), 1.0
        if name == "EXEC":
            if args[0] == "Dial":
                return AgiReply(code=200, result="0"), 22.0
            if args[0] == "Hangup":
                return AgiReply(code=200, result="-1"), 0.0
            return AgiReply(code=200, result="0"), 0.0
        if name == "GET FULL VARIABLE":
            return AgiReply(code=200, result="1", data="ANSWER|20000|20|+15551112222"), 0.0
        if name == "ANSWER":
            return AgiReply(code=200, result="0"), 0.5
        return AgiReply(code=200, result="1"), 0.0

    async def one_call() -> None:
        nonlocal completed, failed, live
        number = next(numbers)
        codec = AgiCodec(CLIENT)
        live += 1
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            env = AgiEnvironment([
                ("agi_network", "yes"), ("agi_network_script", "menu"),
                ("agi_request", f"agi://127.0.0.1:{port}/menu"), ("agi_channel", f"Local/100@bench-{number:08x};2"),
                ("agi_language", "en"), ("agi_type", "Local"), ("agi_uniqueid", f"1800000000.{number}"),
                ("agi_version", "22.10.1"), ("agi_callerid", "5551234"), ("agi_calleridname", "Bench"),
                ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"), ("agi_callingtns", "0"),
                ("agi_dnid", "100"), ("agi_rdnis", "unknown"), ("agi_context", "bench"), ("agi_extension", "100"),
                ("agi_priority", "2"), ("agi_enhanced", "0.0"), ("agi_accountcode", ""), ("agi_threadid", "1")])
            writer.write(codec.send(env))
            sent = time.perf_counter()
            hung_up = False
            while True:
                event = codec.next_event()
                if event is NEED_DATA:
                    try:
                        data = await reader.read(4096)
                    except ConnectionResetError:
                        data = b""  # the server closed while our HANGUP line was in flight: the call is over
                    codec.receive_data(data)
                    continue
                if type(event).__name__ == "Closed":
                    break
                if measuring:
                    took = time.perf_counter() - sent
                    turnarounds.append(took)
                    by_command.setdefault(event.name if event.name != "EXEC" else "EXEC " + event.args[0],
                                          []).append(took)
                reply, simulated = reply_for(event)
                if simulated:
                    await asyncio.sleep(simulated * scale * jitter.uniform(0.5, 1.5))
                writer.write(codec.send(reply))
                sent = time.perf_counter()
                if event.name == "EXEC" and event.args[0] == "Hangup" and not hung_up:
                    hung_up = True
                    writer.write(codec.send(AgiHangup()))
            writer.close()
            if measuring:
                completed += 1
        except (OSError, Exception):
            failed += 1
        finally:
            live -= 1

    async def keep_level(stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task] = set()
        ramp = max(3.0, 30 * scale)
        for index in range(level):  # spread the first calls over one call length
            task = asyncio.create_task(one_call())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(ramp / level)
        while not stop.is_set():
            while len(tasks) < level:  # each call that ends is replaced at once
                task = asyncio.create_task(one_call())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def main() -> None:
        nonlocal measuring
        stop = asyncio.Event()
        runner = asyncio.create_task(keep_level(stop))
        await asyncio.sleep(2 * max(3.0, 30 * scale))  # the ramp, then one more call length: steady state
        print(json.dumps({"steady": True, "live": live}), flush=True)
        measuring = True
        await asyncio.sleep(seconds)
        measuring = False
        print(json.dumps({"measured": True, "live": live}), flush=True)
        stop.set()
        await runner
        p99 = {name: round(sorted(v)[int(0.99 * len(v))] * 1000, 2) for name, v in by_command.items()}
        print(json.dumps({"done": True, **percentiles(turnarounds), "completed": completed, "failed": failed,
                          "p99_by_command_ms": p99}), flush=True)

    asyncio.run(main())


def percentiles(turnarounds: list[float]) -> dict:
    """How many turnarounds were measured, and their p50 and p99 in ms (the generator's last line)."""
    ordered = sorted(turnarounds)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")  # noqa: E731
    return {"commands": len(ordered), "p50_ms": p(0.5), "p99_ms": p(0.99)}


# -- the orchestrator (bench/_daemon_load_freeswitch.py uses it too) -----------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_floor(script: str, port: int) -> subprocess.Popen:
    """`script --floor port` (the hand-written floor), once it says it is ready."""
    process = subprocess.Popen([sys.executable, script, "--floor", str(port)], stdout=subprocess.PIPE, text=True)
    process.stdout.readline()
    return process


def start_daemon(port: int, workdir: Path, level: int, listeners: str, route: str) -> subprocess.Popen:
    """`flowengine serve` on MENU with the `[listeners.*]` tables given, once it accepts on `port`."""
    flow = workdir / "menu.flow.json"
    flow.write_text(json.dumps(MENU))
    config = workdir / "flowengine.toml"
    config.write_text(f"""
[daemon]
max_calls = {level * 2 + 100}
max_calls_per_second = 100000
log_level = "warning"
{listeners}
[http]
port = 0
[records]
sqlite = "calls.sqlite"
[flows]
reload_interval = 2.0
[[routes]]
{route}
flow = "{flow}"
""")
    process = subprocess.Popen([sys.executable, "-m", "flowengine", "serve", "-c", str(config)], cwd=workdir,
                               stderr=subprocess.DEVNULL)
    import socket

    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process


def start_server(kind: str, port: int, workdir: Path, level: int) -> subprocess.Popen:
    if kind == "panoramisk":
        return start_floor(__file__, port)
    return start_daemon(port, workdir, level, f"[listeners.fastagi]\nport = {port}", 'path = "menu"')


def measure(script: str, start: Callable[[str, int, Path, int], subprocess.Popen], kind: str, level: int,
            seconds: float, scale: float, *, generator_cpu: bool = False) -> dict:
    """One run: the server `start` makes, loaded by `script --generate` with `level` live calls; one row of
    figures (with `generator_cpu`, also the generator's share of a core)."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start(kind, port, Path(tmp), level)
        try:
            time.sleep(0.3)
            idle_rss = rss_mb(server.pid)
            generator = subprocess.Popen([sys.executable, script, "--generate", str(port), str(level), str(seconds),
                                          str(scale)], stdout=subprocess.PIPE, text=True)
            steady = json.loads(generator.stdout.readline())
            cpu0 = cpu_seconds(server.pid)
            generator0 = cpu_seconds(generator.pid) if generator_cpu else 0.0
            live_rss = rss_mb(server.pid)
            json.loads(generator.stdout.readline())
            cpu1 = cpu_seconds(server.pid)
            generator1 = cpu_seconds(generator.pid) if generator_cpu else 0.0
            result = json.loads(generator.stdout.readline())
            generator.wait()
            completed = max(1, result["completed"])
            row = {"server": kind, "level": level, "live": steady["live"], "p50_ms": round(result["p50_ms"], 2),
                   "p99_ms": round(result["p99_ms"], 2), "calls": result["completed"], "failed": result["failed"],
                   "cpu_ms_per_call": round((cpu1 - cpu0) * 1000 / completed, 3),
                   "cpu_share": round((cpu1 - cpu0) / seconds, 2)}
            if generator_cpu:
                row["generator_cpu_share"] = round((generator1 - generator0) / seconds, 2)
            row["kb_per_live_call"] = round((live_rss - idle_rss) * 1024 / max(1, steady["live"]), 1)
            return row
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


def run_level(kind: str, level: int, seconds: float, scale: float) -> dict:
    return measure(__file__, start_server, kind, level, seconds, scale)


def compare(levels: list[int], seconds: float, scale: float, floor: str,
            run: Callable[[str, int, float, float], dict]) -> None:
    """Run flowengine and the `floor` at each level; print each row, then the largest N each sustains and
    the ratios flowengine / floor."""
    results: dict[str, list[dict]] = {"flowengine": [], floor: []}
    for level in levels:
        for kind in ("flowengine", floor):
            row = run(kind, level, seconds, scale)
            results[kind].append(row)
            print(json.dumps(row), flush=True)
    print()
    for kind, rows in results.items():
        ok = [r["level"] for r in rows if r["p99_ms"] < 10 and r["failed"] == 0 and r["live"] >= r["level"] * 0.95]
        print(f"{kind:11} largest N with p99 < 10 ms: {max(ok) if ok else 'none'}")
    for a, b in zip(results["flowengine"], results[floor]):
        print(f"N={a['level']:5}  CPU per call flowengine/{floor} = {a['cpu_ms_per_call'] / b['cpu_ms_per_call']:.2f}x"
              f"  ({a['cpu_ms_per_call']} ms vs {b['cpu_ms_per_call']} ms);  p99 {a['p99_ms']} ms vs {b['p99_ms']} ms;"
              f"  memory per live call {a['kb_per_live_call']} KB vs {b['kb_per_live_call']} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="250,500,1000,1500")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--switch", choices=("asterisk", "freeswitch"), default="asterisk",
                        help="freeswitch: outbound Event Socket calls against a genesis floor "
                             "(bench/_daemon_load_freeswitch.py)")
    args = parser.parse_args()
    if args.generate:
        port, level, seconds, scale = args.generate
        run_generator(int(port), int(level), float(seconds), float(scale))
        return
    if args.floor:
        run_floor(int(args.floor))
        return
    levels = [int(x) for x in args.levels.split(",")]
    if args.switch == "freeswitch":
        from _daemon_load_freeswitch import main as freeswitch_main

        freeswitch_main(levels, args.seconds, args.scale)
        return
    compare(levels, args.seconds, args.scale, "panoramisk", run_level)


if __name__ == "__main__":
    main()
