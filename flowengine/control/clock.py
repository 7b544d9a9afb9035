"""Wall-clock time for the control plane: scheduled callbacks and campaign pacing.

Calls run on the runtime's clocks; the control plane needs the date (a callback at 09:30 in
Asia/Kolkata, a campaign window) and sleeps until the next piece of work. Both come from a WallClock
so tests and the benchmark drive time by hand instead of waiting for it:

    clock = ManualClock(start=1_800_000_000.0)
    await clock.advance(60)      # every sleeper due in the next minute wakes at its own time

Rule kept here: nothing in flowengine/control reads the system clock or sleeps except through these.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Protocol

from ..runtime.clock import RealClock

__all__ = ["WallClock", "SystemClock", "ManualClock", "sleep_or_wake"]


class WallClock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real date and real sleeps (through the runtime's RealClock)."""

    def __init__(self) -> None:
        self._clock = RealClock()

    def time(self) -> float:
        return self._clock.wall().timestamp()

    async def sleep(self, seconds: float) -> None:
        await self._clock.sleep(max(0.0, seconds))


class ManualClock:
    """Time that moves only when `advance` is awaited. Sleepers wake in deadline order, each at its own
    time, and `advance` lets the woken tasks run until they sleep again (or `settle` real seconds pass),
    so a loop that sleeps between steps is driven step by step, exactly."""

    def __init__(self, start: float = 1_800_000_000.0, settle: float = 5.0, loops: int = 0):
        self._now = start
        self.settle = settle
        self.loops = loops
        """Tasks that always come back to sleep on this clock (the service's runners): `advance` first waits
        for all of them, so work a request woke up is done before time moves."""
        self._heap: list[tuple[float, int, asyncio.Future]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def time(self) -> float:
        return self._now

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._heap if not f.done())

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self._now + max(0.0, seconds), next(self._order), future))
        self._changed.set()
        try:
            await future
        finally:
            self._changed.set()

    async def advance(self, seconds: float) -> None:
        await self._quiet(self.loops)
        target = self._now + seconds
        while True:
            while self._heap and self._heap[0][2].done():
                heapq.heappop(self._heap)
            if not self._heap or self._heap[0][0] > target:
                break
            due = self._heap[0][0]
            self._now = max(self._now, due)
            before = self.sleepers
            while self._heap and self._heap[0][0] <= due:
                _, _, future = heapq.heappop(self._heap)
                if not future.done():
                    future.set_result(None)
            await self._quiet(before)
        self._now = max(self._now, target)

    async def _quiet(self, sleepers: int) -> None:
        """Wait (real time, bounded) until as many tasks sleep as before the wake-up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle
        while self.sleepers < sleepers and loop.time() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                return


async def sleep_or_wake(clock: WallClock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep on `clock` until `seconds` pass or `wake` is set (then cleared): how the control loops
    wait for their next piece of work, or for a request that brought new work."""
    if not wake.is_set():
        sleeper = asyncio.ensure_future(clock.sleep(seconds))
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)
    wake.clear()
