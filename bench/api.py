"""The control API: `POST /v1/calls` throughput and latency against the fake Asterisk, and how exactly the
campaign pacer keeps its configured pace.

1. A daemon with the control API and a fake Asterisk (AMI + FastAGI, in this process; simulated time at
   1/1000) takes `--requests` POST /v1/calls (the built-in OTP flow) from `--concurrency` clients. Each
   request is admitted, originated through AMI and answered by the fake switch. Printed: requests per
   second, p50/p99 latency, and the ratio of p50 to GET /healthz's p50 on the same server (the floor:
   the same HTTP stack and auth with no work behind it).
2. The pacer on a ManualClock (time moves only when told: accuracy is measured, not waited for), with the
   real store (SQLite) and a switch that completes each call at once: calls started per minute against
   the configured pace, per minute over `--minutes` minutes, for several paces.

    .venv/bin/python bench/api.py [--requests 400] [--concurrency 20] [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowengine.control.clock import ManualClock  # noqa: E402
from flowengine.control.config import StoreConfig  # noqa: E402
from flowengine.control.models import CampaignRequest  # noqa: E402
from flowengine.control.pacer import CampaignPacer  # noqa: E402
from flowengine.control.service import ControlService  # noqa: E402
from flowengine.control.store import Store  # noqa: E402
from flowengine.daemon.asterisk import AsteriskListener  # noqa: E402
from flowengine.daemon.config import parse_config  # noqa: E402
from flowengine.daemon.server import Daemon  # noqa: E402
from flowengine.testing.fake_asterisk import FakeAsterisk, FakeTts  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(client: httpx.AsyncClient, method: str, path: str, **kwargs) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.request(method, path, **kwargs)
    return time.perf_counter() - started, response.status_code


async def load(client: httpx.AsyncClient, total: int, concurrency: int, method: str, path: str,
               **kwargs) -> tuple[list[float], float, dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            seconds, status = await timed(client, method, path, **kwargs)
            latencies.append(seconds)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, statuses


async def api_throughput(requests: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        (base / "idle.flow.json").write_text(json.dumps({"flowengine": "ir/1", "name": "idle", "entry": "bye",
                                                          "states": {"bye": {"op": "hangup"}}}))
        tts = FakeTts()
        fake = FakeAsterisk(time_scale=0.001, media_duration=tts.duration)
        host, port = await fake.start_ami()
        text = (f'[daemon]\nmax_calls = 10000\nmax_calls_per_second = 100000\n[listeners.fastagi]\nport = 0\n'
                f'[http]\nport = 0\n[records]\nsqlite = "calls.sqlite"\n[flows]\nreload = false\n'
                f'[asterisk.ami]\nhost = "{host}"\nport = {port}\nusername = "flowengine"\nsecret = "secret"\n'
                f'[control]\nenabled = true\ndaemon_id = "bench"\n[[control.tokens]]\ntoken = "{TOKEN}"\n'
                f'[store]\nsqlite = "control.sqlite"\n'
                f'[[routes]]\npath = "none"\nflow = "idle.flow.json"\n')
        config = parse_config(text, str(base / "flowengine.toml"), base_dir=str(base))
        listener = AsteriskListener(config, tts=tts)
        daemon = Daemon(config, listeners=[listener])
        ControlService(daemon).install()
        await daemon.start()
        await listener.ami.wait_ready(5)
        url = f"http://{daemon.http_address[0]}:{daemon.http_address[1]}"
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits,
                                     timeout=30) as client:
            await load(client, 50, concurrency, "GET", "/healthz")  # warm up
            floor, _, _ = await load(client, requests, concurrency, "GET", "/healthz")
            body = {"to": "+15551230001", "from": "+15559870000", "flow": "otp", "variables": {"otp": "1987"}}
            latencies, elapsed, statuses = await load(client, requests, concurrency, "POST", "/v1/calls", json=body)
        deadline = time.perf_counter() + 30
        while len(fake.originated) < statuses.get(201, 0) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await daemon.stop(drain_timeout=30)
        await fake.close()
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"POST /v1/calls: {requests} requests, {concurrency} concurrent: {requests / elapsed:.0f} req/s, "
          f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, statuses {statuses}, "
          f"{len(fake.originated)} calls answered by the fake switch")
    print(f"GET /healthz (floor): p50 {percentile(floor, 0.5) * 1000:.1f} ms, p99 {percentile(floor, 0.99) * 1000:.1f} ms"
          f"  -> POST/floor p50 ratio {p50 / percentile(floor, 0.5):.1f}x")


class _Handle:
    def __init__(self, number: int):
        self.call_id = f"call-{number}"
        self.done = asyncio.get_running_loop().create_future()
        self.done.set_result("completed")


class _InstantSwitch:
    """A CallManager stand-in whose calls complete at once."""

    def __init__(self) -> None:
        self.placed = 0

    async def place(self, ref, spec, *, source: str) -> _Handle:
        self.placed += 1
        return _Handle(self.placed)


async def pacer_accuracy(minutes: int, paces: list[float]) -> None:
    for pace in paces:
        with tempfile.TemporaryDirectory() as directory:
            store = Store.open(StoreConfig(sqlite=str(Path(directory) / "control.sqlite")))
            start = 1_800_000_000.0
            clock = ManualClock(start, loops=1)
            pacer = CampaignPacer(store, _InstantSwitch(), lambda flow, url: None, clock, owner="bench",
                                  poll_interval=5.0)
            contacts = [f"+1555{i:07d}" for i in range(int(pace * minutes) + 50)]
            body = CampaignRequest(name="bench", contacts=contacts, calls_per_minute=pace,
                                   variables={"message": "x"})
            campaign = await pacer.create(body, "cmp")
            task = asyncio.get_running_loop().create_task(pacer.run())
            wall = time.perf_counter()
            for _ in range(minutes * 60 * 4):
                await clock.advance(0.25)
            wall = time.perf_counter() - wall
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await pacer.close()
            await store.close()
        starts = [t - start for c, t in pacer.started if c == campaign["id"] and t - start < minutes * 60]
        per_minute = [sum(1 for t in starts if m * 60 <= t < (m + 1) * 60) for m in range(minutes)]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        worst = max(abs(n - pace) for n in per_minute)
        print(f"pace {pace:g}/min over {minutes} min: {len(starts) / minutes:.2f} calls/min on average "
              f"(ratio {len(starts) / minutes / pace:.4f}), per minute {min(per_minute)}..{max(per_minute)} "
              f"(worst {worst:.0f} off), gap {statistics.mean(gaps):.3f} s for {60 / pace:.3f} s "
              f"(min {min(gaps):.3f}, max {max(gaps):.3f}); {wall:.1f} s of real time")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    await api_throughput(args.requests, args.concurrency)
    await pacer_accuracy(args.minutes, [7, 60, 240])


if __name__ == "__main__":
    asyncio.run(main())
